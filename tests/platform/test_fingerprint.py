from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from erroracle.platform.fingerprint import fingerprint, fingerprint_parts, template

FRAMES = [
    {"module": "flask.app", "function": "dispatch", "line": 880, "in_app": False},
    {"module": "app.views", "function": "handler", "line": 31, "in_app": True},
]


def test_variables_are_masked():
    cases = {
        "Connection to 10.0.0.7:5432 timed out after 30s": "Connection to <IP> timed out after <*>",
        "GET https://api.example.com/v1/users?id=7 failed": "GET <URL> failed",
        "user bob@example.com locked": "user <EMAIL> locked",
        "job 123e4567-e89b-12d3-a456-426614174000 died": "job <UUID> died",
        "at 2024-05-01T10:00:00.123Z the disk filled": "at <TS> the disk filled",
        "open /var/lib/app/data.db: no such file": "open <PATH>: no such file",
        "KeyError: 'user_42'": "KeyError: <STR>",
        "segfault at 0x7ffd5e8a": "segfault at <HEX>",
        "worker-17 exited with code 137": "<*> exited with code <*>",
        "heap 512 MB of 2 GB used": "heap <*> of <*> used",
        "resolve db.internal failed": "resolve <HOST> failed",
    }
    for message, expected in cases.items():
        assert template(message) == expected, message


def test_same_error_same_fingerprint_across_hosts_and_numbers():
    a = fingerprint(
        {
            "error_type": "TimeoutError",
            "message": "read from 10.0.0.1:80 took 31s",
            "frames": FRAMES,
        }
    )
    b = fingerprint(
        {
            "error_type": "TimeoutError",
            "message": "read from 10.9.8.7:443 took 5s",
            "frames": [dict(f, line=f["line"] + 100) for f in FRAMES],
        }
    )
    assert a == b


def test_type_and_in_app_frames_separate_groups():
    base = {"error_type": "KeyError", "message": "'x'", "frames": FRAMES}
    assert fingerprint(base) != fingerprint({**base, "error_type": "IndexError"})
    other = [FRAMES[0], {**FRAMES[1], "function": "other_handler"}]
    assert fingerprint(base) != fingerprint({**base, "frames": other})
    library_moved = [{**FRAMES[0], "function": "full_dispatch"}, FRAMES[1]]
    assert fingerprint(base) == fingerprint({**base, "frames": library_moved})


def test_questions_without_message_or_title_are_grouped_by_their_body():
    """A question crawled without a title (or a message) is grouped by the head of its body, not
    with every other such question."""
    first = {"source": "stackoverflow", "body": "Celery cannot reach redis on port 6379 ..."}
    second = {"source": "stackoverflow", "body": "Webpack 5 cannot resolve 'fs' in a browser ..."}
    assert fingerprint(first) != fingerprint(second)
    assert fingerprint({**first, "title": "Celery and redis"}) != fingerprint(first)


def test_records_and_mappings_agree():
    from erroracle.platform.records import parse_record

    data = {"error_type": "KeyError", "message": "'x'", "frames": FRAMES}
    assert fingerprint(parse_record(data)) == fingerprint(data)


SCRIPT = (
    "import sys, json; from erroracle.platform.fingerprint import fingerprint_parts;"
    "print(json.dumps([fingerprint_parts(m, t)[0] for m, t in json.load(sys.stdin)]))"
)


def test_fingerprint_is_the_same_in_another_process_with_another_hash_seed():
    import json

    cases = [
        ("Connection refused to 10.0.0.1", "ConnectionError"),
        ("'k'", "KeyError"),
        ("disk full on /dev/sda1", None),
    ]
    here = [fingerprint_parts(m, t)[0] for m, t in cases]
    for seed in ("0", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin"},
        )
        assert json.loads(out.stdout) == here


error_types = st.sampled_from(
    ["KeyError", "ValueError", "TimeoutError", "ECONNREFUSED", "java.io.IOException", "OOMKilled"]
)
messages = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=120)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(messages, error_types), min_size=1, max_size=30), st.randoms())
def test_fingerprint_does_not_depend_on_arrival_order(records, rng):
    first = {(m, t): fingerprint_parts(m, t)[0] for m, t in records}
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert {(m, t): fingerprint_parts(m, t)[0] for m, t in reversed(shuffled)} == first


@settings(max_examples=200, deadline=None)
@given(messages, error_types, error_types)
def test_masking_never_merges_two_error_types(message, type_a, type_b):
    same = fingerprint_parts(message, type_a)[0] == fingerprint_parts(message, type_b)[0]
    assert same == (type_a == type_b)


@settings(max_examples=200, deadline=None)
@given(messages)
def test_template_is_pure_and_total(message):
    assert template(message) == template(message)
    assert len(template(message)) <= 2000
