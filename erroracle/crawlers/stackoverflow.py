"""Stack Overflow through the Stack Exchange API v2.3: questions about errors with an accepted
answer, on the configured tags, newest activity first, from the last cursor.

It obeys the API's rules: at most 30 requests a second, no call to a method while its ``backoff``
lasts, a stop when ``quota_remaining`` reaches 0, the app key from the environment when set
(``sources.stackoverflow.key_env``), gzip (aiohttp asks for it). Text is CC BY-SA: every record
keeps the author and the link of the answer it quotes.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from erroracle.crawlers._http import SourceHttp
from erroracle.crawlers.base import Item, Page, take
from erroracle.crawlers.html_text import html_to_text, question_error
from erroracle.errors import RateLimited, SourceError

__all__ = ["StackOverflowCrawler", "license_for", "throttle_violation"]

_SEARCH = "search/advanced"
_ANSWERS = "questions/answers"
PAGE_SIZE = 50
MAX_RATE = 30.0


def license_for(created: datetime) -> str:
    """Stack Exchange's licence for a post created at ``created``."""
    if created >= datetime(2018, 5, 2, tzinfo=timezone.utc):
        return "CC BY-SA 4.0"
    if created >= datetime(2011, 4, 8, tzinfo=timezone.utc):
        return "CC BY-SA 3.0"
    return "CC BY-SA 2.5"


_AVAILABLE_IN = re.compile(r"available in (\d+) seconds")


def throttle_violation(status: int, data: Any) -> float | None:
    """Stack Exchange's ``throttle_violation`` (error 502 in a 400): the seconds it names, else
    a minute."""
    if status != 400 or not isinstance(data, dict) or data.get("error_id") != 502:
        return None
    found = _AVAILABLE_IN.search(str(data.get("error_message") or ""))
    return float(found.group(1)) if found else 60.0


def _when(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(seconds, timezone.utc) if isinstance(seconds, int) else None


class StackOverflowCrawler:
    """Pages of items from one Stack Exchange site.

    Args:
        config: ``sources.stackoverflow`` (base_url, site, tags, key_env).
        http: the paced HTTP client for ``config.base_url``.
        environ: where the app key is looked up.
        page_size: questions a page (the API allows 100).
    """

    name = "stackoverflow"

    def __init__(self, config: Any, http: SourceHttp, environ: dict[str, str] | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        self.config = config
        self.http = http
        self.page_size = page_size
        self.key = (environ if environ is not None else os.environ).get(config.key_env)

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def waited(self) -> float:
        return self.http.waited

    async def pages(self, cursor: dict[str, Any], limit: int | None) -> AsyncIterator[Page]:
        """Per tag: from the saved page of an unfinished pass, else from page 1 of activity newer
        than the last finished pass."""
        cursor = {tag: dict(cursor.get(tag) or {}) for tag in self.config.tags}
        taken = 0
        for tag in self.config.tags:
            state = cursor[tag]
            while limit is None or taken < limit:
                data = await self._call(_SEARCH, self._search_params(tag, state))
                questions, malformed = _questions(data)
                # A page cut short by the limit is fetched again next time (the page size never
                # changes, so pages line up); its stored items then count as unchanged.
                questions, cut = take(questions, limit, taken)
                best = await self._best_answers([q["question_id"] for q in questions])
                items = [self._item(q, best.get(q["question_id"])) for q in questions]
                taken += len(items)
                newest = max((q.get("last_activity_date", 0) for q in questions), default=0)
                state["high"] = max(state.get("high", 0), newest)
                finished = not cut and not (data.get("has_more") and questions)
                if finished:
                    state.update(since=state.get("high", 0), page=1)
                elif not cut:
                    state["page"] = state.get("page", 1) + 1
                yield Page(items, {t: dict(s) for t, s in cursor.items()}, malformed)
                if finished:
                    break

    def _search_params(self, tag: str, state: dict[str, Any]) -> dict[str, Any]:
        params = {"site": self.config.site, "tagged": tag, "accepted": "True",
                  "sort": "activity", "order": "desc", "filter": "withbody",
                  "page": state.get("page", 1), "pagesize": self.page_size}
        if state.get("since"):
            params["min"] = state["since"]
        return params

    async def _call(self, method: str, params: dict[str, Any], path: str | None = None
                    ) -> dict[str, Any]:
        if self.key:
            params = {**params, "key": self.key}
        answer = await self.http.get(path or method, params, method=method)
        data = answer.data
        if not isinstance(data, dict):
            raise SourceError(f"{self.name}: expected the API's wrapper object")
        if isinstance(data.get("backoff"), int | float):
            self.http.block(method, float(data["backoff"]))
        if data.get("quota_remaining") == 0:
            now = datetime.now(timezone.utc)
            midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            raise RateLimited(f"{self.name}: daily quota used up", (midnight - now).seconds)
        return data

    async def _best_answers(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The accepted answer of each question, else its highest-scored one."""
        if not ids:
            return {}
        params = {"site": self.config.site, "sort": "votes", "order": "desc",
                  "filter": "withbody", "pagesize": 100}
        path = f"questions/{';'.join(str(i) for i in ids)}/answers"
        data = await self._call(_ANSWERS, params, path)
        best: dict[int, dict[str, Any]] = {}
        for answer in data.get("items") or []:
            if not isinstance(answer, dict) or not isinstance(answer.get("question_id"), int):
                continue
            held = best.get(answer["question_id"])
            if held is None or (answer.get("is_accepted") and not held.get("is_accepted")) or (
                    held.get("is_accepted") == answer.get("is_accepted")
                    and answer.get("score", 0) > held.get("score", 0)):
                best[answer["question_id"]] = answer
        return best

    def _item(self, question: dict[str, Any], answer: dict[str, Any] | None) -> Item:
        title = html.unescape(question.get("title") or "")
        body = question.get("body") or ""
        error = question_error(title, body)
        created = _when(question.get("creation_date")) or datetime.now(timezone.utc)
        credit = (answer or question).get("owner") or {}
        record = {
            "source_id": str(question["question_id"]),
            "url": question.get("link"),
            "occurred_at": created,
            "error_type": error.error_type,
            "message": error.message,
            "stack_trace": error.stack_trace,
            "title": title,
            "body": html_to_text(body),
            "solution": html_to_text(answer.get("body") or "") if answer else None,
            "tags": [str(tag) for tag in question.get("tags") or []],
            "score": (answer or question).get("score"),
            "author": html.unescape(credit.get("display_name") or "") or None,
            "author_url": credit.get("link"),
            "license": license_for(created),
        }
        stamp = f"{question.get('last_activity_date', 0)}-{(answer or {}).get('answer_id', 0)}"
        return Item(str(question["question_id"]), stamp, record)


def _questions(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError("stackoverflow: the answer has no list of items")
    good = [q for q in items if isinstance(q, dict) and isinstance(q.get("question_id"), int)
            and isinstance(q.get("title"), str)]
    return good, len(items) - len(good)
