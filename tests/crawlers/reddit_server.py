"""A local Reddit: the OAuth token endpoint (www) and the listing and comment endpoints (oauth),
in Reddit's wire format (``Listing`` / ``t3`` / ``t1`` things), with ``x-ratelimit-*`` headers."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from tests.crawlers.servers import Faults

TOKEN = "local-access-token"


def post(pid: str, created: int, *, title: str, selftext_html: str = "", author: str = "asker",
         subreddit: str = "learnpython", flair: str | None = None) -> dict[str, Any]:
    return {"id": pid, "name": f"t3_{pid}", "title": title, "selftext": title,
            "selftext_html": selftext_html, "author": author, "subreddit": subreddit,
            "subreddit_name_prefixed": f"r/{subreddit}", "created_utc": float(created),
            "edited": False, "score": 5, "num_comments": 2, "link_flair_text": flair,
            "permalink": f"/r/{subreddit}/comments/{pid}/slug/", "is_self": True,
            "url": f"https://www.reddit.com/r/{subreddit}/comments/{pid}/slug/"}


def comment(cid: str, pid: str, *, author: str, body: str, score: int, code: bool = False,
            replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    html = f"<div class=\"md\"><p>{body}</p>{'<pre><code>fix()</code></pre>' if code else ''}</div>"
    return {"id": cid, "name": f"t1_{cid}", "author": author, "body": body, "body_html": html,
            "score": score, "edited": False, "parent_id": f"t3_{pid}", "link_id": f"t3_{pid}",
            "subreddit": "learnpython", "created_utc": 1.7e9, "depth": 0,
            "permalink": f"/r/learnpython/comments/{pid}/slug/{cid}/",
            "replies": _listing([{"kind": "t1", "data": r} for r in replies or []]) if replies
            else ""}


def _number(value: Any) -> float:
    return value if isinstance(value, float) else 0.0


def _listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": after, "before": None, "dist": len(children),
                                       "children": children}}


class Reddit:
    """Posts (newest first) per subreddit and comments per post; ``search`` returns the posts
    whose title names an error. ``ratelimit`` sets the headers of every oauth answer."""

    def __init__(self, posts: list[dict[str, Any]], comments: dict[str, list[dict[str, Any]]],
                 client_id: str = "id", secret: str = "secret") -> None:
        self.posts, self.comments = posts, comments
        self.credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self.ratelimit = {"x-ratelimit-remaining": "590.0", "x-ratelimit-used": "10",
                          "x-ratelimit-reset": "300"}
        self.faults = Faults("token", "new", "search", "comments")
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_post("/api/v1/access_token", self._token)
        self.app.router.add_get("/r/{sub}/{feed:new|search}", self._feed)
        self.app.router.add_get("/comments/{pid}/", self._comments)
        self.app.router.add_get("/comments/{pid}", self._comments)

    async def _token(self, request: web.Request) -> web.Response:
        self.calls.append(("token", {}))
        fault = self.faults.next("token")
        if fault is not None:
            return fault
        if request.headers.get("Authorization") != f"Basic {self.credentials}":
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        return web.json_response({"access_token": TOKEN, "token_type": "bearer",
                                  "expires_in": 86400, "scope": "*"})

    def _answer(self, endpoint: str, request: web.Request, payload: Any) -> web.Response:
        self.calls.append((endpoint, dict(request.query)))
        fault = self.faults.next(endpoint)
        if fault is not None:
            return fault
        if request.headers.get("Authorization") != f"bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401,
                                     headers=self.ratelimit)
        return web.json_response(payload, headers=self.ratelimit)

    async def _feed(self, request: web.Request) -> web.Response:
        feed, sub = request.match_info["feed"], request.match_info["sub"]
        chosen = sorted((p for p in self.posts if p["subreddit"] == sub),
                        key=lambda p: -_number(p.get("created_utc")))
        if feed == "search":
            chosen = [p for p in chosen if "Error" in str(p.get("title"))]
        after = request.query.get("after")
        if after:
            names = [p["name"] for p in chosen]
            chosen = chosen[names.index(after) + 1:] if after in names else []
        size = int(request.query.get("limit", 25))
        window = chosen[:size]
        more = len(chosen) > size
        return self._answer(feed, request, _listing(
            [{"kind": "t3", "data": p} for p in window], window[-1]["name"] if more else None))

    async def _comments(self, request: web.Request) -> web.Response:
        pid = request.match_info["pid"]
        found = [p for p in self.posts if p["id"] == pid]
        return self._answer("comments", request, [
            _listing([{"kind": "t3", "data": p} for p in found]),
            _listing([{"kind": "t1", "data": c} for c in self.comments.get(pid, [])])])
