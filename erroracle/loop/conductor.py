"""The continuous loop: every ``loop.crawl_every`` a round crawls the sources; when training is
due (``loop.train_every`` since the last training and ``loop.min_new_records`` new records, or a
burst of ``loop.burst_new_groups`` never-seen error groups) it also trains a candidate from the
champion with the tuned hyperparameters, evaluates it, promotes it or not, and tells Serve to
reload. Every round is appended to ``state/rounds.jsonl``, failures included.

One conductor runs rounds one after another on one thread, so rounds never overlap. A stage that
fails is recorded and the round goes on (a crawl failure does not stop training); the champion
keeps serving whatever happens, and the schedule is kept from the history, so the next ``up``
carries on where the last one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from erroracle.crawlers import crawl
from erroracle.learners.round import run_round
from erroracle.platform.config import Config
from erroracle.platform.lake import open_store
from erroracle.platform.lake_reader import open_reader
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry
from erroracle.platform.round_history import RoundHistory, iso_utc
from erroracle.platform.store import ErrorReader, ErrorStore

__all__ = ["Conductor", "TrainDue"]

log = logging.getLogger("erroracle.loop")


@dataclass(frozen=True)
class TrainDue:
    """Whether a round should train, and why (``reason`` goes into the round's record)."""

    due: bool
    reason: str
    new_records: int
    new_groups: int
    burst: bool = False


class Conductor:
    """Runs rounds on the schedule of ``config.loop``.

    Args:
        config: the installation's config.
        reload: tells the serving side that a new champion is in the registry.
        say: where one-line progress goes (the ``up`` command prints it).
        train_options: extra keyword arguments for :func:`~erroracle.learners.round.run_round`.
        clock: seconds since the epoch (tests pass their own).
    """

    def __init__(self, config: Config, *, reload: Callable[[], None] = lambda: None,
                 say: Callable[[str], None] = log.info,
                 train_options: dict[str, Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.history = RoundHistory(config.data_root)
        self.reload = reload
        self.say = say
        self.train_options = train_options or {}
        self.clock = clock
        self.stop = threading.Event()

    # -- the schedule ---------------------------------------------------------------------------

    def next_round_at(self, now: float) -> float:
        """A crawl interval after the last round started; ``now`` when there was none."""
        return self.history.next_round_at(self.config.loop.crawl_every, now)

    def train_due(self, lake: ErrorReader, now: float) -> TrainDue:
        """Training is due on time with enough new records, or early on a burst of new groups."""
        loop = self.config.loop
        champion = Registry(self.config.data_root).champion()
        last = self.history.last("train")
        base = max(last["started_ts"] if last else 0.0,
                   _created(self.config.data_root, champion) if champion else 0.0)
        since = datetime.fromtimestamp(base, timezone.utc)
        table = lake.read_table(columns=["fingerprint", "received_at"])
        after = _received_after(table, since)
        newer = table.filter(after)
        older = set(table.filter(pc.invert(after))["fingerprint"].to_pylist())
        new_groups = len(set(newer["fingerprint"].to_pylist()) - older)
        new_records = newer.num_rows
        if loop.burst_new_groups and new_groups >= loop.burst_new_groups:
            return TrainDue(True, f"burst: {new_groups} new error groups", new_records, new_groups,
                            burst=True)
        next_training = self.history.next_training_at(loop.train_every, now)
        if now < next_training:
            return TrainDue(False, f"next training due at {iso_utc(next_training)}",
                            new_records, new_groups)
        if new_records < loop.min_new_records:
            return TrainDue(False, f"{new_records} new records, fewer than "
                            f"loop.min_new_records ({loop.min_new_records})",
                            new_records, new_groups)
        return TrainDue(True, f"{new_records} new records since the last training",
                        new_records, new_groups)

    def burst(self) -> bool:
        """A burst of new error groups, checked between rounds."""
        if not self.config.loop.burst_new_groups:
            return False
        return self.train_due(open_reader(self.config), self.clock()).burst

    # -- running --------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Rounds on schedule until ``stop`` is set (a round in progress finishes its stage; a
        stage that waits for resources ends at once)."""
        self.stop = stop
        while not stop.is_set():
            now = self.clock()
            if now >= self.next_round_at(now):
                self.run_round("scheduled")
            elif self.burst():
                self.run_round("burst of new error groups")
            now = self.clock()
            stop.wait(max(0.2, min(self.next_round_at(now) - now, self.config.loop.check_every)))

    def run_round(self, trigger: str = "manual") -> dict[str, Any]:
        """One round, recorded whatever happens; returns its record."""
        started = self.clock()
        previous = self.history.last()
        entry: dict[str, Any] = {
            "round": (previous["round"] + 1) if previous else 1, "trigger": trigger,
            "started": iso_utc(started), "started_ts": started, "stages": {},
        }
        self.say(f"round {entry['round']} started ({trigger})")
        self.history.enter(entry, "crawl", started)
        with open_store(self.config, background=False) as store:  # the crawl writes
            self._crawl(entry, store, RecordPreparer.for_config(self.config))
        lake = open_reader(self.config)  # the rest only reads
        due = self.train_due(lake, started)
        entry["new_records"], entry["new_groups"] = due.new_records, due.new_groups
        if due.due:
            self.history.enter(entry, "train and evaluate", self.clock())
            self._train(entry, lake, due.reason)
        else:
            entry.update(decision="skipped", why=due.reason)
        counts = lake.counts_by_source()
        before = (previous or {}).get("lake", {})
        entry["lake"] = counts
        entry["records_seen"] = {source: count - before.get(source, 0)
                                 for source, count in counts.items()
                                 if count != before.get(source, 0)}
        ended = self.clock()
        entry.update(ended=iso_utc(ended), seconds=round(ended - started, 3))
        self.history.append(entry)
        self.say(f"round {entry['round']} ended in {entry['seconds']:.0f} s: "
                 f"{entry['decision']} ({entry['why']})")
        return entry

    def _crawl(self, entry: dict[str, Any], store: ErrorStore, prepare: Any) -> None:
        started = time.perf_counter()
        stage: dict[str, Any] = {}
        try:
            summaries = asyncio.run(crawl(self.config, store, prepare))
            stage["sources"] = {s.source: {
                "new": s.new, "updated": s.updated, "unchanged": s.unchanged,
                "skipped": s.skipped, "requests": s.requests,
                "waited_seconds": round(s.waited_seconds, 3), "error": s.errors[0] if s.errors
                else None} for s in summaries}
            for summary in summaries:
                self.say(f"  crawl {summary.line()}")
        except Exception as exc:  # a crawl failure must not stop the round
            log.exception("the crawl stage failed")
            stage["error"] = f"{type(exc).__name__}: {exc}"
        stage["seconds"] = round(time.perf_counter() - started, 3)
        entry["stages"]["crawl"] = stage

    def _train(self, entry: dict[str, Any], lake: ErrorReader, reason: str) -> None:
        registry = Registry(self.config.data_root)
        champion = registry.champion()
        started = time.perf_counter()
        self.say(f"  training a candidate from {champion or 'the base encoder'} ({reason})")
        try:
            result = _in_thread(run_round, self.config, lake, registry, cancel=self.stop,
                                **self.train_options)
        except Exception as exc:  # the champion keeps serving; the next round runs on time
            log.exception("the training stage failed")
            entry["stages"]["train"] = {"seconds": round(time.perf_counter() - started, 3),
                                        "error": f"{type(exc).__name__}: {exc}"}
            entry.update(decision="failed", champion=champion,
                         why=f"training failed ({type(exc).__name__}: {exc}); "
                             f"{champion} keeps serving")
            return
        total = time.perf_counter() - started
        entry["stages"]["train"] = {"seconds": round(result.train_seconds, 3),
                                    "samples_per_s": round(result.samples_per_s, 1)}
        entry["stages"]["evaluate"] = {"seconds": round(total - result.train_seconds, 3)}
        entry.update(candidate=result.version, metrics=result.candidate,
                     champion_metrics=result.champion, why=result.decision.reason,
                     decision="promoted" if result.promoted else "kept")
        entry["champion"] = result.version if result.promoted else champion
        if result.promoted:
            self._reload(entry)

    def _reload(self, entry: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            self.reload()
            entry["stages"]["reload"] = {"seconds": round(time.perf_counter() - started, 3)}
        except Exception as exc:  # Serve also polls the registry, so it still catches up
            log.exception("telling Serve to reload failed")
            entry["stages"]["reload"] = {"seconds": round(time.perf_counter() - started, 3),
                                         "error": f"{type(exc).__name__}: {exc}"}


def _in_thread(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``work`` on a thread of its own, waited for here. Ray Train takes over SIGINT when it runs
    on the main thread; off it, the caller's Ctrl-C handling stays in charge."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work(*args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="erroracle-round", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _created(data_root: str, version: str) -> float:
    created = Registry(data_root).info(version).created_at
    return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()


def _received_after(table: pa.Table, since: datetime) -> pa.ChunkedArray:
    return pc.fill_null(pc.greater(table["received_at"], pa.scalar(since)), False)
