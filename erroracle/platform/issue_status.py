"""An issue's lifecycle: unresolved, resolved (optionally in a release), ignored (optionally
until a date, or until N more events), and regressed when a resolved issue occurs again.

The status is kept as ``status`` lines in the issue log (``platform.issue_book``), so every
replica and reader replays the same history: who changed it, when, from what to what. A
resolution "in release X" is undone only by an event of a later release (compared as versions,
PEP 440 or dotted numbers); an event without a release, or with one that is not a version, does
not count against it. Ignoring "until a date" ends at the first event after that date; ignoring
"for N events" ends once N more have arrived (counted in the lake by
``issue_assignment.reopen_counted_ignores``, which the alerts deployment runs every minute).

Example:
    >>> status = IssueStatus()
    >>> status = status.changed({"status": "resolved", "release": "2.1.0", "at": "2026-01-01"})
    >>> status.regressed_by("2.0.9", "2026-02-01"), status.regressed_by("2.2.0", "2026-02-01")
    (False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from erroracle.errors import UnprocessableError

__all__ = ["STATUSES", "IssueStatus", "status_change"]

#: What a person may set; "regressed" is set by the lake when a resolved issue occurs again.
STATUSES = ("unresolved", "resolved", "ignored")


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@dataclass(frozen=True)
class IssueStatus:
    """Where an issue stands, and since when."""

    status: str = "unresolved"
    since: str | None = None
    by: str | None = None
    release: str | None = None  # resolved in this release
    until: str | None = None  # ignored until this time
    events: int | None = None  # ignored until this many more events

    def changed(self, entry: dict[str, Any]) -> IssueStatus:
        return replace(self, status=entry["status"], since=entry.get("at"), by=entry.get("by"),
                       release=entry.get("release"), until=entry.get("until"),
                       events=entry.get("events"))

    def regressed_by(self, release: str | None, received_at: str | datetime) -> bool:
        """Whether an event (its release, its arrival) reopens this issue."""
        if self.status == "resolved":
            if _time(received_at) <= _time(self.since or received_at):
                return False
            if self.release is None:
                return True
            resolved_in, seen_in = _version(self.release), _version(release)
            return resolved_in is not None and seen_in is not None and seen_in > resolved_in
        if self.status == "ignored" and self.until:
            return _time(received_at) > _time(self.until)
        return False

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "since": self.since, "by": self.by,
                "release": self.release, "until": self.until, "events": self.events}


def status_change(status: str, *, release: str | None = None, until: str | None = None,
                  events: int | None = None) -> dict[str, Any]:
    """The fields of a person's status change, checked.

    Raises:
        UnprocessableError: an unknown status, a release on anything but a resolution, a date
            on anything but an ignore, or a date that is not ISO 8601 with a time zone.
    """
    if status not in STATUSES:
        raise UnprocessableError(f"must be one of {', '.join(STATUSES)}", field="status")
    if release is not None and status != "resolved":
        raise UnprocessableError("only a resolution has a release", field="release")
    if until is not None:
        if status != "ignored":
            raise UnprocessableError("only an ignore has an end", field="until")
        try:
            parsed = datetime.fromisoformat(until)
        except ValueError:
            raise UnprocessableError("must be an ISO 8601 time", field="until") from None
        if parsed.tzinfo is None:
            raise UnprocessableError("must name its time zone (e.g. Z or +00:00)",
                                     field="until")
        until = parsed.isoformat()
    if events is not None:
        if status != "ignored":
            raise UnprocessableError("only an ignore has an end", field="events")
        if isinstance(events, bool) or not isinstance(events, int) or not 1 <= events <= 10**9:
            raise UnprocessableError("must be a whole number from 1 to 1000000000",
                                     field="events")
        return {"status": status, "release": release, "until": until, "events": events}
    return {"status": status, "release": release, "until": until}
