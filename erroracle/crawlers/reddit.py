"""Reddit through praw: posts about errors in the configured subreddits (a search for errors and
the newest posts), each with its best top-level comment as the solution.

praw is blocking, so every call runs in a worker thread and the event loop stays free. praw obeys
Reddit's ``x-ratelimit-*`` headers itself (it sleeps before the next call); the time it slept is
counted as waited. A 429 is waited out here (``Retry-After``), 5xx are retried by praw and then
reported. Only the hosts of ``oauth_url`` and ``reddit_url`` are ever contacted.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

import praw
import prawcore
import requests

from erroracle.client._transport import parse_retry_after
from erroracle.crawlers._http import RateWait
from erroracle.crawlers.base import Item, Page, take
from erroracle.crawlers.html_text import code_blocks, error_in_blocks, html_to_text
from erroracle.errors import RateLimited, SourceAuthError, SourceError, SourceUnavailable

__all__ = ["RedditCrawler", "best_comment"]

LICENSE = "Reddit User Agreement (attribute the author and link the post)"
_FEEDS = ("new", "search")
_RETRIES_429 = 3
_SLEEP_NOISE = 0.2  # seconds of a praw call off the wire that are parsing, not sleeping
_ERROR_WORDS = re.compile(r"\b\w*(?:error|exception|traceback|errno|fail(?:ed|s|ure)?|crash"
                          r"(?:ed|es)?|segfault|panic)\w*\b", re.I)
_THANKS = re.compile(r"\b(?:thanks?|thank you|solved|fixed|work(?:s|ed)|that did it)\b", re.I)
_GONE = {"[deleted]", "[removed]"}
_BOTS = {"AutoModerator"}
T = TypeVar("T")


class _GuardedSession(requests.Session):
    """praw's HTTP session: refuses any host but Reddit's configured ones, counts calls and the
    time spent on the wire (the rest of a praw call is its rate-limit sleeps)."""

    def __init__(self, hosts: set[str]) -> None:
        super().__init__()
        self.hosts = hosts
        self.requests = 0
        self.wire_seconds = 0.0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if urlsplit(url).netloc not in self.hosts:
            raise SourceError(f"reddit: refusing to call {url}: not a configured host")
        self.requests += 1
        started = time.monotonic()
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            self.wire_seconds += time.monotonic() - started


def _text(thing: Any, name: str) -> str:
    value = getattr(thing, name, None)
    return value if isinstance(value, str) else ""


def _confirmed_by(comment: Any, asker: str | None) -> bool:
    """The asker answered the comment with thanks, "solved" or "that worked"."""
    replies = getattr(comment, "replies", None) or []
    return bool(asker) and any(
        getattr(getattr(reply, "author", None), "name", None) == asker
        and _THANKS.search(_text(reply, "body")) for reply in replies
        if not isinstance(reply, praw.models.MoreComments))


def best_comment(comments: list[Any], asker: str | None) -> Any | None:
    """The top-level comment most likely to be the fix: confirmed by the asker first, then one
    with code, then the highest score. Deleted, removed and bot comments never count."""
    candidates = [c for c in comments if not isinstance(c, praw.models.MoreComments)
                  and getattr(c, "author", None) is not None
                  and c.author.name not in _BOTS and _text(c, "body").strip() not in _GONE
                  and _text(c, "body").strip()]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (_confirmed_by(c, asker),
                                          "<code>" in _text(c, "body_html"),
                                          getattr(c, "score", 0) or 0))


class RedditCrawler:
    """Pages of items from the configured subreddits.

    Args:
        config: ``sources.reddit`` (oauth_url, reddit_url, subreddits, credentials' variable
            names, user_agent, query, page_size).
        environ: where the credentials are looked up.
        max_wait: the longest ``Retry-After`` accepted; beyond it the source stops for this crawl.
    """

    name = "reddit"

    def __init__(self, config: Any, environ: dict[str, str] | None = None,
                 max_wait: float = 900.0) -> None:
        environ = environ if environ is not None else os.environ
        client_id, secret = environ.get(config.client_id_env), environ.get(config.client_secret_env)
        if not client_id or not secret:
            raise SourceAuthError(f"reddit: no credentials: set {config.client_id_env} and "
                                  f"{config.client_secret_env}")
        self.config = config
        self._wait = RateWait(self.name, max_wait)
        self._done: set[str] = set()  # posts handled in this crawl (both feeds list them)
        self._http = _GuardedSession({urlsplit(config.oauth_url).netloc,
                                      urlsplit(config.reddit_url).netloc})
        self._reddit = praw.Reddit(
            client_id=client_id, client_secret=secret, user_agent=config.user_agent,
            oauth_url=config.oauth_url.rstrip("/"), reddit_url=config.reddit_url.rstrip("/"),
            check_for_updates=False, check_for_async=False, timeout=30,
            requestor_kwargs={"session": self._http})

    @property
    def requests(self) -> int:
        return self._http.requests

    @property
    def waited(self) -> float:
        return self._wait.waited

    async def pages(self, cursor: dict[str, Any], limit: int | None) -> AsyncIterator[Page]:
        """Per subreddit and feed: from the saved ``after`` of an unfinished pass, else from the
        newest post down to the newest one the last finished pass saw."""
        keys = [f"{sub}/{feed}" for sub in self.config.subreddits for feed in _FEEDS]
        cursor = {key: dict(cursor.get(key) or {}) for key in keys}
        taken = 0
        for key in keys:
            subreddit, feed = key.split("/")
            state = cursor[key]
            while limit is None or taken < limit:
                listing = await self._call(self._reddit.get, f"r/{subreddit}/{feed}",
                                           params=self._params(feed, state))
                posts, malformed = _posts(listing)
                fresh = [p for p in posts if p.created_utc > state.get("since", 0)]
                wanted = [p for p in fresh if feed == "search" or _about_error(p)]
                # A page cut short by the limit is fetched again next time; its stored items
                # then count as unchanged.
                wanted, cut = take(wanted, limit, taken)
                items = [item for item in [await self._item(post) for post in wanted
                                           if post.id not in self._done] if item]
                self._done.update(post.id for post in wanted)
                taken += len(wanted)
                newest = max((p.created_utc for p in posts), default=0)
                state["high"] = max(state.get("high", 0), newest)
                after = getattr(listing, "after", None)
                stuck = after is not None and after == state.get("after")  # the page repeated
                finished = not cut and (not after or stuck or len(fresh) < len(posts))
                if finished:
                    state.update(since=state.get("high", 0), after=None)
                elif not cut:
                    state["after"] = after
                yield Page(items, {k: dict(s) for k, s in cursor.items()}, malformed)
                if finished:
                    break

    def _params(self, feed: str, state: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self.config.page_size}
        if state.get("after"):
            params["after"] = state["after"]
        if feed == "search":
            params.update(q=self.config.query, restrict_sr="on", sort="new", syntax="lucene")
        return params

    async def _item(self, post: Any) -> Item | None:
        """The post with its best comment, or None when nobody answered it usefully."""
        asker = getattr(post.author, "name", None)
        chosen = best_comment(await self._call(_top_comments, post), asker)
        if chosen is None:
            return None
        body_html = _text(post, "selftext_html")
        body = html_to_text(body_html) or _text(post, "selftext")
        error = error_in_blocks(post.title, code_blocks(body_html), body)
        base = self.config.reddit_url.rstrip("/")
        author = chosen.author.name
        flair = _text(post, "link_flair_text")
        record = {
            "source_id": post.id,
            "url": f"{base}{post.permalink}",
            "occurred_at": datetime.fromtimestamp(post.created_utc, timezone.utc),
            "error_type": error.error_type,
            "message": error.message,
            "stack_trace": error.stack_trace,
            "title": post.title,
            "body": body,
            "solution": html_to_text(_text(chosen, "body_html")) or chosen.body,
            "tags": [f"r/{post.subreddit.display_name}"] + ([flair] if flair else []),
            "score": getattr(chosen, "score", None),
            "author": author,
            "author_url": f"{base}/user/{author}",
            "license": LICENSE,
        }
        stamp = f"{int(post.edited or 0)}-{chosen.id}-{int(chosen.edited or 0)}"
        return Item(post.id, stamp, record)

    async def _call(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call`` in a worker thread, with praw's exceptions turned into ours."""
        for attempt in range(_RETRIES_429 + 1):
            started, wire = time.monotonic(), self._http.wire_seconds
            try:
                return await asyncio.to_thread(call, *args, **kwargs)
            except prawcore.exceptions.TooManyRequests as exc:
                if attempt == _RETRIES_429:
                    raise RateLimited("reddit: HTTP 429 after retries", 60) from None
                await self._wait(parse_retry_after(exc.retry_after), "HTTP 429")
            except prawcore.exceptions.PrawcoreException as exc:
                raise _translate(exc) from None
            finally:
                idle = (time.monotonic() - started) - (self._http.wire_seconds - wire)
                self._wait.waited += idle if idle > _SLEEP_NOISE else 0.0
        raise AssertionError("unreachable")


