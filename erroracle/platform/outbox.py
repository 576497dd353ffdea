"""The alert outbox: every alert, every delivery attempt and every alert held back, in one
append-only log in the lake (``<data_root>/alerts/outbox.jsonl``).

Ingress replicas enqueue and one dispatcher delivers; all of them append under an exclusive
``flock`` after reading what the others wrote, and fsync each line before going on, so an
alert enqueued is never lost (a receiver that is down, a restart, a kill) and the state of each
one is what replaying the log gives. Two things keep a storm out: the same rule, event and key
(an issue, a service's spike) alert once per ``dedupe_seconds``, and a rule sends at most
``per_hour`` alerts an hour; what either holds back is logged as ``held`` and counted.

Example:
    >>> box = Outbox("/tmp/lake/alerts", dedupe_seconds=3600)  # doctest: +SKIP
    >>> box.enqueue(rule, "regression", "I1a2b", {"issue": "I1a2b"})  # doctest: +SKIP
    'a-…'
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erroracle.platform.alert_rules import AlertRule

__all__ = ["Alert", "Outbox"]

LOG_NAME = "outbox.jsonl"
_HOUR = 3600.0


@dataclass
class Alert:
    """One alert and where its delivery stands."""

    id: str
    rule: str
    event: str
    key: str
    payload: dict[str, Any]
    created: float
    attempts: int = 0
    state: str = "pending"  # pending, delivered, failed (gave up)
    next_at: float = 0.0
    last_error: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "event": self.event, "key": self.key,
                "payload": self.payload, "created": self.created, "attempts": self.attempts,
                "state": self.state, "next_at": self.next_at, "last_error": self.last_error}


class Outbox:
    """The log, replayed into alerts by id."""

    def __init__(self, folder: str | Path, *, dedupe_seconds: float = 3600.0) -> None:
        self.path = Path(folder) / LOG_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dedupe_seconds = dedupe_seconds
        self.alerts: dict[str, Alert] = {}
        self.held: Counter[str] = Counter()
        self._last_sent: dict[str, float] = {}  # rule/event/key -> when its last alert was made
        self._sent_by_rule: dict[str, list[float]] = {}
        self._offset = 0
        self._lock = threading.Lock()
        with self._lock:
            self._catch_up()

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        with self._lock:
            self._catch_up()

    def _catch_up(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a torn last line is rewritten by the next writer
        for line in data[:end].splitlines():
            if line.strip():
                self._apply(json.loads(line))
        self._offset += end

    def _apply(self, entry: dict[str, Any]) -> None:
        op = entry["op"]
        if op == "alert":
            alert = Alert(entry["id"], entry["rule"], entry["event"], entry["key"],
                          entry["payload"], entry["at"], next_at=entry["at"])
            self.alerts[alert.id] = alert
            self._last_sent[f"{alert.rule}\x1f{alert.event}\x1f{alert.key}"] = alert.created
            self._sent_by_rule.setdefault(alert.rule, []).append(alert.created)
        elif op == "held":
            self.held[entry["why"]] += 1
        elif op == "attempt":
            alert = self.alerts[entry["id"]]
            alert.attempts += 1
            alert.history.append(entry)
            alert.last_error = entry.get("error")
            alert.state = entry["state"]
            alert.next_at = entry.get("next_at", 0.0)

    def summary(self) -> dict[str, int]:
        """How many alerts are pending, delivered and failed, and how many were held back."""
        states = Counter(alert.state for alert in self.alerts.values())
        return {"pending": states["pending"], "delivered": states["delivered"],
                "failed": states["failed"], "held_duplicate": self.held["duplicate"],
                "held_rate": self.held["rate"]}

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        newest = sorted(self.alerts.values(), key=lambda alert: -alert.created)[:limit]
        return [alert.to_json() for alert in newest]

    def due(self, now: float) -> list[Alert]:
        return sorted((alert for alert in self.alerts.values()
                       if alert.state == "pending" and alert.next_at <= now),
                      key=lambda alert: alert.created)

    # -- writing ----------------------------------------------------------------------------

    def enqueue(self, rule: AlertRule, event: str, key: str, payload: dict[str, Any],
                now: float | None = None) -> str | None:
        """Add an alert for ``rule``; None when it is held back (a duplicate, or over the
        rule's hourly rate)."""
        now = time.time() if now is None else now
        with self._lock, self._locked() as handle:
            dedupe = f"{rule.name}\x1f{event}\x1f{key}"
            recent = [at for at in self._sent_by_rule.get(rule.name, []) if at > now - _HOUR]
            self._sent_by_rule[rule.name] = recent
            if now - self._last_sent.get(dedupe, float("-inf")) < self.dedupe_seconds:
                why = "duplicate"
            elif len(recent) >= rule.per_hour:
                why = "rate"
            else:
                alert_id = f"a-{secrets.token_hex(8)}"
                self._write(handle, {"op": "alert", "id": alert_id, "rule": rule.name,
                                     "event": event, "key": key, "payload": payload, "at": now})
                return alert_id
            self._write(handle, {"op": "held", "rule": rule.name, "event": event, "key": key,
                                 "why": why, "at": now})
            return None

    def record_attempt(self, alert_id: str, *, error: str | None, now: float,
                       next_at: float | None) -> None:
        """One delivery attempt: delivered (no ``error``), to be retried at ``next_at``, or
        failed for good (``next_at`` None)."""
        state = "delivered" if error is None else ("pending" if next_at is not None else "failed")
        with self._lock, self._locked() as handle:
            self._write(handle, {"op": "attempt", "id": alert_id, "state": state, "error": error,
                                 "at": now, "next_at": next_at or 0.0})

    def _locked(self) -> _LockedLog:
        return _LockedLog(self)

    def _write(self, handle: int, entry: dict[str, Any]) -> None:
        data = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        os.lseek(handle, self._offset, os.SEEK_SET)
        os.write(handle, data)
        os.ftruncate(handle, self._offset + len(data))
        os.fsync(handle)
        self._catch_up()


class _LockedLog:
    """The log opened and locked exclusively, caught up with what others wrote."""

    def __init__(self, box: Outbox) -> None:
        self.box = box
        self.handle = -1

    def __enter__(self) -> int:
        self.handle = os.open(self.box.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        self.box._catch_up()
        return self.handle

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)
