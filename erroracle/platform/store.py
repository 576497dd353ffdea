"""The error lake's interface, and an in-memory implementation for tests and tools.

Every store keeps the same promises: ``append`` returns only once the batch is durable (for the
in-memory store, once it is in memory), ids already stored are dropped, and deleted records are
gone from every later read.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from erroracle.errors import ValidationError
from erroracle.platform.issue_assignment import assign_issues
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.issue_list import IssueQuery, issue_list
from erroracle.platform.issue_summary import PART_COLUMNS
from erroracle.platform.records import ARROW_SCHEMA, ErrorRecord, parse_record, records_to_table
from erroracle.platform.spikes import Spike, SpikeDetector, minute_counts

__all__ = [
    "AppendResult",
    "ErrorReader",
    "ErrorStore",
    "InMemoryErrorStore",
    "Tombstones",
    "feedback_copies",
    "group_issues",
    "group_table",
]


@dataclass(frozen=True)
class AppendResult:
    """What one ``append`` did: the ids newly stored, how many were already there, and the
    issue of each fingerprint in the batch (stored or not)."""

    ids: list[str]
    duplicates: int
    issues: dict[str, str] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)
    reopened: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.ids)


@dataclass
class Tombstones:
    """Deletions: ids, and fingerprints with the time of deletion (later arrivals survive)."""

    ids: set[str] = field(default_factory=set)
    fingerprints: dict[str, datetime] = field(default_factory=dict)

    def mask(self, table: pa.Table) -> pa.Array:
        """True for the rows of ``table`` that are still alive."""
        ids = pa.array(sorted(self.ids), pa.string())
        keep = pc.invert(pc.is_in(table["id"], value_set=ids))
        ts_type = ARROW_SCHEMA.field("received_at").type
        for fingerprint, deleted_at in self.fingerprints.items():
            gone = pc.and_(
                pc.equal(table["fingerprint"], fingerprint),
                pc.less_equal(table["received_at"], pa.scalar(deleted_at, ts_type)),
            )
            keep = pc.and_(keep, pc.invert(pc.fill_null(gone, False)))
        return keep

    def apply(self, table: pa.Table) -> pa.Table:
        if not self.ids and not self.fingerprints:
            return table
        return table.filter(self.mask(table))

    def covers(self, record_id: str, fingerprint: str | None, received_at: datetime) -> bool:
        """Whether one record (an index entry, a cached row) is deleted."""
        if record_id in self.ids:
            return True
        deleted_at = self.fingerprints.get(fingerprint or "")
        return deleted_at is not None and received_at <= deleted_at


def feedback_copies(reader: ErrorReader, ids: Sequence[str]) -> list[str]:
    """The feedback records about these records: they carry the record's message, type and
    fingerprint, so deleting a record deletes them too."""
    if not ids:
        return []
    feedback = reader.read_table(sources=["feedback"], columns=["id", "source_id"])
    about = pc.is_in(feedback["source_id"], value_set=pa.array(list(ids), pa.string()))
    return feedback.filter(pc.fill_null(about, False))["id"].to_pylist()


def validate_batch(records: Iterable[Mapping[str, Any] | ErrorRecord]) -> list[ErrorRecord]:
    """Validate a whole batch first, so a bad record rejects the batch and stores nothing."""
    parsed = []
    for index, data in enumerate(records):
        try:
            parsed.append(parse_record(data))
        except ValidationError as exc:
            field_name = f"records[{index}]" + (f".{exc.field}" if exc.field else "")
            raise ValidationError(exc.reason, field=field_name) from exc
    return parsed


def filter_time(table: pa.Table, since: datetime | None, until: datetime | None) -> pa.Table:
    ts_type = ARROW_SCHEMA.field("received_at").type
    if since is not None:
        table = table.filter(pc.greater_equal(table["received_at"], pa.scalar(since, ts_type)))
    if until is not None:
        table = table.filter(pc.less(table["received_at"], pa.scalar(until, ts_type)))
    return table


def group_table(table: pa.Table) -> list[dict[str, Any]]:
    """Fingerprint groups with their size, first and last seen, most frequent first."""
    table = table.filter(pc.is_valid(table["fingerprint"]))
    if table.num_rows == 0:
        return []
    grouped = table.group_by("fingerprint", use_threads=False).aggregate(
        [
            ("id", "count"),
            ("received_at", "min"),
            ("received_at", "max"),
            ("error_type", "first"),
            ("message", "first"),
        ]
    )
    rows = grouped.to_pylist()
    rows.sort(key=lambda row: (-row["id_count"], row["fingerprint"]))
    return [
        {
            "fingerprint": row["fingerprint"],
            "count": row["id_count"],
            "first_seen": row["received_at_min"],
            "last_seen": row["received_at_max"],
            "error_type": row["error_type_first"],
            "message": row["message_first"],
        }
        for row in rows
    ]


def group_issues(groups: list[dict[str, Any]], book: IssueBook) -> list[dict[str, Any]]:
    """Fingerprint groups (most frequent first) folded into their issues. A fingerprint the
    book has not seen (a record stored by a writer that crashed before its issue was logged)
    stands for itself."""
    issues: dict[str, dict[str, Any]] = {}
    for group in groups:
        issue_id = book.issue_of(group["fingerprint"]) or group["fingerprint"]
        issue = issues.get(issue_id)
        if issue is None:
            issues[issue_id] = {"issue": issue_id, **group, "fingerprints": [group["fingerprint"]]}
            del issues[issue_id]["fingerprint"]
            continue
        issue["count"] += group["count"]
        issue["first_seen"] = min(issue["first_seen"], group["first_seen"])
        issue["last_seen"] = max(issue["last_seen"], group["last_seen"])
        issue["fingerprints"].append(group["fingerprint"])
    for issue in issues.values():
        issue["status"] = book.status_of(issue["issue"]).status
    return sorted(issues.values(), key=lambda issue: (-issue["count"], issue["issue"]))


def _by_source(row: dict[str, Any]) -> str:
    return row["source"]


class ErrorReader(abc.ABC):
    """Reads of the error lake, which honour deletions; ``issues`` is its issue layer."""

    issues: IssueBook

    @abc.abstractmethod
    def read_table(
        self,
        *,
        sources: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Every live record (optionally of some sources, ``since <= received_at < until``)."""

    def find(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The live records with these ids, in no particular order."""
        table = self.read_table()
        wanted = pa.array(list(ids), pa.string())
        return table.filter(pc.is_in(table["id"], value_set=wanted)).to_pylist()

    def close(self) -> None:  # noqa: B027 - readers without resources have nothing to close
        """Release resources (a store also flushes)."""

    def counts_by_source(self) -> dict[str, int]:
        table = self.read_table(columns=["source"])
        counts = table.group_by("source").aggregate([("source", "count")]).to_pylist()
        return {row["source"]: row["source_count"] for row in sorted(counts, key=_by_source)}

    def groups(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Fingerprint groups, most frequent first."""
        table = self.read_table(
            columns=["id", "fingerprint", "received_at", "error_type", "message"]
        )
        groups = group_table(table)
        return groups if limit is None else groups[:limit]

    def issue_groups(
        self, limit: int | None = None, *, sources: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Issues with their size, first and last seen and fingerprints, most frequent first."""
        self.issues.refresh()
        table = self.read_table(
            sources=sources, columns=["id", "fingerprint", "received_at", "error_type", "message"]
        )
        issues = group_issues(group_table(table), self.issues)
        return issues if limit is None else issues[:limit]

    def issue_list(self, query: IssueQuery) -> dict[str, Any]:
        """One page of the issue list (``platform.issue_list``), grouped from every record; the
        lake reader answers from a summary it keeps instead."""
        return issue_list(self.read_table(columns=PART_COLUMNS), self.issues, query)

    def issue_map(self, fingerprints: pa.ChunkedArray | pa.Array) -> dict[str, str]:
        """The issue of each distinct fingerprint (those without one are left out)."""
        self.issues.refresh()
        distinct = pc.unique(fingerprints.drop_null()).to_pylist()
        return {fp: issue for fp in distinct if (issue := self.issues.issue_of(fp))}

    def issue(self, issue: str) -> dict[str, Any]:
        """One issue: its event count, first and last seen, the services, hosts and
        environments it occurred in, its events per hour, its status and what made it what it
        is. An id that was merged into another answers with that one (``merged_from``).

        Raises:
            NotFoundError: for an id never given out.
        """
        book = self.issues
        book.refresh()
        current = book.resolve(issue)
        events = self._events_of(current, ["received_at", "error_type", "message", "service",
                                           "host", "environment"])
        first = events.sort_by("received_at").slice(0, 1).to_pylist()
        hours = pc.strftime(events["received_at"], format="%Y-%m-%dT%H:00Z")
        hourly = pa.table({"hour": hours}).group_by("hour").aggregate([("hour", "count")])
        return {
            "issue": current, "merged_from": issue if issue != current else None,
            "count": events.num_rows,
            "first_seen": pc.min(events["received_at"]).as_py(),
            "last_seen": pc.max(events["received_at"]).as_py(),
            "error_type": first[0]["error_type"] if first else None,
            "message": first[0]["message"] if first else None,
            "fingerprints": book.fingerprints(current),
            **{f"{name}s": sorted(pc.unique(events[name].drop_null()).to_pylist())
               for name in ("service", "host", "environment")},
            "hourly": dict(sorted(zip(hourly["hour"].to_pylist(),
                                      hourly["hour_count"].to_pylist(), strict=True))),
            "status": book.status_of(current).to_json(),
            "spikes": [vars(spike) for spike in SpikeDetector().episodes(
                *minute_counts(events["received_at"]))],
            "history": book.changes(issue),
        }

    def spikes(self, *, issue: str | None = None, service: str | None = None) -> list[Spike]:
        """When an issue, or a service's errors, ran far above their usual rate for that time of
        the day and week (``platform.spikes``)."""
        if issue is not None:
            self.issues.refresh()
            times = self._events_of(self.issues.resolve(issue), ["received_at"])["received_at"]
        else:
            table = self.read_table(columns=["received_at", "service", "source"])
            mine = pc.and_(pc.equal(table["service"], service or ""),
                           pc.not_equal(table["source"], "feedback"))
            times = table.filter(pc.fill_null(mine, False))["received_at"]
        return SpikeDetector().episodes(*minute_counts(times))

    def _events_of(self, issue: str, columns: list[str]) -> pa.Table:
        """The occurrences of an issue, in these columns: what apps reported. Feedback about it
        is never one; knowledge-base and crawled records are its events only when no app
        reported it (an issue known from a crawl alone)."""
        fingerprints = pa.array(self.issues.fingerprints(issue), pa.string())
        table = self.read_table(columns=list(dict.fromkeys([*columns, "fingerprint", "source"])))
        table = table.filter(pc.fill_null(pc.and_(
            pc.is_in(table["fingerprint"], value_set=fingerprints),
            pc.not_equal(table["source"], "feedback")), False))
        reported = pc.equal(table["source"], "app")
        if pc.any(reported).as_py():
            table = table.filter(reported)
        return table.select(columns)

    def events_since(self, issue: str, since: datetime) -> int:
        """How many events of an issue arrived after ``since``."""
        times = self._events_of(self.issues.resolve(issue), ["received_at"])["received_at"]
        return int(pc.sum(pc.greater(times, pa.scalar(since, times.type))).as_py() or 0)

    def issue_events(self, issue: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` events of an issue, newest first.

        Raises:
            NotFoundError: for an id never given out.
        """
        self.issues.refresh()
        events = self._events_of(self.issues.resolve(issue), [
            "id", "received_at", "source", "fingerprint", "error_type", "message", "level",
            "service", "environment", "release", "host", "stack_trace", "frames", "tags"])
        return events.sort_by([("received_at", "descending")]).slice(0, limit).to_pylist()

    def __enter__(self) -> ErrorReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ErrorStore(ErrorReader):
    """The error lake to write: durable appends, idempotent by id, and deletion.

    Every append puts new fingerprints into the issue layer first.
    """

    @abc.abstractmethod
    def append(self, records: Iterable[Mapping[str, Any] | ErrorRecord]) -> AppendResult:
        """Store a batch; returns once it is durable. Ids already stored are dropped."""

    @abc.abstractmethod
    def delete(self, *, ids: Sequence[str] = (), fingerprint: str | None = None) -> int:
        """Remove records by id or by fingerprint from every later read; returns how many."""

    def flush(self) -> None:  # noqa: B027 - stores without a buffer have nothing to flush
        """Make everything appended visible to readers in other processes."""

    def __enter__(self) -> ErrorStore:
        return self


class InMemoryErrorStore(ErrorStore):
    """A store held in memory: the same contract, no durability. For tests and tools."""

    def __init__(self) -> None:
        self.issues = IssueBook(None)
        self._rows: dict[str, dict[str, Any]] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def append(self, records: Iterable[Mapping[str, Any] | ErrorRecord]) -> AppendResult:
        batch = validate_batch(records)
        changes = assign_issues(self.issues, batch)
        ids, duplicates = [], 0
        with self._lock:
            for record in batch:
                if record.id in self._seen:
                    duplicates += 1
                    continue
                self._seen.add(record.id)
                self._rows[record.id] = record.to_row()
                ids.append(record.id)
        return AppendResult(ids=ids, duplicates=duplicates, issues=changes.issues,
                            opened=changes.opened, reopened=changes.reopened)

    def read_table(self, *, sources=None, since=None, until=None, columns=None) -> pa.Table:
        with self._lock:
            table = records_to_table(self._rows.values())
        if sources is not None:
            table = table.filter(pc.is_in(table["source"], value_set=pa.array(list(sources))))
        table = filter_time(table, since, until)
        return table.select(list(columns)) if columns else table

    def delete(self, *, ids: Sequence[str] = (), fingerprint: str | None = None) -> int:
        ids = [*ids, *feedback_copies(self, ids)]
        with self._lock:
            doomed = {i for i in ids if i in self._rows}
            if fingerprint is not None:
                doomed |= {i for i, row in self._rows.items() if row["fingerprint"] == fingerprint}
            for record_id in doomed:
                del self._rows[record_id]
            return len(doomed)
