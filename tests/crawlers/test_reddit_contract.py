"""Contract: praw's recorded Reddit traffic (../shared/data/crawler_fixtures/reddit), replayed by a
local server, becomes records without errors, and the recorded refusals end the source the way
Reddit means them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from erroracle.crawlers import CrawlSummary, CursorStore
from tests.crawlers.replay import Exchange, Replay, cassette, moved
from tests.crawlers.servers import ServerThread, crawl_once


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDDIT_CLIENT_ID", "recorded-client")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "recorded-secret")


def crawl_replay(exchanges: list[Exchange], root: Path, subreddit: str,
                 **kwargs: Any) -> tuple[CrawlSummary, list[dict[str, Any]], Replay]:
    replay = Replay(exchanges)
    with ServerThread(replay.app) as server:
        environ = {"ERRORACLE_SOURCES__REDDIT__OAUTH_URL": server.url,
                   "ERRORACLE_SOURCES__REDDIT__REDDIT_URL": server.url,
                   "ERRORACLE_SOURCES__REDDIT__SUBREDDITS": json.dumps([subreddit])}
        summary, rows = crawl_once(root, "reddit", environ, **kwargs)
    return summary, rows, replay


def test_a_recorded_thread_becomes_an_attributed_record(shared_data: Path,
                                                        tmp_path: Path) -> None:
    token, _, thread = cassette(shared_data, "TestMore.test_comments")
    recorded = json.loads(thread.body)
    post = recorded[0]["data"]["children"][0]["data"]
    top_level = {c["data"]["author"] for c in recorded[1]["data"]["children"]
                 if c["kind"] == "t1"}
    # The recorded thread's own submission listing answers the search of its subreddit.
    search = moved(thread, f"/r/{post['subreddit']}/search", recorded[0])
    new = moved(thread, f"/r/{post['subreddit']}/new", {
        "kind": "Listing", "data": {"after": None, "children": []}})
    summary, rows, replay = crawl_replay([token, new, search, thread], tmp_path,
                                         post["subreddit"])
    assert (summary.new, summary.skipped, summary.errors) == (1, 0, [])
    [row] = rows
    assert row["source_id"] == post["id"] and row["title"] == post["title"]
    assert row["url"].endswith(post["permalink"]) and f"r/{post['subreddit']}" in row["tags"]
    assert row["author"] in top_level and row["author"] not in ("AutoModerator", "[deleted]")
    assert row["solution"] and row["author_url"].endswith(f"/user/{row['author']}")
    assert ("GET", f"/comments/{post['id']}/", 200) in replay.served


def test_a_recorded_listing_parses_and_its_cursor_is_kept(shared_data: Path,
                                                          tmp_path: Path) -> None:
    token, listing = cassette(shared_data, "TestSubredditListings.test_new")
    summary, rows, replay = crawl_replay([token, listing], tmp_path, "askreddit")
    posts = json.loads(listing.body)["data"]
    # 100 real posts, none about an error. The replay answers the next page with the recorded
    # one again: the crawler sees the listing did not move and ends the pass there. The search
    # was never recorded: the 404 ends the source in one line, with the pass saved.
    assert (summary.new, summary.skipped, rows) == (0, 0, [])
    [error] = summary.errors
    assert error.startswith("reddit: HTTP 404") and "/r/askreddit/search" in error
    state = CursorStore(str(tmp_path)).load("reddit")
    newest = max(child["data"]["created_utc"] for child in posts["children"])
    assert state["cursor"]["askreddit/new"] == {"since": newest, "high": newest, "after": None}
    assert replay.served[1] == ("GET", "/r/askreddit/new", 200)


@pytest.mark.parametrize(("recording", "expected"), [
    ("TestInbox.test_message__unauthorized", "reddit: credentials refused"),
    ("TestSubreddit.test_traffic__not_public", "reddit: HTTP 404"),
])
def test_recorded_refusals_end_the_source_in_one_line(shared_data: Path, tmp_path: Path,
                                                      recording: str, expected: str) -> None:
    token, refusal = cassette(shared_data, recording)
    summary, rows, _ = crawl_replay([token, moved(refusal, "/r/askreddit/new")], tmp_path,
                                    "askreddit")
    assert rows == [] and summary.errors[0].startswith(expected)
