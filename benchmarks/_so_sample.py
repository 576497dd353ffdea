"""The Stack Overflow sample in ../shared/data as lake records (for benchmarks only)."""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackoverflow_sample"
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


def build_lake(root: Path, *, copies: int = 1):
    """A lake with the knowledge base and the sample (``copies`` times, under new ids)."""
    from erroracle.client.scrubber import Scrubber
    from erroracle.knowledge import seed_lake
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.prepare import RecordPreparer

    prepare = RecordPreparer(Scrubber())
    store = ParquetErrorStore(str(root), background=False)
    seed_lake(store, prepare)
    records = so_records()
    for copy in range(copies):
        store.append([prepare({**r, "id": f"{r['id']}-{copy}"}) for r in records])
    store.flush()
    return store
