"""Sending one batch to the platform over HTTP, and what the answer means for the sender.

Standard library only (``http.client``). The transport is a seam: the reporter takes any object with
``send(body) -> Outcome`` and ``close()``, so tests and unusual deployments can swap it.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["HttpTransport", "Outcome", "Transport", "errors_url", "parse_retry_after"]

ERRORS_PATH = "/api/v1/learning/errors"
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 3600.0
_MAX_ANSWER_BYTES = 65_536


@dataclass(frozen=True)
class Outcome:
    """What one attempt to send a batch came to.

    ``kind`` is ``delivered``, ``rate_limited`` (wait ``retry_after`` seconds), ``too_large``
    (413), ``rejected`` (another 4xx: retrying cannot help) or ``failed`` (network error or 5xx:
    retry later).
    """

    kind: str
    status: int | None = None
    retry_after: float = 0.0
    detail: str = ""


class Transport(Protocol):
    def send(self, body: bytes) -> Outcome: ...

    def close(self) -> None: ...


def errors_url(endpoint: str) -> str:
    """The report-errors URL for a platform base URL (a full errors URL is kept as given).

    Raises:
        ValueError: the endpoint is not an http(s) URL with a host.
    """
    if not isinstance(endpoint, str):
        raise ValueError(f"endpoint must be a URL string, got {type(endpoint).__name__}")
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be an http(s):// URL with a host, got {endpoint!r}")
    path = parts.path.rstrip("/")
    if not path.endswith(ERRORS_PATH):
        path += ERRORS_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    A missing or malformed header means :data:`DEFAULT_RETRY_AFTER`; the wait is capped at
    :data:`MAX_RETRY_AFTER` so that a wrong clock or a hostile answer cannot silence the client.
    """
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER
        if when is None or when.tzinfo is None:
            return DEFAULT_RETRY_AFTER
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class HttpTransport:
    """POSTs gzip JSON batches over one kept-alive connection (used by one sender thread).

    Args:
        endpoint: the platform's base URL (``http://erroracle:8000``) or its errors URL.
        api_key: a key with the ``ingest`` scope, sent as ``Authorization: Bearer``.
        connect_timeout: seconds to open the connection.
        read_timeout: seconds to wait for each read of the answer.
        user_agent: names the client and its version.
    """

    def __init__(self, endpoint: str, api_key: str, *, connect_timeout: float = 2.0,
                 read_timeout: float = 5.0, user_agent: str = "erroracle-python") -> None:
        url = urlsplit(errors_url(endpoint))
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port
        self._path = url.path + (f"?{url.query}" if url.query else "")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": user_agent,
        }
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_timeout,
                    context=ssl.create_default_context())
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._connect_timeout)
            self._connection.connect()
            # The connect timeout bounds the handshake; each read then gets the read timeout.
            self._connection.sock.settimeout(self._read_timeout)
        return self._connection

    def send(self, body: bytes) -> Outcome:
        """Send one gzip JSON body; never raises for network trouble (it is an outcome)."""
        try:
            connection = self._connect()
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            answer = response.read(_MAX_ANSWER_BYTES)
            retry_after = response.getheader("Retry-After")
            if response.getheader("Connection", "").lower() == "close" or not response.isclosed():
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Outcome("failed", detail=f"{type(exc).__name__}: {exc}")
        return _outcome(response.status, retry_after, answer)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _outcome(status: int, retry_after: str | None, answer: bytes) -> Outcome:
    if 200 <= status < 300:
        return Outcome("delivered", status)
    if status == 429:
        return Outcome("rate_limited", status, parse_retry_after(retry_after))
    detail = _error_message(answer)
    if status == 413:
        return Outcome("too_large", status, detail=detail)
    if 400 <= status < 500:
        return Outcome("rejected", status, detail=detail)
    return Outcome("failed", status, detail=detail or f"HTTP {status}")


def _error_message(answer: bytes) -> str:
    try:
        error = json.loads(answer)["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return answer[:200].decode("utf-8", "replace")
