"""Contract: PyGithub's recorded GitHub traffic (../shared/data/crawler_fixtures/github), replayed
by a local server, becomes records without errors, and the recorded refusals, rate limits and
server errors are treated the way GitHub means them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from erroracle.crawlers import CrawlSummary
from tests.crawlers.replay import Exchange, Replay, moved, replay_data
from tests.crawlers.servers import ServerThread, crawl_once

ISSUES = "/repos/PyGithub/PyGithub/issues"


def crawl_replay(exchanges: list[Exchange], root: Path
                 ) -> tuple[CrawlSummary, dict[str, dict[str, Any]], Replay]:
    replay = Replay(exchanges)
    with ServerThread(replay.app) as server:
        environ = {"ERRORACLE_SOURCES__GITHUB__BASE_URL": server.url,
                   "ERRORACLE_SOURCES__GITHUB__REPOS": '["PyGithub/PyGithub"]',
                   "ERRORACLE_SOURCES__MAX_WAIT_SECONDS": "30"}
        summary, rows = crawl_once(root, "github", environ)
    return summary, {row["source_id"]: row for row in rows}, replay


def test_recorded_issues_become_records(shared_data: Path, tmp_path: Path) -> None:
    [listing] = replay_data(shared_data, "Repository.testGetIssues")
    recorded = json.loads(listing.body)
    summary, rows, _ = crawl_replay([listing], tmp_path)
    # 2012's API gave every issue an empty pull_request object: none of these is a pull request.
    assert (summary.new, summary.skipped, summary.errors) == (len(recorded), 0, [])
    for issue in recorded:
        row = rows[f"PyGithub/PyGithub#{issue['number']}"]
        assert (row["url"], row["title"]) == (issue["html_url"], issue["title"])
        assert row["author"] == issue["user"]["login"] and row["solution"] is None  # open


def test_a_recorded_closed_issue_gets_its_closing_comment(shared_data: Path,
                                                          tmp_path: Path) -> None:
    _, closed = replay_data(shared_data, "Issue.setUp")
    [comments] = replay_data(shared_data, "Issue.testGetCommentsSince")
    [events] = replay_data(shared_data, "Issue.testGetEvents")
    issue = json.loads(closed.body)
    summary, rows, replay = crawl_replay([moved(closed, ISSUES, [issue]), comments, events],
                                         tmp_path)
    assert (summary.new, summary.errors) == (1, [])
    row = rows[f"PyGithub/PyGithub#{issue['number']}"]
    # These comments predate author_association: the last one before closing by someone other
    # than the reporter is taken.
    last_other = [c for c in json.loads(comments.body)
                  if c["user"]["login"] != issue["user"]["login"]][-1]
    assert row["solution"].strip() == last_other["body"].strip()
    assert row["author"] == last_other["user"]["login"]
    assert ("GET", f"{ISSUES}/{issue['number']}/comments", 200) in replay.served


def test_a_recorded_500_is_retried(shared_data: Path, tmp_path: Path) -> None:
    failed, _ = replay_data(shared_data, "Retry.testReturnsRepoAfter1Retry")
    [listing] = replay_data(shared_data, "Repository.testGetIssues")
    summary, rows, replay = crawl_replay([moved(failed, ISSUES), listing], tmp_path)
    assert summary.errors == [] and rows and [s for _, _, s in replay.served][:2] == [500, 200]


@pytest.mark.parametrize(("recording", "index", "expected"), [
    ("Exceptions.testBadAuthentication", 0, "github: HTTP 401: Bad credentials"),
    ("SpecificExceptions.testAuthenticatedRateLimitExceeded", 1,
     "github: rate limited; asked to wait 60 s"),
    ("Exceptions.testUnknownObject", 1, "github: HTTP 404: repository or issue not found"),
    ("Exceptions.testNonJsonDataReturnedByGithub", 0, "github: HTTP 503 after retries"),
])
def test_recorded_refusals_end_the_source_in_one_line(shared_data: Path, tmp_path: Path,
                                                      recording: str, index: int,
                                                      expected: str) -> None:
    refusal = replay_data(shared_data, recording)[index]
    summary, rows, _ = crawl_replay([moved(refusal, ISSUES)], tmp_path)
    assert rows == {} and summary.errors[0].startswith(expected)


@pytest.mark.parametrize(("name", "error_type"), [
    ("Search.testUrlquotingOfQuery", "HTTPError"),
    ("Repository.testGetIssuesEvents", "github.Requester.UnknownGithubObject"),
])
def test_recorded_issues_with_tracebacks_carry_their_type(shared_data: Path, tmp_path: Path,
                                                          name: str, error_type: str) -> None:
    """Real issues whose bodies hold a pasted traceback, crawled like any issue."""
    issues = []
    for exchange in replay_data(shared_data, name):
        if b"Traceback (most recent call last)" not in exchange.body:
            continue
        data = json.loads(exchange.body)
        items = data.get("items", [data]) if isinstance(data, dict) else data
        # open, so that the crawl asks for no comments the recording does not hold
        issues += [{**item.get("issue", item), "state": "open"} for item in items
                   if "Traceback (most" in ((item.get("issue") or item).get("body") or "")]
    assert issues
    listing = replay_data(shared_data, "Repository.testGetIssues")[0]
    summary, rows, _ = crawl_replay([moved(listing, ISSUES, issues)], tmp_path)
    assert summary.errors == []
    assert {rows[f"PyGithub/PyGithub#{i['number']}"]["error_type"] for i in issues} == {error_type}
