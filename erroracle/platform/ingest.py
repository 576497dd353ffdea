"""Bulk-load errors from files: JSON Lines records, or plain text with one error a line.

Every line gets a deterministic id when it has none (from the file name, line number and text), so
an ingest that was killed and is run again stores each line exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from erroracle.errors import ValidationError
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.records import ErrorRecord, parse_json_object
from erroracle.platform.store import ErrorStore

__all__ = ["IngestSummary", "detect_format", "ingest_files"]

Format = Literal["jsonl", "lines"]
_ID_NAMESPACE = uuid.UUID("5b0c3c52-6f63-4f4e-9a53-6572726f7261")
MAX_PROBLEMS_KEPT = 1000


@dataclass
class IngestSummary:
    """Counts of one ingest run, and the first problems found (``FILE:LINE: reason``)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def detect_format(path: Path) -> Format:
    """JSON Lines for ``.jsonl``/``.ndjson`` files, one error a line otherwise."""
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "lines"


def _line_id(path: Path, number: int, text: str) -> str:
    return uuid.uuid5(_ID_NAMESPACE, f"{path.name}\x1f{number}\x1f{text}").hex


def _parse_line(path: Path, number: int, text: str, fmt: Format, source: str | None) -> dict:
    if fmt == "lines":
        return {"message": text, "source": source or "app", "id": _line_id(path, number, text)}
    data = parse_json_object(text)
    data.setdefault("id", _line_id(path, number, text))
    if source is not None:
        data["source"] = source
    return data


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield number, text


def ingest_files(
    store: ErrorStore,
    paths: list[Path],
    *,
    fmt: Format | None = None,
    source: str | None = None,
    preparer: RecordPreparer | None = None,
    batch_size: int = 1000,
    progress: Callable[[IngestSummary], None] | None = None,
    progress_every: float = 1.0,
) -> IngestSummary:
    """Load ``paths`` into ``store``; bad lines are counted and reported, the rest still loads."""
    preparer = preparer or RecordPreparer()
    summary = IngestSummary()
    batch: list[ErrorRecord] = []
    last_report = time.monotonic()

    def flush_batch() -> None:
        if batch:
            result = store.append(batch)
            summary.stored += result.accepted
            summary.duplicates += result.duplicates
            batch.clear()

    for path in paths:
        file_format = fmt or detect_format(path)
        for number, text in _lines(path):
            summary.read += 1
            try:
                batch.append(preparer(_parse_line(path, number, text, file_format, source)))
            except ValidationError as exc:
                summary.rejected += 1
                if len(summary.problems) < MAX_PROBLEMS_KEPT:
                    summary.problems.append(f"{path}:{number}: {exc}")
            if len(batch) >= batch_size:
                flush_batch()
            if progress and time.monotonic() - last_report >= progress_every:
                progress(summary)
                last_report = time.monotonic()
    flush_batch()
    return summary
