"""The persisted issue layer: one append-only log that every writer and reader replays.

``<lake>/issues/log.jsonl`` holds, in order, every new fingerprint (with its template and error
type), every correction made by a person (merge, split) and every status change (a person's
resolve or ignore, the lake's regression: ``platform.issue_status``). The issue of a
fingerprint is what replaying the log through :class:`~erroracle.platform.issues.IssueGrouper`
gives, so every replica, every restart and every reader of one lake computes the same ids.
Writers append under
an exclusive ``flock`` after reading what other writers added, so the log has one order; each
line is written and fsynced before the append that caused it returns. A torn last line (a
crash mid-write) is ignored and overwritten by the next writer.

Example:
    >>> book = IssueBook("/tmp/lake/issues")
    >>> book.observe([("fp1", "Invalid user bob from <IP>", None)])
    {'fp1': 'I…'}
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from erroracle.errors import ConflictError, NotFoundError, StorageError, UnprocessableError
from erroracle.platform.issue_status import IssueStatus
from erroracle.platform.issues import IssueGrouper

__all__ = ["IssueBook", "Observation"]

#: (fingerprint, template, error type) of one record.
Observation = tuple[str, str, str | None]
LOG_NAME = "log.jsonl"


class IssueBook:
    """The lake's issues, kept in step with its log.

    Args:
        folder: where the log lives (``<data_root>/issues``); None keeps it in memory only (for
            ``fingerprint --issues`` and the in-memory store).
        writable: create the folder and allow :meth:`observe` and corrections.
    """

    def __init__(self, folder: str | Path | None, *, writable: bool = True) -> None:
        self.path = None if folder is None else Path(folder) / LOG_NAME
        self.writable = writable
        self._grouper = IssueGrouper()
        self._offset = 0
        self._lock = threading.Lock()
        self.history: list[dict[str, Any]] = []
        self._statuses: dict[str, IssueStatus] = {}
        # entries replayed so far, by what they change: grouping (seen, merge, split) means an
        # issue table must be folded again; a status only means its status column is stale
        self.grouping_changes = 0
        self.status_changes = 0
        if writable and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.refresh()

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        """How many fingerprints have an issue."""
        return len(self._grouper)

    def refresh(self) -> None:
        """Replay what was appended since the last read (by this or any other process); a
        ``stat`` when nothing was."""
        if self.path is None:
            return
        try:
            if self.path.stat().st_size <= self._offset:
                return
        except FileNotFoundError:
            return
        with self._lock:
            self._catch_up()

    def _catch_up(self) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a line without its newline is still being written
        for line in data[:end].splitlines():
            if line.strip():
                self._apply(json.loads(line))
        self._offset += end

    def _apply(self, entry: dict[str, Any]) -> None:
        op = entry.get("op", "seen")
        if op == "status":
            self.status_changes += 1
        else:
            self.grouping_changes += 1
        if op == "seen":
            self._grouper.assign(entry["fp"], entry["t"], entry.get("k"))
        elif op == "merge":
            self._grouper.merge(entry["into"], entry["from"])
            self.history.append(entry)
        elif op == "split":
            self._grouper.split(entry["issue"], entry["fp"])
            self.history.append(entry)
        elif op == "status":
            self._statuses[entry["issue"]] = self.status_of(entry["issue"]).changed(entry)
            self.history.append(entry)

    def status_of(self, issue: str) -> IssueStatus:
        """Where an issue stands (a merged issue stands where the one it joined stands)."""
        return self._statuses.get(self._grouper.resolve(issue), IssueStatus())

    def counted_ignores(self) -> list[tuple[str, IssueStatus]]:
        """The issues ignored until a number of further events, with their status."""
        return [(issue, status) for issue, status in self._statuses.items()
                if status.status == "ignored" and status.events]

    def issue_of(self, fingerprint: str | None) -> str | None:
        """The issue of a fingerprint, or None when it was never seen."""
        return None if fingerprint is None else self._grouper.issue_of(fingerprint)

    def peek(self, fingerprint: str, template: str, error_type: str | None) -> str | None:
        """The issue a record has, or would join if it were stored now."""
        self.refresh()
        return self._grouper.peek(fingerprint, template, error_type)

    def issues_of(self, fingerprints: Iterable[str | None]) -> list[str | None]:
        return [self.issue_of(fp) for fp in fingerprints]

    def resolve(self, issue: str) -> str:
        """The id an issue id stands for now; raises NotFoundError for an id never given out."""
        if not self._grouper.exists(issue):
            raise NotFoundError(f"issue {issue} not found", field="issue")
        return self._grouper.resolve(issue)

    def changes(self, issue: str) -> list[dict[str, Any]]:
        """What made this issue what it is: the merges by rule (each with the pattern whose
        variable position showed it), then the merges and splits by people, each in order."""
        current = self.resolve(issue)
        resolve = self._grouper.resolve
        return [entry for entry in (*self._grouper.merges, *self.history)
                if any(resolve(entry[key]) == current or entry[key] == issue
                       for key in ("into", "from", "issue") if entry.get(key))]

    def fingerprints(self, issue: str) -> list[str]:
        return self._grouper.fingerprints(self.resolve(issue))

    # -- writing --------------------------------------------------------------------------

    def observe(self, observations: Iterable[Observation]) -> dict[str, str]:
        """The issue of each fingerprint, logging the ones never seen before."""
        observations = list(observations)
        with self._lock:
            if any(self._grouper.issue_of(fp) is None for fp, _, _ in observations):
                fresh: dict[str, Observation] = {}
                with self._exclusive() as handle:
                    for fp, template, kind in observations:
                        if self._grouper.issue_of(fp) is None and fp not in fresh:
                            fresh[fp] = (fp, template, kind)
                    entries = [{"fp": fp, "t": t, "k": kind} for fp, t, kind in fresh.values()]
                    self._write(handle, entries)
            return {fp: self._grouper.issue_of(fp) or "" for fp, _, _ in observations}

    def merge(self, into: str, other: str, *, by: str) -> dict[str, Any]:
        """A person merges ``other`` into ``into``; returns the logged entry."""
        with self._lock, self._exclusive() as handle:
            into_now, other_now = self.resolve(into), self.resolve(other)
            if into_now == other_now:
                raise ConflictError(f"issue {other} is already issue {into_now}", field="issue")
            entry = self._entry("merge", by, into=into_now, **{"from": other_now})
            self._write(handle, [entry])
            return entry

    def split(self, issue: str, fingerprint: str, *, by: str) -> dict[str, Any]:
        """A person moves one fingerprint out of an issue into an issue of its own."""
        with self._lock, self._exclusive() as handle:
            current = self.resolve(issue)
            if self._grouper.issue_of(fingerprint) != current:
                raise UnprocessableError(
                    f"fingerprint {fingerprint} is not in issue {issue}", field="fingerprint")
            if len(self._grouper.fingerprints(current)) == 1:
                raise UnprocessableError(
                    f"fingerprint {fingerprint} is the only one in issue {issue}",
                    field="fingerprint")
            entry = self._entry("split", by, issue=current, fp=fingerprint)
            self._write(handle, [entry])
            entry["new_issue"] = self._grouper.issue_of(fingerprint)
            return entry

    def set_status(self, issue: str, change: dict[str, Any], *, by: str) -> dict[str, Any]:
        """A person's status change (``issue_status.status_change``); returns the logged entry."""
        with self._lock, self._exclusive() as handle:
            current = self.resolve(issue)
            entry = self._entry("status", by, issue=current, **change,
                                was=self.status_of(current).status)
            self._write(handle, [entry])
            return entry

    def regress(self, events: Iterable[tuple[str, str | None, Any]]) -> list[dict[str, Any]]:
        """Reopen the issues these events (issue, release, arrival) occur in again: a resolved
        one becomes regressed, an ignore that has ended becomes unresolved."""
        if not self._statuses:
            return []
        with self._lock:
            due = {issue for issue, release, at in events
                   if self.status_of(issue).regressed_by(release, at)}
            if not due:
                return []
            with self._exclusive() as handle:
                entries = []
                for issue in sorted(due):
                    was = self.status_of(issue).status
                    if was in ("resolved", "ignored"):  # another writer may have reopened it
                        entries.append(self._entry(
                            "status", "erroracle", issue=self._grouper.resolve(issue),
                            status="regressed" if was == "resolved" else "unresolved", was=was))
                self._write(handle, entries)
            return entries

    @staticmethod
    def _entry(op: str, by: str, **fields: Any) -> dict[str, Any]:
        return {"op": op, **fields, "by": by, "at": datetime.now(UTC).isoformat()}

    def _exclusive(self) -> _LockedLog:
        if not self.writable:
            raise StorageError(f"{self.path} was opened read-only")
        return _LockedLog(self)

    def _write(self, handle: int | None, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        if handle is None:
            for entry in entries:
                self._apply(entry)
            return
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)
        os.lseek(handle, self._offset, os.SEEK_SET)
        os.write(handle, data)
        os.ftruncate(handle, self._offset + len(data))  # drops a torn line left by a crash
        os.fsync(handle)
        self._catch_up()


class _LockedLog:
    """The log opened for writing under an exclusive lock, caught up with other writers."""

    def __init__(self, book: IssueBook) -> None:
        self.book = book

    def __enter__(self) -> int | None:
        if self.book.path is None:
            return None
        try:
            self.fd = os.open(self.book.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise StorageError(f"cannot open {self.book.path}: {exc}") from exc
        self.book._catch_up()
        return self.fd

    def __exit__(self, *exc_info: object) -> None:
        if self.book.path is not None:
            os.close(self.fd)  # closing releases the lock

