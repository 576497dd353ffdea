"""One source's HTTP calls: only its configured host, paced, retried, and translated into
:mod:`erroracle.errors` at this boundary (no aiohttp exception leaves the package)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from erroracle.client._transport import parse_retry_after
from erroracle.errors import RateLimited, SourceAuthError, SourceError, SourceUnavailable

__all__ = ["Answer", "RateWait", "SourceHttp"]

_RETRIES = 3
_MAX_WAIT = 900.0


class RateWait:
    """Sleeps a source asks for, counted, and refused beyond ``max_wait`` (the source then stops
    for this crawl rather than hold the whole crawl up)."""

    def __init__(self, name: str, max_wait: float = _MAX_WAIT) -> None:
        self.name = name
        self.max_wait = max_wait
        self.waited = 0.0

    async def __call__(self, seconds: float, reason: str) -> None:
        if seconds > self.max_wait:
            raise RateLimited(f"{self.name}: {reason}; asked to wait {seconds:.0f} s", seconds)
        if seconds > 0:
            self.waited += seconds
            await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Answer:
    data: Any
    headers: dict[str, str]


class SourceHttp:
    """GETs JSON from one API: at most ``rate`` calls a second and ``concurrency`` at once.

    Args:
        name: the source, for messages.
        base_url: the API root; no other host is ever contacted.
        session: the aiohttp session (tests pass one aimed at a local server).
        rate: calls a second.
        concurrency: calls in flight at once.
        max_wait: the longest rate-limit wait accepted; beyond it the source stops for this crawl.
        throttled: seconds to wait when an answer (status, JSON) is the API's own way of saying
            "too many requests", else None.
    """

    def __init__(self, name: str, base_url: str, session: aiohttp.ClientSession, *,
                 rate: float, concurrency: int, max_wait: float = _MAX_WAIT,
                 throttled: Callable[[int, Any], float | None] = lambda status, data: None
                 ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._session = session
        self._interval = 1.0 / rate
        self._slots = asyncio.Semaphore(concurrency)
        self._next_call = 0.0
        self._pace = asyncio.Lock()
        self._blocked_until: dict[str, float] = {}
        self.wait = RateWait(name, max_wait)
        self.throttled = throttled
        self.requests = 0

    @property
    def waited(self) -> float:
        return self.wait.waited

    def block(self, method: str, seconds: float) -> None:
        """No call to ``method`` for ``seconds`` (Stack Exchange's ``backoff``)."""
        until = time.monotonic() + seconds
        self._blocked_until[method] = max(self._blocked_until.get(method, 0.0), until)

    async def get(self, path: str, params: dict[str, Any] | None = None, *,
                  method: str | None = None, headers: dict[str, str] | None = None) -> Answer:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if urlsplit(url).netloc != self._host:
            raise SourceError(f"{self.name}: refusing to call {url}: not the configured host")
        method = method or path
        attempt = 0
        while True:
            await self.wait(self._blocked_until.get(method, 0.0) - time.monotonic(),
                            f"backoff on {method}")
            async with self._slots:
                await self._take_turn()
                try:
                    return await self._call(url, params, headers)
                except _Retry as retry:
                    if attempt == _RETRIES:
                        raise SourceUnavailable(f"{self.name}: {retry}") from None
            await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1))
            attempt += 1

    async def _take_turn(self) -> None:
        async with self._pace:
            now = time.monotonic()
            delay = self._next_call - now
            self._next_call = max(now, self._next_call) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)

    async def _call(self, url: str, params: dict[str, Any] | None,
                    headers: dict[str, str] | None) -> Answer:
        self.requests += 1
        try:
            async with self._session.get(url, params=params, headers=headers,
                                         allow_redirects=False) as response:
                body = await response.read()
                status, answer_headers = response.status, dict(response.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        if status == 429:
            await self.wait(parse_retry_after(answer_headers.get("Retry-After")), "HTTP 429")
            raise _Retry("HTTP 429")
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        data = _json(self.name, body, status)
        throttle = self.throttled(status, data)
        if throttle is not None:
            await self.wait(throttle, "throttled")
            raise _Retry(f"HTTP {status}: throttled")
        if status in (401, 403):
            raise SourceAuthError(f"{self.name}: HTTP {status}: {_reason(data)}")
        if status >= 300:
            raise SourceError(f"{self.name}: HTTP {status}: {_reason(data)}")
        return Answer(data, answer_headers)


class _Retry(Exception):
    """A network error, 5xx or 429: worth another try."""


def _json(name: str, body: bytes, status: int) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        if status >= 300:
            return {"message": body[:200].decode("utf-8", "replace")}
        raise SourceError(f"{name}: the answer is not valid JSON") from None


def _reason(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("error_message", "message", "error_name", "error"):
            if data.get(key):
                return str(data[key])
    return "refused"
