"""The ingest write-ahead log: a batch is durable once its entry is written and fsynced.

A log is a folder of segment files owned by one writer. Each entry is framed as
``<length:uint32><crc32:uint32><payload>`` so that a torn write (a kill mid-append) or damage is
detected on replay. The owner holds an exclusive ``flock`` on its open segment; the lock dies with
the process, so a segment that can be locked by someone else belongs to a writer that is gone and
may be replayed.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from erroracle.errors import StorageError

__all__ = ["ReplayedSegment", "Segment", "claim_orphans", "fsync_dir"]

_HEADER = struct.Struct("<II")
MAX_ENTRY_BYTES = 1 << 30
SUFFIX = ".wal"
_LEFTOVER_SECONDS = 60.0


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Segment:
    """One open, locked log segment that this process appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Lock under a name replay never looks at, then rename: a segment is locked from the
        # moment it is visible, so a replayer can never mistake a new one for an orphan.
        hidden = path.with_name(f".{path.name}.new")
        try:
            self._fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, path)
        except OSError as exc:
            raise StorageError(f"cannot open write-ahead log {path}: {exc.strerror}") from exc
        fsync_dir(path.parent)
        self.entries = 0

    def append(self, payload: bytes) -> None:
        """Write one framed entry and fsync it; returns only when it is on disk."""
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        try:
            os.write(self._fd, frame)
            os.fdatasync(self._fd)
        except OSError as exc:
            raise StorageError(f"write-ahead log {self.path}: {exc.strerror}") from exc
        self.entries += 1

    def close(self) -> None:
        """Release the lock; the file stays until :meth:`remove`."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        """Delete the segment once everything in it is safely in Parquet."""
        self.close()
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)


@dataclass
class ReplayedSegment:
    """A segment left by a writer that is gone, read back entry by entry."""

    path: Path
    payloads: list[bytes]
    damaged: bool
    fd: int

    def release(self, quarantine: Path) -> None:
        """Remove a clean segment, or move a damaged one into ``quarantine`` for inspection."""
        if self.damaged:
            quarantine.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, quarantine / self.path.name)
        else:
            self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        os.close(self.fd)


def _read_entries(data: bytes) -> tuple[list[bytes], bool]:
    payloads, offset = [], 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return payloads, True
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length > MAX_ENTRY_BYTES or end > len(data) or zlib.crc32(data[start:end]) != crc:
            return payloads, True
        payloads.append(data[start:end])
        offset = end
    return payloads, False


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _lock_abandoned(path: Path) -> int | None:
    """An fd holding the lock of ``path`` when its writer is gone; None while it lives (or the
    file has meanwhile been replayed and removed by another process)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if not path.exists():
        os.close(fd)
        return None
    return fd


def claim_orphans(folder: Path) -> Iterator[ReplayedSegment]:
    """Yield the segments in ``folder`` whose writers are gone, each locked while in hand.

    Entries before any damage are returned; a torn tail (a batch that was never acknowledged) or
    other damage marks the segment ``damaged`` so it is moved aside rather than deleted.
    """
    if not folder.is_dir():
        return
    for leftover in folder.glob(f".*{SUFFIX}.new"):
        # A live writer holds its hidden name for microseconds, between create and lock; only a
        # leftover older than that can belong to a writer that died before its first entry.
        if _age(leftover) < _LEFTOVER_SECONDS:
            continue
        fd = _lock_abandoned(leftover)
        if fd is not None:
            leftover.unlink(missing_ok=True)
            os.close(fd)
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        fd = _lock_abandoned(path)
        if fd is None:
            continue
        with open(path, "rb") as handle:
            payloads, damaged = _read_entries(handle.read())
        yield ReplayedSegment(path, payloads, damaged, fd)
