"""A folder where batches wait while the platform cannot take them, across restarts of the app.

One file a batch, written to a temporary name, fsynced and renamed, so a crash leaves either the
whole batch or nothing. Several processes may share the folder (gunicorn workers, a forked child):
a sender claims a file by renaming it with its pid before sending, and a claim whose process is gone
is given back. Delivery is at least once; the event ids make it exactly once in the lake.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Spool", "SpoolFull", "SpooledBatch"]

_SUFFIX = ".batch.json"
_CLAIM = ".sending-"


class SpoolFull(Exception):
    """A batch larger than the whole spool."""


@dataclass(frozen=True)
class SpooledBatch:
    """A claimed batch: its events, and the file to delete once delivered."""

    path: Path
    events: list[dict[str, Any]]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _count(name: str) -> int:
    try:
        return int(name.split("-")[1])
    except (IndexError, ValueError):
        return 0


class Spool:
    """Batches on disk, oldest first, bounded in bytes (the oldest are dropped to make room).

    Args:
        directory: the folder (created, mode 0700: events may describe the app's internals).
        max_bytes: the most the folder may hold.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        if max_bytes < 1024:
            raise ValueError(f"spool_max_bytes must be at least 1024, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.release_stale_claims()

    def put(self, events: list[dict[str, Any]]) -> int:
        """Store a batch; returns how many older events were dropped to make room.

        Raises:
            SpoolFull: the batch alone is larger than ``max_bytes``.
        """
        data = json.dumps(events, separators=(",", ":")).encode()
        if len(data) > self.max_bytes:
            raise SpoolFull(f"a batch of {len(data):,} bytes; the spool holds {self.max_bytes:,}")
        dropped = self._make_room(len(data))
        name = f"{time.time_ns():020d}-{len(events)}-{uuid.uuid4().hex}{_SUFFIX}"
        temporary = self.directory / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / name)
        return dropped

    def claim(self) -> SpooledBatch | None:
        """The oldest unclaimed batch, claimed for this process; None when there is none."""
        for path in self._waiting():
            claimed = path.with_name(f"{path.name}{_CLAIM}{os.getpid()}")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            try:
                events = json.loads(claimed.read_bytes())
            except (OSError, ValueError):
                claimed.unlink(missing_ok=True)
                continue
            return SpooledBatch(claimed, events if isinstance(events, list) else [])
        return None

    def release(self, batch: SpooledBatch) -> None:
        """Give a claimed batch back to wait for the next attempt."""
        original = batch.path.name.split(_CLAIM)[0]
        with contextlib.suppress(FileNotFoundError):
            os.rename(batch.path, batch.path.with_name(original))

    def done(self, batch: SpooledBatch) -> None:
        batch.path.unlink(missing_ok=True)

    def pending_events(self) -> int:
        return sum(_count(path.name) for path in self._waiting())

    def release_stale_claims(self) -> None:
        for path in self.directory.glob(f"*{_SUFFIX}{_CLAIM}*"):
            pid = path.name.rsplit(_CLAIM, 1)[1]
            if not pid.isdigit() or not _alive(int(pid)):
                self.release(SpooledBatch(path, []))

    def _waiting(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{_SUFFIX}"))

    def _make_room(self, size: int) -> int:
        files = sorted(self.directory.glob(f"*{_SUFFIX}*"))
        total = 0
        sizes = []
        for path in files:
            try:
                sizes.append((path, path.stat().st_size))
            except FileNotFoundError:
                continue
            total += sizes[-1][1]
        dropped = 0
        for path, length in sizes:
            if total + size <= self.max_bytes:
                break
            if _CLAIM in path.name:
                continue  # being sent right now
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            total -= length
            dropped += _count(path.name)
        return dropped
