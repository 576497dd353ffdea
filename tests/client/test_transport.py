"""The HTTP transport against a real server on 127.0.0.1: what each answer means."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from erroracle.client._transport import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    HttpTransport,
    errors_url,
    parse_retry_after,
)
from tests.client.platform_server import Answer, PlatformServer

BODY = gzip.compress(json.dumps({"errors": [{"id": "e1", "message": "boom"}]}).encode())


def test_errors_url_adds_the_route_once() -> None:
    assert errors_url("http://h:8000") == "http://h:8000/api/v1/learning/errors"
    assert errors_url("https://h/base/") == "https://h/base/api/v1/learning/errors"
    assert errors_url("http://h/api/v1/learning/errors") == "http://h/api/v1/learning/errors"


@pytest.mark.parametrize("bad", ["", "ftp://h", "h:8000", "http://", 42])
def test_errors_url_refuses_what_is_not_an_http_url(bad: object) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        errors_url(bad)  # type: ignore[arg-type]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    now = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(42)
    past = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, now=now.timestamp()) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo 2026", "nan", "-"])
def test_retry_after_falls_back_to_a_sane_default(header: str | None) -> None:
    assert parse_retry_after(header) == DEFAULT_RETRY_AFTER


def test_retry_after_is_capped() -> None:
    assert parse_retry_after("99999999") == MAX_RETRY_AFTER
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize(("status", "kind"), [
    (202, "delivered"), (200, "delivered"), (413, "too_large"), (400, "rejected"),
    (401, "rejected"), (422, "rejected"), (500, "failed"), (503, "failed"),
])
def test_each_status_has_its_outcome(platform: PlatformServer, status: int, kind: str) -> None:
    platform.answer(Answer(status))
    transport = HttpTransport(platform.endpoint, "key-1")
    outcome = transport.send(BODY)
    transport.close()
    assert (outcome.kind, outcome.status) == (kind, status)
    assert platform.authorizations == ["Bearer key-1"]
    if status >= 400:
        assert "scripted" in outcome.detail


def test_429_carries_the_wait(platform: PlatformServer) -> None:
    platform.answer(Answer(429, {"Retry-After": "3"}), Answer(429))
    transport = HttpTransport(platform.endpoint, "k")
    first, second = transport.send(BODY), transport.send(BODY)
    assert (first.kind, first.retry_after) == ("rate_limited", 3.0)
    assert second.retry_after == DEFAULT_RETRY_AFTER


def test_connection_is_kept_alive_between_batches(platform: PlatformServer) -> None:
    transport = HttpTransport(platform.endpoint, "k")
    for _ in range(3):
        assert transport.send(BODY).kind == "delivered"
    assert transport._connection is not None
    assert len(platform.batches) == 3


def test_refused_is_a_failure_not_an_exception(refused_endpoint: str) -> None:
    outcome = HttpTransport(refused_endpoint, "k", connect_timeout=1).send(BODY)
    assert outcome.kind == "failed" and outcome.status is None
    assert "ConnectionRefused" in outcome.detail


def test_a_hanging_server_costs_the_read_timeout_only(platform: PlatformServer) -> None:
    platform.answer(Answer(202, delay=30))
    transport = HttpTransport(platform.endpoint, "k", read_timeout=0.3)
    started = time.monotonic()
    outcome = transport.send(BODY)
    assert outcome.kind == "failed"
    assert time.monotonic() - started < 3
