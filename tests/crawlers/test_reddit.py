"""The Reddit crawler (praw) against a local server speaking Reddit's OAuth and listing format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from erroracle.crawlers import CrawlSummary
from erroracle.platform.lake import ParquetErrorStore
from tests.crawlers.reddit_server import Reddit, comment, post
from tests.crawlers.servers import ServerThread, crawl_once

TRACE_HTML = """<div class="md"><p>Help:</p><pre><code>Traceback (most recent call last):
  File "/home/bob/bot.py", line 9, in &lt;module&gt;
    import numpy
ModuleNotFoundError: No module named 'numpy'
</code></pre><p>mail me at bob@example.com</p></div>"""


def forum() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    posts = [post("p1", 1_700_000_900, title="ModuleNotFoundError when running my bot",
                  selftext_html=TRACE_HTML, author="bob", flair="Solved")]
    posts += [post(f"p{n}", 1_700_000_900 - n, title=f"TypeError number {n} in my loop")
              for n in range(2, 7)]
    posts.append(post("chat", 1_700_000_000, title="What editor do you use?"))
    comments = {
        "p1": [comment("c1", "p1", author="loud", body="Reinstall Python", score=40),
               comment("c2", "p1", author="helper", body="pip install numpy in the venv",
                       score=3, code=True,
                       replies=[comment("c3", "p1", author="bob", body="Thanks, that worked!",
                                        score=1)]),
               comment("c4", "p1", author="AutoModerator", body="Format your code", score=99),
               comment("c5", "p1", author="[deleted]", body="[removed]", score=50)],
        "chat": [comment("c9", "chat", author="x", body="vim", score=3)],
    }
    for n in range(2, 7):
        comments[f"p{n}"] = [comment(f"c{n}0", f"p{n}", author=f"h{n}", body=f"Cast it {n}",
                                     score=n)]
    comments["p6"] = []  # nobody answered: not an item
    return posts, comments


@pytest.fixture
def reddit(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret")
    api = Reddit(*forum())
    with ServerThread(api.app) as server:
        api.url = server.url
        yield api


def run(api: Reddit, root: Path, **kwargs: Any) -> CrawlSummary:
    environ = {"ERRORACLE_SOURCES__REDDIT__OAUTH_URL": api.url,
               "ERRORACLE_SOURCES__REDDIT__REDDIT_URL": api.url,
               "ERRORACLE_SOURCES__REDDIT__SUBREDDITS": '["learnpython"]',
               "ERRORACLE_SOURCES__REDDIT__PAGE_SIZE": "2"}
    return crawl_once(root, "reddit", environ, **kwargs)[0]


def stored(root: Path) -> list[dict[str, Any]]:
    with ParquetErrorStore(str(root), background=False) as store:
        return store.read_table(sources=["reddit"]).to_pylist()


def test_posts_about_errors_become_records_with_the_best_comment(reddit: Reddit,
                                                                 tmp_path: Path) -> None:
    summary = run(reddit, tmp_path)
    assert (summary.new, summary.unchanged, summary.errors) == (5, 0, [])
    records = {r["source_id"]: r for r in stored(tmp_path)}
    assert set(records) == {"p1", "p2", "p3", "p4", "p5"}  # p6 has no answer
    first = records["p1"]
    # The asker thanked c2 (which also has code): it wins over a louder answer, a bot and a
    # removed comment.
    assert first["solution"].startswith("pip install numpy") and "fix()" in first["solution"]
    assert (first["author"], first["error_type"]) == ("helper", "ModuleNotFoundError")
    assert first["url"] == f"{reddit.url}/r/learnpython/comments/p1/slug/"
    assert "r/learnpython" in first["tags"] and "Solved" in first["tags"]
    assert "bob@example.com" not in first["body"] and first["fingerprint"]
    assert "chat" not in records  # not about an error


def test_a_second_crawl_fetches_only_newer_posts(reddit: Reddit, tmp_path: Path) -> None:
    run(reddit, tmp_path)
    reddit.calls.clear()
    reddit.posts.append(post("p7", 1_700_001_000, title="KeyError in my dict"))
    reddit.comments["p7"] = [comment("c70", "p7", author="k", body="Use .get", score=2)]
    summary = run(reddit, tmp_path)
    assert (summary.new, summary.errors) == (1, [])
    assert [c for c, _ in reddit.calls].count("comments") == 1


def test_exhausted_rate_limit_is_waited_out(reddit: Reddit, tmp_path: Path) -> None:
    reddit.ratelimit = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "600",
                        "x-ratelimit-reset": "1"}
    summary = run(reddit, tmp_path, limit=2)
    assert summary.errors == [] and summary.new == 2
    assert summary.waited_seconds >= 1.5  # praw slept before each call after the first


def test_429_waits_for_retry_after(reddit: Reddit, tmp_path: Path) -> None:
    reddit.faults.add("new", 429, {"Retry-After": "1"}, b'{"message": "Too Many Requests"}')
    summary = run(reddit, tmp_path)
    assert (summary.new, summary.errors) == (5, []) and summary.waited_seconds >= 0.9


@pytest.mark.parametrize(("endpoint", "status", "expected"), [
    ("token", 401, "reddit: credentials refused"),
    ("new", 403, "reddit: credentials refused"),
    ("new", 404, "reddit: HTTP 404"),
])
def test_refusals_end_the_source_with_one_clear_line(reddit: Reddit, tmp_path: Path,
                                                     endpoint: str, status: int,
                                                     expected: str) -> None:
    reddit.faults.add(endpoint, status, {}, json.dumps({"message": "no", "error": status}).encode())
    summary = run(reddit, tmp_path)
    assert summary.new == 0 and summary.errors[0].startswith(expected)


def test_missing_credentials_are_one_line(reddit: Reddit, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDDIT_CLIENT_SECRET")
    summary = run(reddit, tmp_path)
    assert summary.errors == ["reddit: no credentials: set REDDIT_CLIENT_ID and "
                              "REDDIT_CLIENT_SECRET"]
    assert reddit.calls == []


def test_malformed_json_is_an_error_and_malformed_posts_are_skipped(reddit: Reddit,
                                                                   tmp_path: Path) -> None:
    reddit.faults.add("new", 200, {}, b"{not json")
    broken = run(reddit, tmp_path)
    assert broken.errors == ["reddit: the answer is not valid JSON"]
    reddit.posts.append({"id": "bad", "name": "t3_bad", "subreddit": "learnpython",
                         "created_utc": "yesterday", "title": "Error without a date"})
    summary = run(reddit, tmp_path)
    assert summary.errors == [] and summary.new == 5 and summary.skipped >= 1


def test_a_killed_crawl_resumes_without_duplicates(reddit: Reddit, tmp_path: Path) -> None:
    # The first page of new posts and its two posts' comments go through; then comments fail.
    for status in (0, 0) + (500,) * 4:
        reddit.faults.add("comments", status)
    stopped = run(reddit, tmp_path)
    assert stopped.new == 2 and "HTTP 500" in stopped.errors[0]
    reddit.calls.clear()
    resumed = run(reddit, tmp_path)
    assert (resumed.new, resumed.errors) == (3, [])
    listed = [query for call, query in reddit.calls if call == "new"]
    assert listed[0].get("after") == "t3_p2"  # resumed after the stored page
    ids = [r["source_id"] for r in stored(tmp_path)]
    assert sorted(ids) == ["p1", "p2", "p3", "p4", "p5"]
