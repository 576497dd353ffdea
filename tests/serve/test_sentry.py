import json

import pytest

from erroracle.platform.prepare import RecordPreparer
from erroracle.serve.problems import ApiError
from erroracle.serve.sentry import event_to_record, parse_envelope, sentry_key

CHAINED = {
    "event_id": "9f" * 16, "platform": "python", "level": "error", "release": "r1",
    "environment": "prod", "server_name": "web-1", "timestamp": 1_700_000_000.5,
    "tags": {"region": "eu"},
    "exception": {"values": [
        {"type": "KeyError", "value": "'id'", "stacktrace": {"frames": [
            {"filename": "app/db.py", "function": "row", "lineno": 9, "in_app": True}]}},
        {"type": "LookupFailed", "value": "user 42 not found", "stacktrace": {"frames": [
            {"filename": "app/main.py", "function": "main", "lineno": 1, "module": "app.main"},
            {"filename": "app/users.py", "function": "load", "lineno": 5, "in_app": True}]}},
    ]},
}


def _envelope(*items: tuple[dict, bytes], with_length: bool = True) -> bytes:
    lines = [json.dumps({"event_id": "x", "sent_at": "2026-01-01T00:00:00Z"}).encode()]
    for header, payload in items:
        if with_length:
            header = {**header, "length": len(payload)}
        lines += [json.dumps(header).encode(), payload]
    return b"\n".join(lines) + b"\n"


def test_the_key_comes_from_the_header_or_the_query():
    header = "Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key=abc"
    assert sentry_key(header, {}) == "abc"
    assert sentry_key(None, {"sentry_key": "q"}) == "q"
    assert sentry_key("Sentry sentry_version=7", {}) is None


@pytest.mark.parametrize("with_length", [True, False])
def test_envelopes_yield_their_events_and_count_other_items(with_length):
    event = json.dumps(CHAINED).encode()
    body = _envelope(({"type": "event"}, event), ({"type": "session"}, b'{"sid": "1"}'),
                     ({"type": "client_report"}, b"{}"), with_length=with_length)
    parsed = parse_envelope(body)
    assert parsed.events == [CHAINED] and parsed.ignored == 2


def test_an_attachment_with_newlines_is_skipped_by_its_length():
    payload = b"line one\nline two\n"
    body = _envelope(({"type": "attachment"}, payload), ({"type": "event"}, b'{"message": "m"}'))
    assert parse_envelope(body).events == [{"message": "m"}]


@pytest.mark.parametrize("body", [b"not json\n", b"{}\n[1]\n", b'{}\n{"type": "event", '
                                  b'"length": 999}\n{}\n'])
def test_broken_envelopes_are_refused(body):
    with pytest.raises(ApiError) as refused:
        parse_envelope(body)
    assert refused.value.status == 400


def test_a_chained_python_event_becomes_a_record_of_the_raised_exception():
    record = RecordPreparer()(event_to_record(CHAINED, "42"))
    assert record.id == record.source_id == "9f" * 16
    assert (record.error_type, record.message) == ("LookupFailed", "user 42 not found")
    assert [frame.function for frame in record.frames] == ["main", "load"]
    assert record.stack_trace.startswith("Traceback (most recent call last):")
    assert "direct cause" in record.stack_trace and "KeyError: 'id'" in record.stack_trace
    assert (record.release, record.environment, record.host, record.level) == (
        "r1", "prod", "web-1", "error")
    assert record.tags == ["region:eu"] and record.occurred_at.year == 2023
    assert record.service == "sentry-project-42" and record.fingerprint


def test_a_message_event_keeps_its_formatted_text():
    event = {"logentry": {"message": "disk %s full", "formatted": "disk sda full"},
             "level": "warning", "tags": [["a", "b"]]}
    record = event_to_record(event, "1")
    assert record["message"] == "disk sda full" and record["tags"] == ["a:b"]
    assert "id" not in record  # the lake assigns one
