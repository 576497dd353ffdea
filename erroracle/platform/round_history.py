"""The record of every round, one JSON line each in ``<data_root>/state/rounds.jsonl``, and the
round in progress in ``state/round_running.json`` (its stage and since when), so that ``status``
shows a round that is running, or one whose process died mid-stage.

Object storage cannot append, so a round rewrites the file whole (atomically); rounds are few
(one every crawl interval), and the file is capped at ``keep`` lines.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from erroracle.platform.state_files import StateFiles

__all__ = ["RoundHistory", "iso_utc"]

_FILE = "rounds.jsonl"
_RUNNING = "round_running.json"


def iso_utc(seconds: float) -> str:
    """Seconds since the epoch as an ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


class RoundHistory:
    """Reads and appends the rounds of one data root."""

    def __init__(self, data_root: str, keep: int = 10_000) -> None:
        self._state = StateFiles(data_root, "state")
        self.path = self._state.path(_FILE)
        self.keep = keep

    def rounds(self) -> list[dict[str, Any]]:
        """Every round recorded, oldest first; a torn last line (a kill mid-write) is skipped."""
        return self._state.read_lines(_FILE)

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

    def trained_before(self) -> bool:
        return self.last("train") is not None

    def running(self) -> dict[str, Any] | None:
        """The round in progress: its number, trigger, stage and when each began."""
        state = self._state.read(_RUNNING)
        return state if isinstance(state, dict) and state.get("round") else None

    def enter(self, entry: dict[str, Any], stage: str, at: float) -> None:
        """Say that round ``entry`` has begun ``stage``."""
        self._state.write(_RUNNING, {"round": entry["round"], "trigger": entry["trigger"],
                                     "started_ts": entry["started_ts"], "stage": stage,
                                     "stage_started_ts": at})

    def append(self, entry: dict[str, Any]) -> None:
        self._state.write_lines(_FILE, [*self.rounds()[-(self.keep - 1):], entry])
        self._state.write(_RUNNING, {})  # the round is over
