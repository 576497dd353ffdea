"""Benchmark lakes from the real data in ../shared/data: the Stack Overflow sample (community
questions, each with an answer) and Loghub log lines (app errors, no solution)."""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = DATA / "stackoverflow_sample"
_TRACE_HINTS = ("Traceback", "Exception", "Error:", "error:", "at ")


def _text(html: str) -> str:
    return BeautifulSoup(html or "", "html.parser").get_text(" ", strip=True)


def _trace(html: str) -> str:
    for block in BeautifulSoup(html or "", "html.parser").find_all("pre"):
        code = block.get_text()
        if any(hint in code for hint in _TRACE_HINTS):
            return code
    return ""


def so_records() -> list[dict[str, Any]]:
    """One record per question, its answer as the solution; exits when the sample is absent."""
    if not SAMPLE.is_dir():
        sys.exit(f"skipped: {SAMPLE} not found")
    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
    csv.field_size_limit(10_000_000)
    with open(SAMPLE / "answers.csv", newline="", encoding="utf-8") as handle:
        answers = {row["ParentId"]: row for row in csv.DictReader(handle)}
    records = []
    with open(SAMPLE / "questions.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            answer = answers.get(row["Id"])
            author = (answer or row)["OwnerUserId"].split(".")[0]
            records.append({
                "id": f"so-{row['Id']}", "source": "stackoverflow", "source_id": row["Id"],
                "url": f"https://stackoverflow.com/q/{row['Id']}", "title": row["Title"],
                "body": _text(row["Body"]), "stack_trace": _trace(row["Body"]),
                "message": "", "solution": _text(answer["Body"]) if answer else "",
                "score": int(row["Score"] or 0), "license": "CC BY-SA 2.5",
                "author": f"user {author}" if author else None,
                "author_url": f"https://stackoverflow.com/users/{author}" if author else None,
                "occurred_at": row["CreationDate"],
            })
    return records


def loghub_records() -> list[dict[str, Any]]:
    """Every Loghub-2k line of the eight systems as an app error (message, level, service)."""
    folder = DATA / "loghub_dev"
    if not folder.is_dir():
        sys.exit(f"skipped: {folder} not found")
    records = []
    for path in sorted(folder.glob("*/*_2k.log_structured.csv")):
        system = path.parent.name
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                records.append({
                    "id": f"{system}-{row['LineId']}", "source": "app", "service": system,
                    "message": row["Content"], "level": row.get("Level") or None,
                })
    return records


def build_lake(root: Path, *, copies: int = 1, app: bool = False):
    """A lake with the knowledge base and the Stack Overflow sample (``copies`` times, under new
    ids), or, with ``app``, the knowledge base and the Loghub lines."""
    from erroracle.client.scrubber import Scrubber
    from erroracle.knowledge import seed_lake
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.prepare import RecordPreparer

    prepare = RecordPreparer(Scrubber())
    store = ParquetErrorStore(str(root), background=False)
    seed_lake(store, prepare)
    records = loghub_records() if app else so_records()
    for copy in range(copies):
        store.append([prepare({**r, "id": f"{r['id']}-{copy}"}) for r in records])
    store.flush()
    return store
