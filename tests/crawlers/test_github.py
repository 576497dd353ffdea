"""The GitHub crawler (PyGithub) against a local server speaking GitHub's REST format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from erroracle.crawlers import CrawlSummary
from erroracle.platform.lake import ParquetErrorStore
from tests.crawlers.github_server import TOKEN, GitHub, issue, remark
from tests.crawlers.servers import ServerThread, crawl_once

TRACE = """Crashes on start:

```
Traceback (most recent call last):
  File "/srv/app/main.py", line 4, in <module>
    connect()
ConnectionRefusedError: [Errno 111] Connection refused
```
token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked here
"""


def tracker() -> GitHub:
    issues = [
        issue(1, "2024-03-01T12:00:00Z", title="Crash on start", body=TRACE, comments=3),
        issue(2, "2024-03-02T12:00:00Z", title="KeyError: 'id' in the parser"),
        issue(3, "2024-03-03T12:00:00Z", title="TimeoutError on upload", state="open"),
        issue(4, "2024-03-04T12:00:00Z", title="Fix the crash", pull=True),
        issue(5, "2024-03-05T12:00:00Z", title="How do I?", labels=("question",)),
        issue(6, "2024-03-06T12:00:00Z", title="ValueError: bad size", comments=1),
    ]
    comments = {
        1: [remark("Same here", login="someone", association="NONE",
                   at="2024-02-02T00:00:00Z"),
            remark("The server must be running first: `make db`", login="keeper",
                   association="MEMBER", at="2024-02-20T00:00:00Z"),
            remark("Closing, thanks", login="keeper", association="MEMBER",
                   at="2024-03-05T00:00:00Z")],
        6: [remark("Pass an int", login="owner", association="OWNER",
                   at="2024-02-03T00:00:00Z")],
    }
    events = {2: [{"event": "labeled", "commit_id": None},
                  {"event": "closed", "commit_id": "0123456789abcdef0123",
                   "commit_url": "https://api.github.com/repos/octo/app/commits/0123456789ab"}]}
    return GitHub(issues, comments, events)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api = tracker()
    with ServerThread(api.app) as server:
        api.url = server.url
        yield api


def run(api: GitHub, root: Path, **kwargs: Any) -> CrawlSummary:
    environ = {"ERRORACLE_SOURCES__GITHUB__BASE_URL": api.url,
               "ERRORACLE_SOURCES__GITHUB__REPOS": '["octo/app"]',
               "ERRORACLE_SOURCES__GITHUB__PAGE_SIZE": "2"}
    return crawl_once(root, "github", environ, **kwargs)[0]


def stored(root: Path) -> dict[str, dict[str, Any]]:
    with ParquetErrorStore(str(root), background=False) as store:
        return {r["source_id"]: r for r in store.read_table(sources=["github"]).to_pylist()}


def test_labelled_issues_become_records_with_the_closing_comment(hub: GitHub,
                                                                 tmp_path: Path) -> None:
    summary = run(hub, tmp_path)
    assert (summary.new, summary.errors) == (4, [])
    records = stored(tmp_path)
    assert set(records) == {"octo/app#1", "octo/app#2", "octo/app#3", "octo/app#6"}
    crash = records["octo/app#1"]
    assert crash["solution"] == "The server must be running first: `make db`"
    assert (crash["author"], crash["error_type"]) == ("keeper", "ConnectionRefusedError")
    assert crash["url"] == "https://github.com/octo/app/issues/1" and "bug" in crash["tags"]
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in crash["body"]
    assert records["octo/app#2"]["solution"].startswith("Fixed by commit 0123456789ab")
    assert records["octo/app#3"]["solution"] is None  # still open
    assert records["octo/app#6"]["author"] == "owner"
    issue_calls = [query for call, query in hub.calls if call == "issues"]
    assert all(q["labels"] == "bug" and q["sort"] == "updated" and q["direction"] == "asc"
               and q["state"] == "all" for q in issue_calls)


def test_a_second_crawl_starts_from_the_last_update(hub: GitHub, tmp_path: Path) -> None:
    run(hub, tmp_path)
    hub.calls.clear()
    hub.issues.append(issue(7, "2024-04-01T00:00:00Z", title="OSError: disk full",
                            state="open"))
    summary = run(hub, tmp_path)
    assert (summary.new, summary.errors) == (1, [])
    assert [q["since"] for c, q in hub.calls if c == "issues"] == ["2024-03-06T12:00:00Z"]


def test_a_used_up_primary_limit_is_waited_until_reset(hub: GitHub, tmp_path: Path) -> None:
    hub.remaining = 1
    summary = run(hub, tmp_path, limit=1)
    assert summary.errors == [] and summary.new == 1 and summary.waited_seconds >= 1


@pytest.mark.parametrize(("status", "headers", "message"), [
    (403, {"x-ratelimit-remaining": "0"}, "API rate limit exceeded for 127.0.0.1."),
    (403, {"Retry-After": "1"}, "You have exceeded a secondary rate limit."),
    (429, {"Retry-After": "1"}, "Too many requests"),
])
def test_rate_limit_refusals_are_waited_out(hub: GitHub, tmp_path: Path, status: int,
                                            headers: dict[str, str], message: str) -> None:
    if "x-ratelimit-remaining" in headers:
        headers["x-ratelimit-reset"] = str(int(time.time()) + 1)
    hub.faults.add("issues", status, headers, json.dumps({"message": message}).encode())
    summary = run(hub, tmp_path)
    assert (summary.new, summary.errors) == (4, []) and summary.waited_seconds >= 0.9


def test_5xx_is_retried_and_then_reported(hub: GitHub, tmp_path: Path) -> None:
    hub.faults.add("comments", 502, {}, b"<html>bad gateway</html>")
    assert run(hub, tmp_path).new == 4
    for _ in range(4):
        hub.faults.add("issues", 503, {}, b"")
    hub.issues.append(issue(8, "2024-05-01T00:00:00Z", title="IndexError", state="open"))
    down = run(hub, tmp_path)
    assert down.errors == ["github: HTTP 503 after retries"] and down.requests == 4


@pytest.mark.parametrize(("status", "body", "expected"), [
    (401, {"message": "Bad credentials"}, "github: HTTP 401: Bad credentials"),
    (403, {"message": "Resource not accessible by integration"},
     "github: HTTP 403: Resource not accessible by integration"),
    (404, {"message": "Not Found"}, "github: HTTP 404: repository or issue not found"),
    (422, {"message": "Validation Failed"}, "github: HTTP 422: Validation Failed"),
])
def test_other_refusals_are_not_retried(hub: GitHub, tmp_path: Path, status: int,
                                        body: dict[str, str], expected: str) -> None:
    hub.faults.add("issues", status, {}, json.dumps(body).encode())
    summary = run(hub, tmp_path)
    assert summary.requests == 1 and summary.errors[0].startswith(expected)


def test_malformed_json_and_items(hub: GitHub, tmp_path: Path) -> None:
    hub.faults.add("issues", 200, {}, b"[{not json")
    assert run(hub, tmp_path).errors == ["github: /repos/octo/app/issues: the answer is not "
                                         "valid JSON"]
    hub.issues.append({"title": "no number", "labels": [{"name": "bug"}],
                       "updated_at": "2024-03-07T00:00:00Z"})
    summary = run(hub, tmp_path)
    assert (summary.new, summary.skipped, summary.errors) == (4, 1, [])


def test_a_killed_crawl_resumes_without_duplicates(hub: GitHub, tmp_path: Path) -> None:
    hub.faults.add("issues", 0)  # the first page goes through, then the API keeps failing
    for _ in range(4):
        hub.faults.add("issues", 500, {}, b"")
    stopped = run(hub, tmp_path)
    assert stopped.new == 2 and "HTTP 500" in stopped.errors[0]
    hub.calls.clear()
    resumed = run(hub, tmp_path)
    assert (resumed.new, resumed.errors) == (2, [])
    assert [q["since"] for c, q in hub.calls if c == "issues"][0] == "2024-03-02T12:00:00Z"
    assert len(stored(tmp_path)) == 4
