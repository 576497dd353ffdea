"""The record of every round, one JSON line each in ``<data_root>/state/rounds.jsonl``.

Object storage cannot append, so a round rewrites the file whole (atomically); rounds are few
(one every crawl interval), and the file is capped at ``keep`` lines.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform.atomic import put_file

__all__ = ["RoundHistory", "iso_utc"]


def iso_utc(seconds: float) -> str:
    """Seconds since the epoch as an ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


class RoundHistory:
    """Reads and appends the rounds of one data root."""

    def __init__(self, data_root: str, keep: int = 10_000) -> None:
        try:
            self._fs, root = pafs.FileSystem.from_uri(data_root)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"data_root {data_root!r}: {exc}") from exc
        self.path = f"{root.rstrip('/')}/state/rounds.jsonl"
        self.keep = keep

    def rounds(self) -> list[dict[str, Any]]:
        """Every round recorded, oldest first; a torn last line (a kill mid-write) is skipped."""
        try:
            with self._fs.open_input_stream(self.path) as stream:
                text = stream.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc}") from exc
        found = []
        for line in text.splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def last(self, where: str | None = None) -> dict[str, Any] | None:
        """The newest round, or the newest in which stage ``where`` ran."""
        for entry in reversed(self.rounds()):
            if where is None or where in entry.get("stages", {}):
                return entry
        return None

    def next_round_at(self, crawl_every: float, now: float) -> float:
        """When the next round is due: a crawl interval after the last round started."""
        last = self.last()
        return last["started_ts"] + crawl_every if last else now

    def next_training_at(self, train_every: float, now: float) -> float:
        """The earliest the next training may run (it also needs enough new records)."""
        last = self.last("train")
        return last["started_ts"] + train_every if last else now

    def append(self, entry: dict[str, Any]) -> None:
        lines = [json.dumps(r, sort_keys=True) for r in self.rounds()[-(self.keep - 1):]]
        lines.append(json.dumps(entry, sort_keys=True, default=str))
        data = ("\n".join(lines) + "\n").encode()
        put_file(self._fs, self.path, lambda stream: stream.write(data))
