"""Contract: recorded Stack Exchange API bodies (../shared/data/crawler_fixtures/stackexchange),
replayed by a local server, become records without errors; the recorded error body ends the
source with its own message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.crawlers.servers import ServerThread, crawl_once


def recorded(shared_data: Path, name: str) -> dict[str, Any]:
    path = shared_data / "crawler_fixtures" / "stackexchange" / f"stackongo__{name}.json"
    if not path.is_file():
        pytest.skip(f"recorded body {path} is absent")
    return json.loads(path.read_text())["response"]


def replay(search: dict[str, Any], answers: dict[str, Any], status: int = 200) -> web.Application:
    async def first_page_only(request: web.Request) -> web.Response:
        if int(request.query.get("page", 1)) > 1:
            return web.json_response({"items": [], "has_more": False, "quota_remaining": 1})
        return web.json_response(search, status=status)

    async def answered(request: web.Request) -> web.Response:
        return web.json_response(answers)

    app = web.Application()
    app.router.add_get("/2.3/search/advanced", first_page_only)
    app.router.add_get("/2.3/questions/{ids}/answers", answered)
    return app


def crawl_replay(app: web.Application, root: Path) -> Any:
    with ServerThread(app) as server:
        environ = {"ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL": f"{server.url}/2.3",
                   "ERRORACLE_SOURCES__STACKOVERFLOW__TAGS": '["python"]'}
        return crawl_once(root, "stackoverflow", environ)


def test_recorded_questions_become_attributed_records(shared_data: Path, tmp_path: Path) -> None:
    questions = recorded(shared_data, "dummyQuestionsResponse")
    answers = recorded(shared_data, "dummyAnswersResponse")
    summary, rows = crawl_replay(replay(questions, answers), tmp_path)
    assert (summary.errors, summary.skipped) == ([], 0)
    assert summary.new == len(questions["items"]) == len(rows)
    by_id = {row["source_id"]: row for row in rows}
    for item in questions["items"]:
        row = by_id[str(item["question_id"])]
        assert row["title"] == item["title"] and row["url"] == item["link"]
        assert row["author"] == item["owner"]["display_name"]
        assert row["license"].startswith("CC BY-SA") and row["fingerprint"]


def test_the_recorded_error_body_ends_the_source_with_its_message(shared_data: Path,
                                                                  tmp_path: Path) -> None:
    error = recorded(shared_data, "dummyErrorResponse")
    summary, rows = crawl_replay(replay(error, {"items": []}, status=404), tmp_path)
    assert rows == [] and summary.errors == [f"stackoverflow: HTTP 404: {error['error_message']}"]


def test_sample_questions_with_traces_carry_their_type(shared_data: Path, tmp_path: Path) -> None:
    """The real Stack Overflow questions of ../shared/data/stackoverflow_sample that paste a
    trace, served in the API's wrapper and crawled: each is stored with the error its trace
    ends in (the first of separate Python tracebacks, the head of a Java trace)."""
    import csv

    csv.field_size_limit(1 << 30)
    path = shared_data / "stackoverflow_sample" / "questions.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = {row["Id"]: row for row in csv.DictReader(handle)}
    expected = {"106630": "UnicodeDecodeError", "101880": "java.net.BindException"}
    items = [{"question_id": int(qid), "title": rows[qid]["Title"], "body": rows[qid]["Body"],
              "link": f"https://stackoverflow.com/q/{qid}", "tags": ["python"],
              "owner": {"display_name": rows[qid]["OwnerUserId"]},
              "creation_date": 1222000000, "last_activity_date": 1222000000, "score": 1}
             for qid in expected]
    answers = {"items": [{"question_id": item["question_id"], "body": "<p>An answer</p>",
                          "score": 1, "is_accepted": True, "owner": {"display_name": "a"}}
                         for item in items], "has_more": False, "quota_remaining": 100}
    search = {"items": items, "has_more": False, "quota_remaining": 100}
    summary, rows_stored = crawl_replay(replay(search, answers), tmp_path)
    assert summary.errors == []
    assert {row["source_id"]: row["error_type"] for row in rows_stored} == expected
