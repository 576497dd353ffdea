"""The reporter's settings, checked once when the app starts (a wrong setting fails ``init`` loudly;
after that the client never raises into the app)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from erroracle.client._transport import errors_url

__all__ = ["Options"]

_LEVELS = ("debug", "info", "warning", "error", "fatal", "critical")


@dataclass(frozen=True)
class Options:
    """How a :class:`~erroracle.client.Reporter` captures and delivers events.

    Args:
        endpoint: the platform's base URL, ``http://erroracle:8000``.
        api_key: a key with the ``ingest`` scope.
        service, environment, release: sent with every event.
        queue_size: events waiting in memory; when full, new events are dropped and counted.
        batch_size: events per request; a batch leaves when full or ``flush_interval`` after its
            first event.
        flush_interval: seconds an event may wait for its batch to fill.
        connect_timeout, read_timeout: seconds, per request.
        max_retries: attempts after the first for a batch that met a network error or a 5xx
            (without a spool; with one, the batch waits on disk instead).
        spool_dir: a folder where undeliverable batches wait, also across restarts; None for none.
        spool_max_bytes: the most the spool may hold; the oldest batches are dropped beyond it.
        shutdown_timeout: seconds the interpreter's exit waits to deliver what is queued.
        in_app_include, in_app_exclude: module prefixes that are (or are not) the app's own code.
        scrub_keys, scrub_patterns: extra key names and ``{kind: regex}`` value patterns to scrub.
    """

    endpoint: str
    api_key: str
    service: str | None = None
    environment: str | None = None
    release: str | None = None
    queue_size: int = 10_000
    batch_size: int = 100
    flush_interval: float = 1.0
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_retries: int = 5
    spool_dir: str | os.PathLike[str] | None = None
    spool_max_bytes: int = 50 * 1024 * 1024
    shutdown_timeout: float = 2.0
    in_app_include: Sequence[str] = ()
    in_app_exclude: Sequence[str] = ()
    scrub_keys: Sequence[str] = ()
    scrub_patterns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        errors_url(self.endpoint)
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        limits = {"queue_size": (1, 10_000_000), "batch_size": (1, 1000),
                  "max_retries": (0, 100), "spool_max_bytes": (1024, 1 << 40)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        for name in ("flush_interval", "connect_timeout", "read_timeout", "shutdown_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        for name in ("service", "environment", "release"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        if self.spool_dir is not None and not isinstance(self.spool_dir, str | os.PathLike):
            raise ValueError(f"spool_dir must be a path, got {type(self.spool_dir).__name__}")


def check_level(level: str) -> str:
    """The level in lower case; an unknown level becomes ``error`` rather than failing a capture."""
    name = str(level).lower()
    return name if name in _LEVELS else "error"
