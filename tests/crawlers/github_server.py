"""A local GitHub REST API: a repository's issues (``since``, ``sort=updated``, ``labels``,
``per_page``/``page`` with ``Link`` headers), their comments and events, ``x-ratelimit-*`` headers
and token checks, in GitHub's wire format."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.crawlers.servers import Faults

TOKEN = "ghp_localtesttoken"


def issue(number: int, updated: str, *, title: str, body: str = "", state: str = "closed",
          labels: tuple[str, ...] = ("bug",), comments: int = 0,
          closed_at: str | None = "2024-03-01T12:00:00Z", pull: bool = False) -> dict[str, Any]:
    found = {"number": number, "title": title, "body": body, "state": state,
             "html_url": f"https://github.com/octo/app/issues/{number}",
             "url": f"https://api.github.com/repos/octo/app/issues/{number}",
             "user": {"login": "reporter", "html_url": "https://github.com/reporter"},
             "labels": [{"name": name} for name in labels], "comments": comments,
             "created_at": "2024-02-01T08:00:00Z", "updated_at": updated,
             "closed_at": closed_at if state == "closed" else None}
    if pull:
        found["pull_request"] = {"url": f"https://api.github.com/repos/octo/app/pulls/{number}"}
    return found


def remark(body: str, *, login: str, association: str, at: str) -> dict[str, Any]:
    return {"body": body, "author_association": association, "created_at": at,
            "user": {"login": login, "html_url": f"https://github.com/{login}"}}


class GitHub:
    """Issues of ``octo/app``; ``remaining`` counts down the rate limit in the headers."""

    def __init__(self, issues: list[dict[str, Any]], comments: dict[int, list[dict[str, Any]]],
                 events: dict[int, list[dict[str, Any]]] | None = None) -> None:
        self.issues, self.comments, self.events = issues, comments, events or {}
        self.remaining = 5000
        self.faults = Faults("issues", "comments", "events")
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/repos/octo/app/issues", self._issues)
        self.app.router.add_get("/repos/octo/app/issues/{number}/comments", self._comments)
        self.app.router.add_get("/repos/octo/app/issues/{number}/events", self._events)

    def _answer(self, endpoint: str, request: web.Request, chosen: list[Any]) -> web.Response:
        self.calls.append((endpoint, dict(request.query)))
        fault = self.faults.next(endpoint)
        if fault is not None:
            return fault
        if request.headers.get("Authorization") not in (f"token {TOKEN}", f"Bearer {TOKEN}"):
            return web.json_response({"message": "Bad credentials"}, status=401)
        self.remaining = max(0, self.remaining - 1)
        headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(self.remaining),
                   "x-ratelimit-reset": str(int(time.time()) + 2),
                   "x-ratelimit-used": str(5000 - self.remaining)}
        size, page = int(request.query.get("per_page", 30)), int(request.query.get("page", 1))
        if len(chosen) > page * size:
            query = {**request.query, "page": str(page + 1)}
            link = str(request.url.with_query(query))
            headers["Link"] = f'<{link}>; rel="next"'
        return web.json_response(chosen[(page - 1) * size: page * size], headers=headers)

    async def _issues(self, request: web.Request) -> web.Response:
        query = request.query
        labels = set(filter(None, query.get("labels", "").split(",")))
        chosen = sorted((i for i in self.issues if i["updated_at"] >= query.get("since", "")
                         and labels <= {label["name"] for label in i["labels"]}),
                        key=lambda i: i["updated_at"])
        return self._answer("issues", request, chosen)

    async def _comments(self, request: web.Request) -> web.Response:
        return self._answer("comments", request,
                            self.comments.get(int(request.match_info["number"]), []))

    async def _events(self, request: web.Request) -> web.Response:
        return self._answer("events", request,
                            self.events.get(int(request.match_info["number"]), []))