def _translate(exc: prawcore.exceptions.PrawcoreException) -> SourceError:
    if isinstance(exc, prawcore.exceptions.BadJSON):
        return SourceError("reddit: the answer is not valid JSON")
    if isinstance(exc, prawcore.exceptions.RequestException):
        original = exc.original_exception
        if isinstance(original, SourceError):
            return original
        return SourceUnavailable(f"reddit: {type(original).__name__}: {original}")
    if isinstance(exc, prawcore.exceptions.OAuthException | prawcore.exceptions.Forbidden
                  | prawcore.exceptions.InvalidToken):
        return SourceAuthError(f"reddit: credentials refused: {exc}")
    if isinstance(exc, prawcore.exceptions.ResponseException):
        status = exc.response.status_code
        if status == 401:
            return SourceAuthError(f"reddit: credentials refused: {exc}")
        if status >= 500:
            return SourceUnavailable(f"reddit: HTTP {status} after retries")
        return SourceError(f"reddit: HTTP {status}: {exc.response.url}")
    return SourceError(f"reddit: {exc}")


def _top_comments(post: Any) -> list[Any]:
    post.comment_sort, post.comment_limit = "top", 50
    return list(post.comments)


def _about_error(post: Any) -> bool:
    return bool(_ERROR_WORDS.search(post.title) or _ERROR_WORDS.search(_text(post, "selftext")))


def _posts(listing: Any) -> tuple[list[Any], int]:
    children = getattr(listing, "children", None)
    if not isinstance(children, list):
        raise SourceError("reddit: the answer is not a listing")
    good = [p for p in children if isinstance(p, praw.models.Submission)
            and isinstance(getattr(p, "title", None), str)
            and isinstance(getattr(p, "created_utc", None), int | float)]
    return good, len(children) - len(good)
