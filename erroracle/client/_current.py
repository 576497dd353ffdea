"""The process's current reporter: a no-op until :func:`init`, so that library code and middleware
may call the client before (or without) the app configuring it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from erroracle.client.hooks import install_excepthooks
from erroracle.client.options import Options
from erroracle.client.reporter import Reporter

__all__ = ["NullReporter", "capture_exception", "capture_message", "close", "current", "flush",
           "init"]


class NullReporter:
    """What answers before ``init``: every call returns at once and does nothing."""

    def capture_exception(self, error: BaseException | None = None, **_: Any) -> None:
        return None

    def capture_message(self, message: str, **_: Any) -> None:
        return None

    def flush(self, timeout: float = 2.0) -> bool:
        return True

    def close(self, timeout: float = 2.0) -> None:
        return None


_current: Reporter | NullReporter = NullReporter()


def current() -> Reporter | NullReporter:
    """The reporter ``init`` made, or the no-op one."""
    return _current


def init(endpoint: str, api_key: str, *, excepthooks: bool = True, **options: Any) -> Reporter:
    """Start reporting this process's errors to the platform at ``endpoint``.

    Keyword arguments are :class:`~erroracle.client.Options` (``service``, ``environment``,
    ``release``, ``spool_dir``, ...). With ``excepthooks``, uncaught exceptions in the main thread
    and in other threads are reported too. A second ``init`` replaces the first reporter.

    Raises:
        ValueError: a setting is wrong (named in the message).

    Example:
        >>> import erroracle.client
        >>> erroracle.client.init("http://127.0.0.1:8000", "eo_key")  # doctest: +SKIP
    """
    global _current
    reporter = Reporter(Options(endpoint=endpoint, api_key=api_key, **options))
    previous, _current = _current, reporter
    previous.close(timeout=0.5)
    if excepthooks:
        install_excepthooks(capture_exception)
    return reporter


def capture_exception(error: BaseException | None = None, **kwargs: Any) -> str | None:
    """Report ``error`` (the exception being handled when None); returns the event id or None."""
    return _current.capture_exception(error, **kwargs)


def capture_message(message: str, *, level: str = "error", tags: Iterable[str] = ()) -> str | None:
    """Report a message that carries no exception; returns the event id or None."""
    return _current.capture_message(message, level=level, tags=tags)


def flush(timeout: float = 2.0) -> bool:
    """Wait up to ``timeout`` seconds for queued events to leave; True when none is left."""
    return _current.flush(timeout)


def close(timeout: float = 2.0) -> None:
    """Flush, stop the sender, and go back to the no-op reporter."""
    global _current
    previous, _current = _current, NullReporter()
    previous.close(timeout)
