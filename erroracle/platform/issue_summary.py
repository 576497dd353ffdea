"""What the issue list is made of: per-fingerprint counts, kept up to date file by file.

The list must answer in milliseconds over millions of events, so it never groups the events per
request. :class:`FingerprintParts` holds, per fingerprint and source, the event count, first
and last seen, a type and message, the (service, environment) pairs seen and the events in each
hour of the last day. Parquet files never change once written, so :class:`IssueSummary` adds
each new file's parts to what it holds and reads a file only once; a deletion (a new tombstone)
makes it start again. :func:`issue_table` folds the parts into issues through the issue book,
once per change of the parts, the book or the hour, and the list (``platform.issue_list``)
filters, sorts and pages that table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from erroracle.platform.issue_book import IssueBook

__all__ = ["ORDER", "PART_COLUMNS", "SPARK_HOURS", "FingerprintParts", "IssueSummary",
           "issue_table"]

SPARK_HOURS = 24
PART_COLUMNS = ["fingerprint", "source", "received_at", "error_type", "message", "service",
                "environment"]
_HOUR_US = 3_600_000_000
#: The orders the list can be in; ties go to the issue id, so pages never overlap.
ORDER = {"count": [("count", "descending"), ("issue", "ascending")],
         "recent": [("recent", "descending"), ("count", "descending"), ("issue", "ascending")],
         "last_seen": [("last_seen", "descending"), ("issue", "ascending")],
         "first_seen": [("first_seen", "descending"), ("issue", "ascending")]}
_KEYS = ["fingerprint", "source"]


def _hour_of(times: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.divide(pc.cast(pc.cast(times, pa.timestamp("us", "UTC")), pa.int64()), _HOUR_US)


@dataclass(frozen=True)
class FingerprintParts:
    """Aggregates of some records (feedback left out): ``counts`` per fingerprint and source,
    their ``places`` (distinct service and environment pairs) and ``hours`` (events per hour
    since the day before the newest record)."""

    counts: pa.Table
    places: pa.Table
    hours: pa.Table

    @classmethod
    def of(cls, table: pa.Table) -> FingerprintParts:
        table = table.filter(pc.fill_null(pc.and_(pc.is_valid(table["fingerprint"]),
                                                  pc.not_equal(table["source"], "feedback")),
                                          False))
        counts = table.group_by(_KEYS, use_threads=False).aggregate([
            ("received_at", "count"), ("received_at", "min"), ("received_at", "max"),
            ("error_type", "first"), ("message", "first")]).rename_columns(
            [*_KEYS, "count", "first_seen", "last_seen", "error_type", "message"]) \
            if table.num_rows else _empty_counts()
        places = table.group_by([*_KEYS, "service", "environment"], use_threads=False
                                ).aggregate([]) if table.num_rows else _empty_places()
        hours = pa.table({**{key: table[key] for key in _KEYS},
                          "hour": _hour_of(table["received_at"])}).group_by(
            [*_KEYS, "hour"], use_threads=False).aggregate([("hour", "count")]).rename_columns(
            [*_KEYS, "hour", "events"]) if table.num_rows else _empty_hours()
        return cls(counts, places, hours)

    def merged(self, other: FingerprintParts, now_hour: int) -> FingerprintParts:
        counts = pa.concat_tables([self.counts, other.counts]).group_by(
            _KEYS, use_threads=False).aggregate([
                ("count", "sum"), ("first_seen", "min"), ("last_seen", "max"),
                ("error_type", "first"), ("message", "first")]).rename_columns(
            [*_KEYS, "count", "first_seen", "last_seen", "error_type", "message"])
        places = pa.concat_tables([self.places, other.places]).group_by(
            [*_KEYS, "service", "environment"], use_threads=False).aggregate([])
        hours = pa.concat_tables([self.hours, other.hours])
        hours = hours.filter(pc.greater(hours["hour"], now_hour - SPARK_HOURS)).group_by(
            [*_KEYS, "hour"], use_threads=False).aggregate([("events", "sum")]).rename_columns(
            [*_KEYS, "hour", "events"])
        return FingerprintParts(counts, places, hours)


def _empty_counts() -> pa.Table:
    ts = pa.timestamp("us", "UTC")
    return pa.table({"fingerprint": pa.array([], pa.string()), "source": pa.array([], pa.string()),
                     "count": pa.array([], pa.int64()), "first_seen": pa.array([], ts),
                     "last_seen": pa.array([], ts), "error_type": pa.array([], pa.string()),
                     "message": pa.array([], pa.string())})


def _empty_places() -> pa.Table:
    return pa.table({name: pa.array([], pa.string())
                     for name in [*_KEYS, "service", "environment"]})


def _empty_hours() -> pa.Table:
    return pa.table({"fingerprint": pa.array([], pa.string()), "source": pa.array([], pa.string()),
                     "hour": pa.array([], pa.int64()), "events": pa.array([], pa.int64())})


def _in_sources(table: pa.Table, source: str) -> pa.Table:
    return table if source == "all" else table.filter(pc.equal(table["source"], source))


def issue_table(parts: FingerprintParts, book: IssueBook, source: str,
                now: datetime | None = None) -> pa.Table:
    """One row per issue of ``source`` ("all": every source): its count, first and last seen,
    type and message (of its biggest fingerprint), fingerprints, services, environments, status,
    ``spark`` (events in each of the last ``SPARK_HOURS`` hours) and ``recent`` (their sum)."""
    now_hour = int((now or datetime.now(UTC)).timestamp() // 3600)
    counts = _in_sources(parts.counts, source).sort_by([("count", "descending"),
                                                        ("fingerprint", "ascending")])
    issues: dict[str, dict[str, Any]] = {}
    issue_of: dict[str, str] = {}
    for row in counts.to_pylist():
        fp = row["fingerprint"]
        issue_id = issue_of.setdefault(fp, book.issue_of(fp) or fp)
        issue = issues.get(issue_id)
        if issue is None:
            issues[issue_id] = {**row, "issue": issue_id, "fingerprints": [fp],
                                "services": set(), "environments": set(),
                                "spark": [0] * SPARK_HOURS}
            continue
        issue["count"] += row["count"]
        issue["first_seen"] = min(issue["first_seen"], row["first_seen"])
        issue["last_seen"] = max(issue["last_seen"], row["last_seen"])
        if fp not in issue["fingerprints"]:
            issue["fingerprints"].append(fp)
    for fp, service, environment in _rows(_in_sources(parts.places, source),
                                          ["fingerprint", "service", "environment"]):
        issue = issues[issue_of[fp]]
        if service:
            issue["services"].add(service)
        if environment:
            issue["environments"].add(environment)
    for fp, hour, events in _rows(_in_sources(parts.hours, source),
                                  ["fingerprint", "hour", "events"]):
        slot = SPARK_HOURS - 1 - (now_hour - hour)
        if 0 <= slot < SPARK_HOURS:
            issues[issue_of[fp]]["spark"][slot] += events
    rows = list(issues.values())
    for issue in rows:
        issue["status"] = book.status_of(issue["issue"]).status
        issue["recent"] = sum(issue["spark"])
        issue["services"] = sorted(issue["services"])
        issue["environments"] = sorted(issue["environments"])
        del issue["fingerprint"], issue["source"]
    return pa.Table.from_pylist(rows, schema=_ISSUE_SCHEMA)


_ISSUE_SCHEMA = pa.schema([
    ("issue", pa.string()), ("count", pa.int64()),
    ("first_seen", pa.timestamp("us", "UTC")), ("last_seen", pa.timestamp("us", "UTC")),
    ("error_type", pa.string()), ("message", pa.string()),
    ("fingerprints", pa.list_(pa.string())), ("services", pa.list_(pa.string())),
    ("environments", pa.list_(pa.string())), ("spark", pa.list_(pa.int64())),
    ("status", pa.string()), ("recent", pa.int64())])


def _rows(table: pa.Table, names: list[str]) -> Iterable[tuple[Any, ...]]:
    return zip(*(table[name].to_pylist() for name in names), strict=True)


class IssueSummary:
    """The parts of a lake reader's files, added file by file, and the issue tables folded
    from them (one per source, rebuilt when the parts, the issue log or the hour change)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.files: set[str] = set()
        self.parts = FingerprintParts(_empty_counts(), _empty_places(), _empty_hours())
        self.deletions = -1
        self._version = 0
        self._tables: dict[str, _Folded] = {}

    def refresh(self) -> None:
        """Take in the files written since the last refresh (all of them after a deletion)."""
        with self._lock:
            self.reader.tombstones()
            if self.reader.deletions != self.deletions:
                self._reset()
                self.deletions = self.reader.deletions
            new = sorted(set(self.reader.event_files()) - self.files)
            if not new:
                return
            table = self.reader.read_files(new, PART_COLUMNS)
            now_hour = int(datetime.now(UTC).timestamp() // 3600)
            self.parts = self.parts.merged(FingerprintParts.of(table), now_hour)
            self.files.update(new)
            self._version += 1

    def table(self, source: str, book: IssueBook, sort: str) -> pa.Table:
        """The issue table of ``source`` in the order of ``sort``: folded again when the parts,
        the grouping or the hour changed; its status column set again when only statuses did;
        each order sorted once per table."""
        self.refresh()
        book.refresh()
        folded = (self._version, book.grouping_changes, int(datetime.now(UTC).timestamp() // 3600))
        with self._lock:
            cached = self._tables.get(source)
            if cached is None or cached.folded != folded:
                cached = self._tables[source] = _Folded(folded, issue_table(self.parts, book,
                                                                            source))
                cached.statuses = book.status_changes
            elif cached.statuses != book.status_changes:
                cached.restatus(book)
            return cached.sorted(sort)


class _Folded:
    """One folded issue table and its sorted copies."""

    def __init__(self, folded: tuple[int, int, int], table: pa.Table) -> None:
        self.folded, self.table, self.statuses = folded, table, 0
        self._sorted: dict[str, pa.Table] = {}

    def restatus(self, book: IssueBook) -> None:
        status = pa.array([book.status_of(issue).status for issue in
                           self.table["issue"].to_pylist()], pa.string())
        self.table = self.table.set_column(self.table.schema.get_field_index("status"),
                                           "status", status)
        self.statuses = book.status_changes
        self._sorted.clear()

    def sorted(self, sort: str) -> pa.Table:
        if sort not in self._sorted:
            self._sorted[sort] = self.table.sort_by(ORDER[sort])
        return self._sorted[sort]
