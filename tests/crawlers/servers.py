"""Local aiohttp servers on 127.0.0.1 that speak the sources' real wire formats."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import web

from erroracle.crawlers import CrawlSummary, crawl
from erroracle.platform.config import load_config
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer


def crawl_once(root: Path, source: str, environ: dict[str, str],
               **kwargs: Any) -> tuple[CrawlSummary, list[dict[str, Any]]]:
    """One crawl of ``source`` into the lake at ``root`` with the config overrides ``environ``;
    its summary and the source's records in the lake afterwards."""
    config = load_config(None, data_root=str(root), environ=environ)
    with ParquetErrorStore(config.data_root, background=False) as store:
        [summary] = asyncio.run(crawl(config, store, RecordPreparer(), sources=[source],
                                      **kwargs))
        rows = store.read_table(sources=[source]).to_pylist()
    return summary, rows


class ServerThread:
    """Runs an aiohttp app on 127.0.0.1 in a thread of its own; ``url`` is its root."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self._app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Faults:
    """Canned answers queued per endpoint: each a status, headers and body for its next call
    (status 0: let that call through)."""

    def __init__(self, *endpoints: str) -> None:
        self.queued: dict[str, deque[tuple[int, dict[str, str], bytes]]] = {
            name: deque() for name in endpoints}

    def add(self, endpoint: str, status: int, headers: dict[str, str] | None = None,
            body: bytes = b"{}") -> None:
        self.queued[endpoint].append((status, headers or {}, body))

    def next(self, endpoint: str) -> web.Response | None:
        if not self.queued[endpoint]:
            return None
        status, headers, body = self.queued[endpoint].popleft()
        if status == 0:
            return None
        return web.Response(status=status, headers=headers, body=body,
                            content_type="application/json")


def question(qid: int, activity: int, *, title: str, body: str, tags: list[str],
             score: int = 3) -> dict[str, Any]:
    return {"question_id": qid, "title": title, "body": body, "tags": tags, "score": score,
            "creation_date": 1_700_000_000 + qid, "last_activity_date": activity,
            "is_answered": True, "answer_count": 2, "accepted_answer_id": qid * 10,
            "link": f"https://stackoverflow.com/questions/{qid}/q",
            "owner": {"user_id": qid, "display_name": f"asker{qid}",
                      "link": f"https://stackoverflow.com/users/{qid}/asker"}}


def answer(qid: int, aid: int, *, accepted: bool, score: int, body: str) -> dict[str, Any]:
    return {"question_id": qid, "answer_id": aid, "is_accepted": accepted, "score": score,
            "body": body, "owner": {"user_id": aid, "display_name": f"helper{aid}",
                                    "link": f"https://stackoverflow.com/users/{aid}/helper"}}


class StackExchange:
    """``/2.3/search/advanced`` and ``/2.3/questions/{ids}/answers`` over a fixed set of questions,
    newest activity first, paginated, with faults that tests queue up (``faults``: each a status,
    headers and body for the next call of a method)."""

    def __init__(self, questions: list[dict[str, Any]], answers: list[dict[str, Any]]) -> None:
        self.questions = questions
        self.answers = answers
        self.faults = Faults("search", "answers")
        self.extra: dict[str, dict[str, Any]] = {"search": {}, "answers": {}}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/2.3/search/advanced", self._search)
        self.app.router.add_get("/2.3/questions/{ids}/answers", self._answers)

    def _wrap(self, method: str, items: list[dict[str, Any]], has_more: bool) -> web.Response:
        payload = {"items": items, "has_more": has_more, "quota_max": 10000,
                   "quota_remaining": 9000, **self.extra[method]}
        self.extra[method] = {}
        return web.json_response(payload)

    async def _search(self, request: web.Request) -> web.Response:
        self.calls.append(("search", dict(request.query)))
        fault = self.faults.next("search")
        if fault is not None:
            return fault
        query = request.query
        tag = query["tagged"]
        since = int(query.get("min", 0))
        chosen = sorted((q for q in self.questions
                         if tag in q["tags"] and q["last_activity_date"] >= since),
                        key=lambda q: -q["last_activity_date"])
        page, size = int(query.get("page", 1)), int(query.get("pagesize", 30))
        window = chosen[(page - 1) * size: page * size]
        return self._wrap("search", window, page * size < len(chosen))

    async def _answers(self, request: web.Request) -> web.Response:
        self.calls.append(("answers", dict(request.query)))
        fault = self.faults.next("answers")
        if fault is not None:
            return fault
        ids = {int(i) for i in request.match_info["ids"].split(";")}
        chosen = sorted((a for a in self.answers if a["question_id"] in ids),
                        key=lambda a: -a["score"])
        return self._wrap("answers", chosen, False)


def error_body(error_id: int, name: str, message: str) -> bytes:
    return json.dumps({"error_id": error_id, "error_name": name,
                       "error_message": message}).encode()
