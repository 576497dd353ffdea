"""The issue list people search: filters, tabs by status, sort, pages and a sparkline.

One pass over the lake's live occurrences (feedback is not one) groups them by fingerprint with
the services and environments they came from and their hourly counts over the last day; the
issue book folds fingerprints into issues and says each one's status. The API's
``GET /api/v1/issues`` and the dashboard's list both answer from :func:`issue_list`.

Example:
    >>> query = IssueQuery.parse({"status": "unresolved", "q": "timeout", "sort": "last_seen"})
    >>> query.status, query.sort
    ('unresolved', 'last_seen')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from erroracle.errors import UnprocessableError
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.lexical import LexicalIndex, words

__all__ = ["LIST_COLUMNS", "SORTS", "SOURCES", "TABS", "IssueQuery", "issue_list", "similar_issues"]

#: The status tabs; "unresolved" also shows regressed issues, which need a look as much.
TABS = ("unresolved", "regressed", "resolved", "ignored", "all")
SORTS = ("count", "last_seen", "first_seen")
#: Whose issues: the apps' own errors by default; crawled and bundled ones only when asked for.
SOURCES = ("app", "stackoverflow", "reddit", "github", "knowledge", "all")
SPARK_HOURS = 24
LIST_COLUMNS = ["fingerprint", "received_at", "error_type", "message", "service", "environment",
            "source"]


@dataclass(frozen=True)
class IssueQuery:
    """What a person asked the list for."""

    status: str = "unresolved"
    source: str = "app"
    q: str = ""
    error_type: str = ""
    service: str = ""
    environment: str = ""
    sort: str = "count"
    limit: int = 50
    offset: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> IssueQuery:
        """From query parameters (``type`` names the error type).

        Raises:
            UnprocessableError: an unknown tab or sort, or a limit or offset out of range.
        """
        status = params.get("status") or "unresolved"
        if status not in TABS:
            raise UnprocessableError(f"must be one of {', '.join(TABS)}", field="status")
        sort = params.get("sort") or "count"
        if sort not in SORTS:
            raise UnprocessableError(f"must be one of {', '.join(SORTS)}", field="sort")
        source = params.get("source") or "app"
        if source not in SOURCES:
            raise UnprocessableError(f"must be one of {', '.join(SOURCES)}", field="source")
        return cls(status=status, source=source, q=(params.get("q") or "").strip(),
                   error_type=(params.get("type") or "").strip(),
                   service=(params.get("service") or "").strip(),
                   environment=(params.get("environment") or "").strip(),
                   sort=sort, limit=_bounded(params, "limit", 50, 1, 1000),
                   offset=_bounded(params, "offset", 0, 0, 10_000_000))


def _bounded(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text in (None, ""):
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise UnprocessableError(f"must be an integer from {low} to {high}", field=name)
    return int(text)


def _fingerprint_rows(table: pa.Table, now: datetime) -> list[dict[str, Any]]:
    grouped = table.group_by("fingerprint", use_threads=False).aggregate([
        ("received_at", "count"), ("received_at", "min"), ("received_at", "max"),
        ("error_type", "first"), ("message", "first"),
        ("service", "distinct"), ("environment", "distinct"),
    ]).to_pylist()
    start = now - timedelta(hours=SPARK_HOURS)
    recent = table.filter(pc.greater_equal(
        table["received_at"], pa.scalar(start, table.schema.field("received_at").type)))
    hour = pc.divide(pc.cast(pc.subtract(recent["received_at"], pa.scalar(start)), pa.int64()),
                     3_600_000_000)
    spark: dict[str, list[int]] = {}
    counted = pa.table({"fingerprint": recent["fingerprint"], "hour": hour}).group_by(
        ["fingerprint", "hour"], use_threads=False).aggregate([("hour", "count")])
    for fp, slot, count in zip(*(counted[name].to_pylist()
                                 for name in ("fingerprint", "hour", "hour_count")), strict=True):
        spark.setdefault(fp, [0] * SPARK_HOURS)[min(slot, SPARK_HOURS - 1)] += count
    for row in grouped:
        row["spark"] = spark.get(row["fingerprint"], [0] * SPARK_HOURS)
    return grouped


def _issues(rows: list[dict[str, Any]], book: IssueBook) -> dict[str, dict[str, Any]]:
    issues: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: -r["received_at_count"]):
        issue_id = book.issue_of(row["fingerprint"]) or row["fingerprint"]
        issue = issues.get(issue_id)
        if issue is None:
            issues[issue_id] = {
                "issue": issue_id, "count": row["received_at_count"],
                "first_seen": row["received_at_min"], "last_seen": row["received_at_max"],
                "error_type": row["error_type_first"], "message": row["message_first"],
                "fingerprints": [row["fingerprint"]],
                "services": set(row["service_distinct"]) - {None},
                "environments": set(row["environment_distinct"]) - {None},
                "spark": list(row["spark"]),
            }
            continue
        issue["count"] += row["received_at_count"]
        issue["first_seen"] = min(issue["first_seen"], row["received_at_min"])
        issue["last_seen"] = max(issue["last_seen"], row["received_at_max"])
        issue["fingerprints"].append(row["fingerprint"])
        issue["services"] |= set(row["service_distinct"]) - {None}
        issue["environments"] |= set(row["environment_distinct"]) - {None}
        issue["spark"] = [a + b for a, b in zip(issue["spark"], row["spark"], strict=True)]
    for issue in issues.values():
        issue["status"] = book.status_of(issue["issue"]).status
        issue["services"] = sorted(issue["services"])
        issue["environments"] = sorted(issue["environments"])
    return issues


def _in_tab(status: str, tab: str) -> bool:
    return tab == "all" or status == tab or (tab == "unresolved" and status == "regressed")


def _matches(issue: dict[str, Any], query: IssueQuery) -> bool:
    if query.error_type and issue["error_type"] != query.error_type:
        return False
    if query.service and query.service not in issue["services"]:
        return False
    if query.environment and query.environment not in issue["environments"]:
        return False
    if query.q:
        needle = query.q.casefold()
        haystack = " ".join(filter(None, (issue["issue"], issue["error_type"], issue["message"])))
        return needle in haystack.casefold()
    return True


def issue_list(table: pa.Table, book: IssueBook, query: IssueQuery,
               now: datetime | None = None) -> dict[str, Any]:
    """One page of the issues in ``table`` (records with ``LIST_COLUMNS``) that ``query`` asks for,
    the number that matched (``total``), and how many of the matching issues each tab holds."""
    wanted = (pc.not_equal(table["source"], "feedback") if query.source == "all"
              else pc.equal(table["source"], query.source))
    table = table.filter(pc.fill_null(pc.and_(pc.is_valid(table["fingerprint"]), wanted), False))
    book.refresh()
    issues = _issues(_fingerprint_rows(table, now or datetime.now(UTC)), book)
    matching = [issue for issue in issues.values() if _matches(issue, query)]
    tabs = {tab: sum(_in_tab(issue["status"], tab) for issue in matching) for tab in TABS}
    shown = [issue for issue in matching if _in_tab(issue["status"], query.status)]
    descending = {"count": lambda i: (-i["count"], i["issue"]),
                  "last_seen": lambda i: (-i["last_seen"].timestamp(), i["issue"]),
                  "first_seen": lambda i: (-i["first_seen"].timestamp(), i["issue"])}
    shown.sort(key=descending[query.sort])
    return {"issues": shown[query.offset:query.offset + query.limit], "total": len(shown),
            "tabs": tabs, "offset": query.offset, "limit": query.limit}


def similar_issues(issues: list[dict[str, Any]], issue: str, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` issues whose type and message read most like ``issue``'s (BM25 over the issue
    list's ``error_type`` and ``message``), best first; those that share no word are left out."""
    mine = next((one for one in issues if one["issue"] == issue), None)
    others = [one for one in issues if one["issue"] != issue]
    if mine is None or not others:
        return []

    def text(one: dict[str, Any]) -> str:
        return f"{one['error_type'] or ''} {one['message'] or ''}"
    scores = LexicalIndex([words(text(one)) for one in others]).scores(text(mine))
    ranked = sorted(range(len(others)), key=lambda i: -scores[i])[:k]
    return [{**others[i], "similarity": round(float(scores[i]), 3)}
            for i in ranked if scores[i] > 0]
