"""Giving each record of a batch its issue, and saying which issues the batch opened or
reopened (the alerts of ``platform.alerts`` start from them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from erroracle.platform.fingerprint import record_template
from erroracle.platform.issue_book import IssueBook, Observation
from erroracle.platform.issues import issue_id
from erroracle.platform.records import ErrorRecord

if TYPE_CHECKING:
    from erroracle.platform.store import ErrorReader

__all__ = ["IssueChanges", "assign_issues", "reopen_counted_ignores"]


@dataclass(frozen=True)
class IssueChanges:
    """What a batch did to the issues: the issue of each fingerprint, the issues it opened
    (every fingerprint of them new in this batch) and the status lines of those it reopened."""

    issues: dict[str, str]
    opened: list[str] = field(default_factory=list)
    reopened: list[dict[str, Any]] = field(default_factory=list)


def assign_issues(book: IssueBook, records: Sequence[ErrorRecord]) -> IssueChanges:
    """The issue of each fingerprint in ``records``; new fingerprints go into the book first
    (their templates are computed only then: most batches hold known fingerprints only). A
    resolved issue that occurs again is reopened (``IssueBook.regress``)."""
    issue_of = book.issue_of
    found: dict[str, str | None] = {}
    unknown: list[Observation] = []
    for record in records:
        fp = record.fingerprint
        if fp is None or fp in found:
            continue
        issue = found[fp] = issue_of(fp)
        if issue is None:
            unknown.append((fp, record_template(record), record.error_type))
    opened: list[str] = []
    if unknown:
        book.observe(unknown)  # may merge issues already found: resolve them all again
        found = {fp: issue_of(fp) for fp in found}
        # an issue is new when its id is that of a fingerprint new in this batch (ids come
        # from the founding fingerprint); one that joined an older issue has the older id
        founded = {issue_id(fp) for fp, _, _ in unknown}
        opened = sorted({found[record.fingerprint] for record in records
                         if record.source == "app" and found.get(record.fingerprint or "")
                         in founded})  # type: ignore[misc]
    reopened = book.regress((found[record.fingerprint], record.release, record.received_at)
                            for record in records  # only an app's report is an occurrence
                            if found.get(record.fingerprint or "") and record.source == "app")
    return IssueChanges(found, opened, reopened)  # type: ignore[arg-type]


def reopen_counted_ignores(store: ErrorReader) -> list[dict[str, Any]]:
    """Reopen each issue ignored "for N events" once N events arrived after the ignore; returns
    the status lines written. The issue book of ``store`` must be writable."""
    book = store.issues
    book.refresh()
    reopened = []
    for issue, status in book.counted_ignores():
        if store.events_since(issue, datetime.fromisoformat(status.since or "")) >= (
                status.events or 0):
            entry = book.set_status(issue, {"status": "unresolved"}, by="erroracle")
            reopened.append(entry)
    return reopened
