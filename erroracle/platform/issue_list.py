"""The issue list people search: filters, tabs by status, sort, pages and a sparkline.

:func:`select` filters, counts, sorts and pages an issue table (``platform.issue_summary``) with
Arrow kernels, so a query over 100,000 issues touches only the page it returns. The API's
``GET /api/v1/issues`` and the dashboard's list both answer through it, from the summary the
lake reader keeps up to date file by file.

Example:
    >>> query = IssueQuery.parse({"status": "unresolved", "q": "timeout", "sort": "last_seen"})
    >>> query.status, query.sort
    ('unresolved', 'last_seen')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from erroracle.errors import UnprocessableError
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.issue_summary import ORDER, FingerprintParts, issue_table
from erroracle.platform.lexical import LexicalIndex, words

__all__ = ["SORTS", "SOURCES", "TABS", "IssueQuery", "issue_list", "select", "similar_issues"]

#: The status tabs; "unresolved" also shows regressed issues, which need a look as much.
TABS = ("unresolved", "regressed", "resolved", "ignored", "all")
SORTS = ("count", "recent", "last_seen", "first_seen")  # recent: events in the last 24 hours
#: Whose issues: the apps' own errors by default; crawled and bundled ones only when asked for.
SOURCES = ("app", "stackoverflow", "reddit", "github", "knowledge", "all")


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


def _has(lists: pa.ChunkedArray, value: str) -> np.ndarray:
    """Which rows of a list column hold ``value``."""
    lists = lists.combine_chunks()
    hits = pc.filter(pc.list_parent_indices(lists), pc.equal(pc.list_flatten(lists), value))
    mask = np.zeros(len(lists), bool)
    mask[hits.to_numpy(zero_copy_only=False)] = True
    return mask


def _matching(table: pa.Table, query: IssueQuery) -> pa.Table:
    if not (query.error_type or query.service or query.environment or query.q):
        return table
    mask = np.ones(table.num_rows, bool)
    if query.error_type:
        mask &= pc.fill_null(pc.equal(table["error_type"], query.error_type), False).to_numpy(
            zero_copy_only=False)
    for name, wanted in (("services", query.service), ("environments", query.environment)):
        if wanted:
            mask &= _has(table[name], wanted)
    if query.q:
        found = np.zeros(table.num_rows, bool)
        for name in ("issue", "error_type", "message"):
            found |= pc.fill_null(pc.match_substring(table[name], query.q, ignore_case=True),
                                  False).to_numpy(zero_copy_only=False)
        mask &= found
    return table.filter(pa.array(mask))


def _tab(status: pa.ChunkedArray, tab: str) -> pa.Array:
    shown = ["unresolved", "regressed"] if tab == "unresolved" else [tab]
    return pc.is_in(status, value_set=pa.array(shown))


def select(issues: pa.Table, query: IssueQuery) -> dict[str, Any]:
    """One page of an issue table (``issue_summary.issue_table``, already in the order of
    ``query.sort``) that ``query`` asks for, the number that matched (``total``), and how many
    of the matching issues each tab holds. Filters keep the order, so nothing is sorted here."""
    matching = _matching(issues, query)
    by_status = {row["values"]: row["counts"]
                 for row in pc.value_counts(matching["status"]).to_pylist()}
    tabs = {tab: by_status.get(tab, 0) for tab in TABS}
    tabs["unresolved"] += tabs["regressed"]
    tabs["all"] = matching.num_rows
    shown = matching if query.status == "all" else matching.filter(
        _tab(matching["status"], query.status))
    page = shown.slice(query.offset, query.limit)
    return {"issues": page.to_pylist(), "total": shown.num_rows, "tabs": tabs,
            "offset": query.offset, "limit": query.limit}


def issue_list(table: pa.Table, book: IssueBook, query: IssueQuery,
               now: datetime | None = None) -> dict[str, Any]:
    """:func:`select` over the issues of records ``table`` (with ``PART_COLUMNS``), folded
    and sorted here: for stores without a summary kept up to date (``IssueSummary``)."""
    book.refresh()
    folded = issue_table(FingerprintParts.of(table), book, query.source, now)
    return select(folded.sort_by(ORDER[query.sort]), query)


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
