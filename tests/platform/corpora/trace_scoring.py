"""Score a traceback corpus on the product's own path: every text becomes the body of an issue on
a local GitHub, the GitHub crawler takes it in and prepares it as it does any issue, and the
error type stored in the lake is compared with the one the text names."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from erroracle.platform.lake import ParquetErrorStore
from tests.crawlers.github_server import TOKEN, GitHub, issue
from tests.crawlers.servers import ServerThread, crawl_once

CORPORA = Path(__file__).resolve().parent
TRACEBACKS = CORPORA / "tracebacks.jsonl"


def load(path: Path = TRACEBACKS) -> list[dict[str, Any]]:
    """The cases of a corpus file: ``source`` (where the text was published), ``language``,
    ``error_type`` (what the text names) and ``text``."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def crawled_types(cases: list[dict[str, Any]], root: Path) -> list[str | None]:
    """The error type the crawler stores for each case, in order."""
    issues = [issue(number, "2024-03-01T12:00:00Z", title="Report", body=case["text"],
                    state="open") for number, case in enumerate(cases, 1)]
    api = GitHub(issues, {})
    previous = os.environ.get("GITHUB_TOKEN")
    os.environ["GITHUB_TOKEN"] = TOKEN
    try:
        with ServerThread(api.app) as server:
            environ = {"ERRORACLE_SOURCES__GITHUB__BASE_URL": server.url,
                       "ERRORACLE_SOURCES__GITHUB__REPOS": '["octo/app"]',
                       "ERRORACLE_SOURCES__GITHUB__PAGE_SIZE": "100"}
            summary, _ = crawl_once(root, "github", environ)
    finally:
        if previous is None:
            os.environ.pop("GITHUB_TOKEN")
        else:
            os.environ["GITHUB_TOKEN"] = previous
    assert not summary.errors, summary.errors
    with ParquetErrorStore(str(root), background=False) as store:
        rows = store.read_table(sources=["github"], columns=["source_id", "error_type"])
    found = {row["source_id"]: row["error_type"] for row in rows.to_pylist()}
    return [found.get(f"octo/app#{number}") for number in range(1, len(cases) + 1)]


def score(cases: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    """Right types per language and overall, and the cases missed."""
    got = crawled_types(cases, root)
    right, total = Counter(), Counter()
    missed = []
    for case, error_type in zip(cases, got, strict=True):
        total[case["language"]] += 1
        if error_type == case["error_type"]:
            right[case["language"]] += 1
        else:
            missed.append({"source": case["source"], "language": case["language"],
                           "expected": case["error_type"], "got": error_type})
    languages = {language: {"right": right[language], "total": count,
                            "accuracy": round(right[language] / count, 4)}
                 for language, count in sorted(total.items())}
    overall = sum(right.values()) / max(1, len(cases))
    return {"cases": len(cases), "right": sum(right.values()), "accuracy": round(overall, 4),
            "languages": languages, "missed": missed}
