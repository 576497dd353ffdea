"""The Stack Overflow crawler against a local server speaking the Stack Exchange API's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from erroracle.crawlers import CrawlSummary
from erroracle.platform.lake import ParquetErrorStore
from tests.crawlers.servers import (
    ServerThread,
    StackExchange,
    answer,
    crawl_once,
    error_body,
    question,
)

TRACE = """<p>My script fails:</p><pre><code>Traceback (most recent call last):
  File "/home/ann/app.py", line 3, in &lt;module&gt;
    main()
  File "/home/ann/app.py", line 2, in main
    data["user"]
KeyError: 'user'
</code></pre><p>Why? See <a href="http://127.0.0.1:9/elsewhere">this</a>.</p>"""


def questions() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    asked = [question(1, 1000, title="KeyError: 'user' when reading a dict", body=TRACE,
                      tags=["python"])]
    for qid in range(2, 8):
        asked.append(question(qid, 1000 - qid, title=f"Why do I get an error #{qid}",
                              body=f"<p>It says</p><pre><code>TypeError: bad operand {qid}"
                                   "</code></pre>", tags=["python"]))
    given = [answer(1, 10, accepted=True, score=2,
                    body="<p>Use <code>.get</code>:</p><pre><code>data.get('user')</code></pre>"),
             answer(1, 11, accepted=False, score=50, body="<p>Louder but not accepted</p>")]
    given += [answer(qid, qid * 10, accepted=False, score=qid, body=f"<p>Fix {qid}</p>")
              for qid in range(2, 8)]
    return asked, given


@pytest.fixture
def site() -> Any:
    asked, given = questions()
    api = StackExchange(asked, given)
    with ServerThread(api.app) as server:
        api.url = server.url
        yield api


def run(site: StackExchange, root: Path, **kwargs: Any) -> CrawlSummary:
    environ = {"ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL": f"{site.url}/2.3",
               "ERRORACLE_SOURCES__STACKOVERFLOW__TAGS": '["python"]',
               "ERRORACLE_SOURCES__STACKOVERFLOW__PAGE_SIZE": "3"}
    return crawl_once(root, "stackoverflow", environ, **kwargs)[0]


def lake(root: Path) -> list[dict[str, Any]]:
    with ParquetErrorStore(str(root), background=False) as store:
        return store.read_table(sources=["stackoverflow"]).to_pylist()


def test_a_crawl_pages_through_and_stores_attributed_solutions(site: StackExchange,
                                                              tmp_path: Path) -> None:
    summary = run(site, tmp_path)
    assert (summary.new, summary.errors) == (7, [])
    assert summary.requests == 6  # 3 pages of questions, each with one call for its answers
    pages = [int(query["page"]) for kind, query in site.calls if kind == "search"]
    assert pages == [1, 2, 3]
    assert all(query["filter"] == "withbody" and query["accepted"] == "True"
               for kind, query in site.calls if kind == "search")
    records = {r["source_id"]: r for r in lake(tmp_path)}
    first = records["1"]
    assert (first["error_type"], first["message"]) == ("KeyError", "'user'")
    assert first["frames"][-1]["function"] == "main"
    assert "```\ndata.get('user')\n```" in first["solution"]  # the accepted answer, code kept
    assert (first["author"], first["author_url"]) == (
        "helper10", "https://stackoverflow.com/users/10/helper")
    assert first["license"] == "CC BY-SA 4.0" and first["url"].endswith("/questions/1/q")
    assert first["tags"] == ["python"] and first["fingerprint"]
    assert records["5"]["error_type"] == "TypeError" and records["5"]["solution"] == "Fix 5"


def test_a_second_crawl_adds_nothing_and_an_edit_updates_in_place(site: StackExchange,
                                                                 tmp_path: Path) -> None:
    run(site, tmp_path)
    again = run(site, tmp_path)
    assert (again.new, again.updated) == (0, 0)
    site.questions[2]["last_activity_date"] = 5000
    site.questions[2]["title"] = "Edited: TypeError: bad operand 3"
    edited = run(site, tmp_path)
    assert (edited.new, edited.updated) == (0, 1)
    rows = [r for r in lake(tmp_path) if r["source_id"] == "3"]
    assert len(rows) == 1 and rows[0]["title"].startswith("Edited")
    assert len(lake(tmp_path)) == 7


def test_backoff_holds_the_next_call_of_that_method(site: StackExchange, tmp_path: Path) -> None:
    site.extra["search"] = {"backoff": 1}
    summary = run(site, tmp_path)
    assert summary.new == 7 and summary.waited_seconds >= 0.9


def test_429_waits_for_retry_after_and_5xx_is_retried(site: StackExchange,
                                                      tmp_path: Path) -> None:
    site.faults.add("search", 429, {"Retry-After": "1"}, b"{}")
    site.faults.add("answers", 503, {}, b"upstream down")
    summary = run(site, tmp_path)
    assert (summary.new, summary.errors) == (7, []) and summary.waited_seconds >= 0.9


def test_a_throttle_violation_is_waited_out(site: StackExchange, tmp_path: Path) -> None:
    site.faults.add("search", 400, {}, error_body(
        502, "throttle_violation", "too many requests from this IP, more requests available "
        "in 1 seconds"))
    summary = run(site, tmp_path)
    assert (summary.new, summary.errors) == (7, []) and summary.waited_seconds >= 0.9


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_refusals_end_the_source_with_one_clear_line(site: StackExchange, tmp_path: Path,
                                                     status: int) -> None:
    site.faults.add("search", status, {}, error_body(status, "no_method", "not allowed"))
    summary = run(site, tmp_path)
    assert summary.new == 0 and summary.requests == 1  # 4xx is not retried
    assert summary.errors == [f"stackoverflow: HTTP {status}: not allowed"]


def test_malformed_json_and_items_are_counted(site: StackExchange, tmp_path: Path) -> None:
    site.faults.add("search", 200, {}, b"{not json")
    broken = run(site, tmp_path)
    assert broken.errors == ["stackoverflow: the answer is not valid JSON"]
    site.questions.append({"question_id": "not-a-number", "title": 5,
                           "last_activity_date": 9999, "tags": ["python"]})
    summary = run(site, tmp_path)
    assert (summary.new, summary.skipped, summary.errors) == (7, 1, [])


def test_quota_used_up_stops_the_source(site: StackExchange, tmp_path: Path) -> None:
    site.extra["search"] = {"quota_remaining": 0}
    summary = run(site, tmp_path)
    assert summary.errors == ["stackoverflow: daily quota used up"]


def test_an_interrupted_crawl_resumes_where_it_stopped_without_duplicates(
        site: StackExchange, tmp_path: Path) -> None:
    # The second page keeps failing: the crawl stops after storing page one and its cursor.
    site.faults.add("answers", 200, {}, json.dumps({"items": []}).encode())
    site.faults.add("search", 200, {}, json.dumps({
        "items": site.questions[:3], "has_more": True, "quota_remaining": 9}).encode())
    for _ in range(4):
        site.faults.add("search", 502, {}, b"")
    stopped = run(site, tmp_path)
    assert stopped.new == 3 and "HTTP 502" in stopped.errors[0]
    site.calls.clear()
    resumed = run(site, tmp_path)
    assert [int(q["page"]) for k, q in site.calls if k == "search"][0] == 2
    assert (resumed.new, resumed.errors) == (4, [])
    ids = [r["source_id"] for r in lake(tmp_path)]
    assert sorted(ids) == [str(i) for i in range(1, 8)]


def test_a_limit_stops_early_and_the_next_crawl_carries_on(site: StackExchange,
                                                           tmp_path: Path) -> None:
    assert run(site, tmp_path, limit=2).new == 2
    rest = run(site, tmp_path)
    assert (rest.new, rest.unchanged) == (5, 2)
    assert len(lake(tmp_path)) == 7
