"""The reporter: capture on the app's thread (cheap, never blocking, never raising), deliver on one
background thread in batches, keep what cannot be delivered in a spool, and count what is dropped.

Example:
    >>> reporter = Reporter(Options("http://127.0.0.1:8000", "eo_key"))  # doctest: +SKIP
    >>> try:
    ...     1 / 0
    ... except ZeroDivisionError:
    ...     reporter.capture_exception()
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import json
import logging
import os
import random
import sys
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from erroracle.client._event import EventBuilder
from erroracle.client._request import describe_request
from erroracle.client._spool import Spool, SpoolFull
from erroracle.client._transport import HttpTransport, Transport
from erroracle.client.options import Options, check_level
from erroracle.client.scrubber import Scrubber

__all__ = ["SDK", "Reporter"]

SDK = "erroracle-python/0.1.0"
logger = logging.getLogger("erroracle.client")

_CAPTURED = "__erroracle_captured__"
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 60.0
_SPOOL_RESCAN = 30.0
_live_reporters: weakref.WeakSet[Reporter] = weakref.WeakSet()
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    for reporter in list(_live_reporters):
        reporter._start_over_after_fork()


def _close_at_exit(ref: weakref.ref[Reporter]) -> None:
    reporter = ref()
    if reporter is not None:
        reporter.close(reporter.options.shutdown_timeout)


class Reporter:
    """Captures errors and delivers them to the platform; see :class:`Options` for the settings.

    Args:
        options: the settings.
        transport: how a batch is sent; the HTTP transport for ``options.endpoint`` by default.
    """

    def __init__(self, options: Options, *, transport: Transport | None = None) -> None:
        global _fork_hook_installed
        self.options = options
        self._transport = transport or HttpTransport(
            options.endpoint, options.api_key, connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout, user_agent=SDK)
        self._scrubber = Scrubber(options.scrub_keys, options.scrub_patterns)
        self._builder = EventBuilder(
            service=options.service, environment=options.environment, release=options.release,
            in_app_include=options.in_app_include, in_app_exclude=options.in_app_exclude)
        self._spool = Spool(options.spool_dir, options.spool_max_bytes) \
            if options.spool_dir is not None else None
        # The app's logging setup decides where our log lines go; without one, they go nowhere
        # (never to stderr through logging's last-resort handler).
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        self._fresh_state()
        _live_reporters.add(self)
        if not _fork_hook_installed:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_installed = True
        self._exit_hook = _exit_hook(self)
        atexit.register(self._exit_hook)
        if self._spool is not None and self._spool.pending_events():
            with self._lock:
                self._start_sender()  # what an earlier run left in the spool goes out now

    def _start_over_after_fork(self) -> None:
        """A forked child must not share its parent's connection, queue, lock or thread (the
        parent delivers its own events); it gets its own sender on first capture."""
        self._transport.close()  # closes the child's copy of the socket only
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._queue: deque[dict[str, Any]] = deque()
        self._in_flight = 0
        self._flushing = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._spool_waiting = self._spool is not None
        self._captured = 0
        self._sent = 0
        self._resent = 0
        self._spooled = 0
        self._dropped: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()

    # -- capture: the app's thread ---------------------------------------------------------------

    def capture_exception(self, error: BaseException | None = None, *, level: str = "error",
                          message: str | None = None, tags: Iterable[str] = (),
                          request: Mapping[str, Any] | None = None) -> str | None:
        """Queue an event for ``error`` (the exception being handled when None).

        Args:
            error: the exception; the one being handled when None.
            level: ``error`` by default; ``fatal`` for uncaught exceptions.
            message: context to put before the exception's own text (a log message).
            tags: ``"key:value"`` strings.
            request: ``{"method", "route", "headers"}`` of the HTTP request that failed; headers
                are scrubbed by name (cookies, authorization, ...) and by value.

        Returns the event id, or None when nothing was queued. Never raises, never blocks.
        """
        try:
            if error is None:
                error = sys.exc_info()[1]
                if error is None:
                    return None
            if getattr(error, _CAPTURED, False):
                return None  # reported already, by a middleware the exception passed through
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, _CAPTURED, True)
            if not self._admit():
                return None
            tags, body = list(tags), None
            if request is not None:
                request_tags, body = describe_request(self._scrubber.value(dict(request)))
                tags += request_tags
            event = self._builder.exception(error, level=check_level(level), message=message,
                                            tags=tags, body=body)
            return self._enqueue(event)
        except Exception:
            logger.exception("erroracle.client: capture_exception failed")
            return None

    def capture_message(self, message: str, *, level: str = "error",
                        tags: Iterable[str] = ()) -> str | None:
        """Queue an event for a message with no exception. Returns the event id or None."""
        try:
            if not self._admit():
                return None
            event = self._builder.message(message, level=check_level(level), tags=tags)
            return self._enqueue(event)
        except Exception:
            logger.exception("erroracle.client: capture_message failed")
            return None

    def _admit(self) -> bool:
        """Count the capture, and refuse it early (before any work) when it would be dropped."""
        with self._lock:
            self._captured += 1
            if self._closed:
                self._dropped["closed"] += 1
                return False
            if len(self._queue) >= self.options.queue_size:
                self._dropped["queue_full"] += 1
                return False
            return True

    def _enqueue(self, event: dict[str, Any]) -> str | None:
        scrub = self._scrubber
        for name in ("message", "stack_trace"):
            if name in event:
                event[name] = scrub.text(event[name])
        if "tags" in event:
            event["tags"] = scrub.value(event["tags"])
        with self._wake:
            if len(self._queue) >= self.options.queue_size:
                self._dropped["queue_full"] += 1
                return None
            self._queue.append(event)
            self._start_sender()
            if len(self._queue) >= self.options.batch_size:
                self._wake.notify_all()
        return event["id"]

    def _start_sender(self) -> None:
        """Start the sender thread once per process (call with the lock held)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="erroracle-sender",
                                            daemon=True)
            self._thread.start()

    # -- lifecycle ---------------------------------------------------------------------------------

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait up to ``timeout`` seconds until every queued event has been delivered, dropped or
        spooled. Returns True when nothing is left in memory."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._wake:
            self._flushing += 1
            self._wake.notify_all()
            try:
                while self._queue or self._in_flight:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._wake.wait(left)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 2.0) -> None:
        """Flush for up to ``timeout`` seconds, then stop: what is left is spooled (or dropped and
        counted as ``shutdown``). Later captures are dropped as ``closed``."""
        delivered = self.flush(timeout)
        with self._wake:
            self._closed = True
            self._stopping.set()
            self._wake.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(0.5 if delivered else 1.0)
        with self._wake:
            leftover = list(self._queue)
            self._queue.clear()
        if leftover:
            self._defer(leftover)
        self._transport.close()
        atexit.unregister(self._exit_hook)

    def stats(self) -> dict[str, Any]:
        """Counts since start (or since fork): ``sent + dropped + queued + spooled`` is what was
        captured once the sender is idle; ``resent`` counts spooled events delivered later."""
        with self._lock:
            return {
                "captured": self._captured, "sent": self._sent, "resent": self._resent,
                "dropped": dict(self._dropped), "queued": len(self._queue) + self._in_flight,
                "spooled": self._spooled,
                "spool_waiting": self._spool.pending_events() if self._spool else 0,
            }

    # -- delivery: the sender thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                batch = self._next_batch()
                if batch is None:
                    return
                if batch:
                    self._deliver(batch)
                else:
                    self._drain_spool()
            except Exception:
                logger.exception("erroracle.client: the sender failed; it goes on")
                self._stopping.wait(1.0)

    def _next_batch(self) -> list[dict[str, Any]] | None:
        """The next batch to send; ``[]`` when it is time to look at the spool; None to stop."""
        with self._wake:
            first_seen: float | None = None
            while True:
                now = time.monotonic()
                waiting = len(self._queue)
                if self._stopping.is_set():
                    return None
                if waiting and (waiting >= self.options.batch_size or self._flushing):
                    break
                if waiting:
                    first_seen = first_seen or now
                    left = first_seen + self.options.flush_interval - now
                    if left <= 0:
                        break
                    self._wake.wait(left)
                    continue
                if self._spool_waiting and now >= self._retry_at:
                    return []
                idle = self._retry_at - now if self._spool_waiting else _SPOOL_RESCAN
                if not self._wake.wait(max(idle, 0.01)) and self._spool is not None:
                    self._spool_waiting = True
            size = min(waiting, self.options.batch_size)
            batch = [self._queue.popleft() for _ in range(size)]
            self._in_flight += size
            return batch

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        try:
            leftover = self._attempt(batch)
            if leftover:
                self._defer(leftover)
        finally:
            with self._wake:
                self._in_flight -= len(batch)
                self._wake.notify_all()

    def _drain_spool(self) -> None:
        assert self._spool is not None
        spooled = self._spool.claim()
        if spooled is None:
            with self._lock:
                self._spool_waiting = False
            return
        if self._attempt(spooled.events, resending=True):
            self._spool.release(spooled)
        else:
            self._spool.done(spooled)

    def _attempt(self, batch: list[dict[str, Any]], resending: bool = False
                 ) -> list[dict[str, Any]]:
        """Send ``batch``; returns the events to keep for later (empty when all were settled)."""
        attempts = 0
        while True:
            wait = self._retry_at - time.monotonic()
            if wait > 0 and (self._spool is not None or self._stopping.wait(wait)):
                return batch
            if self._stopping.is_set() and not self._flushing:
                return batch
            outcome = self._send(batch)
            if outcome.kind == "delivered":
                self._failures = 0
                with self._lock:
                    if resending:
                        self._resent += len(batch)
                    else:
                        self._sent += len(batch)
                return []
            if outcome.kind == "rate_limited":
                logger.info("erroracle.client: rate limited; pausing %.1f s", outcome.retry_after)
                self._retry_at = time.monotonic() + outcome.retry_after
            elif outcome.kind == "too_large":
                if len(batch) == 1:
                    self._drop(1, "too_large", outcome.detail)
                    return []
                half = len(batch) // 2
                return (self._attempt(batch[:half], resending)
                        + self._attempt(batch[half:], resending))
            elif outcome.kind == "rejected":
                self._drop(len(batch), f"rejected_{outcome.status}", outcome.detail)
                return []
            else:
                attempts += 1
                self._failures += 1
                delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (self._failures - 1))
                self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
                logger.info("erroracle.client: delivery failed (%s); retrying", outcome.detail)
                if attempts > self.options.max_retries and self._spool is None:
                    reason = "server_error" if outcome.status else "network_error"
                    self._drop(len(batch), reason, outcome.detail)
                    return []

    def _send(self, batch: list[dict[str, Any]]) -> Any:
        with self._lock:
            report = {reason: count - self._reported[reason]
                      for reason, count in self._dropped.items()
                      if count > self._reported[reason]}
        payload: dict[str, Any] = {"errors": batch, "client": {"sdk": SDK}}
        if report:
            payload["client"]["dropped"] = report
        body = gzip.compress(json.dumps(payload, default=str).encode(), compresslevel=5)
        outcome = self._transport.send(body)
        if outcome.kind == "delivered" and report:
            with self._lock:
                self._reported.update(report)
        return outcome

    def _defer(self, events: list[dict[str, Any]]) -> None:
        """Keep undelivered events in the spool, or count them dropped when there is none."""
        if self._spool is None:
            self._drop(len(events), "shutdown" if self._stopping.is_set() else "network_error")
            return
        try:
            pushed_out = self._spool.put(events)
        except SpoolFull:
            self._drop(len(events), "spool_full")
            return
        except OSError as exc:
            self._drop(len(events), "spool_error", str(exc))
            return
        with self._lock:
            self._spooled += len(events)
            self._spool_waiting = True
            if pushed_out:
                self._dropped["spool_full"] += pushed_out

    def _drop(self, count: int, reason: str, detail: str = "") -> None:
        with self._lock:
            self._dropped[reason] += count
        if detail:
            logger.warning("erroracle.client: dropped %d event(s): %s (%s)", count, reason, detail)


def _exit_hook(reporter: Reporter) -> Any:
    ref = weakref.ref(reporter)
    return lambda: _close_at_exit(ref)
