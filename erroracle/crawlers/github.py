"""GitHub issues through PyGithub: the configured repositories' issues with the configured labels,
open or closed, oldest update first from the cursor, and for a closed one the comment that closed
the matter (a maintainer's last comment before closing, else the commit that closed it).

Calls go through PyGithub's requester (its auth, base URL, error types and host checks) as plain
JSON: its lazy objects would fetch a whole issue again for any field the list left out. PyGithub is
blocking, so every call runs in a worker thread. Its own retries are off: this module
waits out the primary limit (``x-ratelimit-remaining: 0`` until ``x-ratelimit-reset``) and the
secondary one (``Retry-After``, else a minute), retries 5xx and network errors with backoff, and
reports any other 4xx at once. Pull requests, which the issues API also lists, are skipped.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import github
import requests
from github import Auth, Github, GithubException, RateLimitExceededException

from erroracle.client._transport import parse_retry_after
from erroracle.crawlers._http import RateWait
from erroracle.crawlers.base import Item, Page, take
from erroracle.crawlers.html_text import error_in_blocks, markdown_code_blocks
from erroracle.errors import RateLimited, SourceAuthError, SourceError, SourceUnavailable

__all__ = ["GithubCrawler", "closing_comment"]

LICENSE = "GitHub Terms of Service (attribute the author and link the issue)"
MAINTAINERS = {"OWNER", "MEMBER", "COLLABORATOR"}
_RETRIES = 3
_SECONDARY_WAIT = 60.0
_CLOSE_SLACK = timedelta(minutes=1)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def closing_comment(comments: list[dict[str, Any]], closed_at: str | None,
                    reporter: str | None = None) -> dict[str, Any] | None:
    """A maintainer's last comment made before the issue was closed (None when open or none).

    Servers too old to send ``author_association`` (GitHub before 2017, old Enterprise) get the
    last comment before closing by anyone but the reporter instead.
    """
    closed = _when(closed_at)
    if closed is None:
        return None
    knows_roles = any("author_association" in c for c in comments)
    before = [c for c in comments if isinstance(c.get("body"), str) and c["body"].strip()
              and (_when(c.get("created_at")) or closed) <= closed + _CLOSE_SLACK
              and (c.get("author_association") in MAINTAINERS if knows_roles
                   else (c.get("user") or {}).get("login") != reporter)]
    return max(before, key=lambda c: _when(c.get("created_at")) or closed, default=None)


class GithubCrawler:
    """Pages of items from the configured repositories.

    Args:
        config: ``sources.github`` (base_url, repos, labels, token_env, page_size).
        environ: where the token is looked up; without one GitHub allows 60 calls an hour.
        max_wait: the longest rate-limit wait accepted; beyond it the source stops for this crawl.
    """

    name = "github"

    def __init__(self, config: Any, environ: dict[str, str] | None = None,
                 max_wait: float = 900.0) -> None:
        environ = environ if environ is not None else os.environ
        token = environ.get(config.token_env)
        self.config = config
        self._wait = RateWait(self.name, max_wait)
        self._github = Github(auth=Auth.Token(token) if token else None,
                              base_url=config.base_url.rstrip("/"), per_page=config.page_size,
                              retry=None, timeout=30, seconds_between_requests=None,
                              user_agent="erroracle-crawler/0.1")
        self.requests = 0

    @property
    def waited(self) -> float:
        return self._wait.waited

    async def pages(self, cursor: dict[str, Any], limit: int | None) -> AsyncIterator[Page]:
        """Per repository: issues updated since the cursor, oldest first. After a full page the
        next request starts at the last update seen (items seen twice count as unchanged)."""
        cursor = {repo: dict(cursor.get(repo) or {}) for repo in self.config.repos}
        taken = 0
        for repo in self.config.repos:
            state = cursor[repo]
            while limit is None or taken < limit:
                since = state.get("since") or "1970-01-01T00:00:00Z"
                params = {"state": "all", "sort": "updated", "direction": "asc", "since": since,
                          "per_page": self.config.page_size, "page": state.get("page", 1)}
                if self.config.labels:
                    params["labels"] = ",".join(self.config.labels)
                headers, data = await self._call(f"/repos/{repo}/issues", params)
                issues, malformed = _issues(data)
                more = 'rel="next"' in headers.get("link", "")
                chosen, cut = take(issues, limit, taken)
                items = [await self._item(repo, issue) for issue in chosen
                         if not _is_pull_request(issue)]
                taken += len(chosen)
                last = max((issue["updated_at"] for issue in issues), default=since)
                if not cut:
                    page = 1 if last != since or not more else state.get("page", 1) + 1
                    state.update(since=last, page=page)
                yield Page(items, {k: dict(v) for k, v in cursor.items()}, malformed)
                if not more and not cut:
                    break

    async def _item(self, repo: str, issue: dict[str, Any]) -> Item:
        solution, credit = None, issue.get("user") or {}
        if issue.get("state") == "closed":
            path = f"/repos/{repo}/issues/{issue['number']}"
            comments = await self._all(f"{path}/comments") if issue.get("comments") else []
            chosen = closing_comment(comments, issue.get("closed_at"), credit.get("login"))
            if chosen is not None:
                solution, credit = chosen["body"], chosen.get("user") or {}
            else:
                solution = _closing_commit(await self._all(f"{path}/events"))
        body = issue.get("body") or ""
        error = error_in_blocks(issue["title"], markdown_code_blocks(body), body)
        source_id = f"{repo}#{issue['number']}"
        record = {
            "source_id": source_id,
            "url": issue.get("html_url"),
            "occurred_at": _when(issue.get("created_at")),
            "error_type": error.error_type,
            "message": error.message,
            "stack_trace": error.stack_trace,
            "title": issue["title"],
            "body": body,
            "solution": solution,
            "tags": [repo] + [label["name"] for label in issue.get("labels") or []
                              if isinstance(label, dict) and label.get("name")],
            "score": None,
            "author": credit.get("login"),
            "author_url": credit.get("html_url"),
            "license": LICENSE,
        }
        return Item(source_id, issue["updated_at"], record)

    async def _all(self, path: str) -> list[dict[str, Any]]:
        """Every page of a list (comments, events)."""
        found, page = [], 1
        while True:
            headers, data = await self._call(path, {"per_page": 100, "page": page})
            if not isinstance(data, list):
                raise SourceError(f"github: {path}: the answer is not a list")
            found += [entry for entry in data if isinstance(entry, dict)]
            if 'rel="next"' not in headers.get("link", ""):
                return found
            page += 1

    async def _call(self, path: str, params: dict[str, Any]) -> tuple[dict[str, str], Any]:
        """GET ``path`` in a worker thread; rate limits waited out, 5xx retried, the rest ours."""
        requester = self._github.requester
        for attempt in range(_RETRIES + 1):
            self.requests += 1
            try:
                headers, data = await asyncio.to_thread(
                    requester.requestJsonAndCheck, "GET", path, parameters=params)
            except GithubException as exc:
                wait = _rate_limit_wait(exc)
                if wait is None and exc.status < 500:
                    raise _translate(exc) from None
                if attempt == _RETRIES:
                    raise (RateLimited(f"github: still rate limited after {_RETRIES} waits", 60)
                           if wait is not None else
                           SourceUnavailable(f"github: HTTP {exc.status} after retries")) from None
                await self._wait(wait if wait is not None else _backoff(attempt),
                                 "rate limited" if wait is not None else f"HTTP {exc.status}")
                continue
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt == _RETRIES:
                    raise SourceUnavailable(f"github: {type(exc).__name__}: {exc}") from None
                await asyncio.sleep(_backoff(attempt))
                continue
            except ValueError:
                raise SourceError(f"github: {path}: the answer is not valid JSON") from None
            headers = {k.lower(): str(v) for k, v in headers.items()}
            if headers.get("x-ratelimit-remaining") == "0":
                reset = float(headers.get("x-ratelimit-reset") or time.time())
                await self._wait(max(0.0, reset - time.time()) + 1, "primary rate limit used up")
            return headers, data
        raise AssertionError("unreachable")

def _closing_commit(events: list[dict[str, Any]]) -> str | None:
    """"Fixed by <commit>" when a commit closed the issue."""
    for event in events:
        if event.get("event") == "closed" and isinstance(event.get("commit_id"), str):
            url = event.get("commit_url") or event["commit_id"]
            return f"Fixed by commit {event['commit_id'][:12]} ({url})"
    return None


def _is_pull_request(issue: dict[str, Any]) -> bool:
    """The issues API lists pull requests too; before 2013 it gave every issue an empty
    ``pull_request`` object, so only one with a link is a pull request."""
    pull = issue.get("pull_request")
    return isinstance(pull, dict) and any(pull.get(key) for key in ("url", "html_url"))


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _issues(data: Any) -> tuple[list[dict[str, Any]], int]:
    if not isinstance(data, list):
        raise SourceError("github: the answer is not a list of issues")
    good = [issue for issue in data if isinstance(issue, dict)
            and isinstance(issue.get("number"), int) and isinstance(issue.get("title"), str)
            and _when(issue.get("updated_at")) is not None]
    return good, len(data) - len(good)


def _rate_limit_wait(exc: GithubException) -> float | None:
    """Seconds to wait when ``exc`` is a primary or secondary rate limit, else None."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    limited = isinstance(exc, RateLimitExceededException) or exc.status == 429
    if headers.get("x-ratelimit-remaining") == "0" and exc.status in (403, 429):
        try:
            return max(0.0, float(headers.get("x-ratelimit-reset", "")) - time.time()) + 1
        except ValueError:
            return _SECONDARY_WAIT
    if limited or (exc.status == 403 and "retry-after" in headers):
        return (parse_retry_after(headers["retry-after"]) if "retry-after" in headers
                else _SECONDARY_WAIT)
    return None


def _backoff(attempt: int) -> float:
    return min(30.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1)


def _translate(exc: GithubException) -> SourceError:
    message = exc.message or (exc.data.get("message") if isinstance(exc.data, dict) else None)
    if isinstance(exc, github.BadCredentialsException) or exc.status in (401, 403):
        return SourceAuthError(f"github: HTTP {exc.status}: {message or 'refused'}")
    if exc.status == 404:
        return SourceError("github: HTTP 404: repository or issue not found (or the token "
                           "cannot see it)")
    return SourceError(f"github: HTTP {exc.status}: {message or 'refused'}")
