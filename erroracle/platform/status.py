"""One summary of an erroracle installation, for ``erroracle status`` and ``GET /stats``.

Both read the same things the same way and name them the same: ``rounds`` are the loop's rounds
(``state/rounds.jsonl``), ``models`` the registry's versions. What only a running server knows
(what it serves, its cache, what its writer holds unflushed) is added by the route.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from erroracle.platform.config import Config
from erroracle.platform.issue_list import IssueQuery
from erroracle.platform.registry import Registry
from erroracle.platform.round_history import RoundHistory, iso_utc
from erroracle.platform.store import ErrorReader

__all__ = ["status_report"]


def status_report(config: Config, reader: ErrorReader, *, top: int = 10, rounds: int = 5,
                  models: int = 5, source: str = "app") -> dict[str, Any]:
    """The lake by source, the errors of ``source`` (the apps' own by default; ``knowledge``, a
    crawler or ``all`` when asked) by service and environment with their ``top`` issues by
    events in the last day, the champion, the last ``models`` versions and ``rounds`` rounds,
    feedback counts, and when the loop next crawls and trains."""
    by_source = reader.counts_by_source()
    feedback = reader.read_table(sources=["feedback"], columns=["score"])["score"]
    shown = reader.read_table(sources=None if source == "all" else [source],
                              columns=["service", "environment", "source"])
    shown = shown.filter(pc.not_equal(shown["source"], "feedback"))
    registry = Registry(config.data_root)
    champion = registry.champion()
    history = RoundHistory(config.data_root)
    now = time.time()
    lake: dict[str, Any] = {"total": sum(by_source.values()), "by_source": by_source}
    for name in ("quarantined_files", "log_segments"):
        if hasattr(reader, name):
            lake[name] = getattr(reader, name)()
    return {
        "data_root": config.data_root,
        "lake": lake,
        "source": source,
        "errors": {"total": shown.num_rows, "by_service": _counts(shown["service"]),
                   "by_environment": _counts(shown["environment"])},
        "issues": reader.issue_list(IssueQuery(status="all", source=source, sort="recent",
                                               limit=top))["issues"] if top else [],
        "champion": {"version": champion, "metrics": registry.info(champion).metrics}
        if champion else None,
        "models": [{"version": info.version, "created_at": info.created_at,
                    "decision": info.decision}
                   for info in map(registry.info, registry.versions()[-models:] if models else [])],
        "rounds": history.rounds()[-rounds:] if rounds else [],
        "feedback": {"worked": int(pc.sum(pc.greater(feedback, 0)).as_py() or 0),
                     "failed": int(pc.sum(pc.less(feedback, 0)).as_py() or 0)},
        "running": _running(history.running(), now),
        "next_round_at": iso_utc(history.next_round_at(config.loop.crawl_every, now)),
        # before the first training none is scheduled: it runs once enough records arrived
        "next_training_at": iso_utc(history.next_training_at(config.loop.train_every, now))
        if history.trained_before() else None,
        "training_needs_records": config.loop.min_new_records,
    }


def _running(state: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"round": state["round"], "trigger": state["trigger"], "stage": state["stage"],
            "started": iso_utc(state["started_ts"]),
            "seconds": round(now - state["started_ts"]),
            "stage_seconds": round(now - state["stage_started_ts"])}


def _counts(values: pa.ChunkedArray) -> dict[str, int]:
    """Counts by value, largest first; records without one count under "-"."""
    counted = pc.value_counts(pc.fill_null(values, "-")).to_pylist() if len(values) else []
    return {row["values"]: row["counts"]
            for row in sorted(counted, key=lambda row: (-row["counts"], row["values"]))}
