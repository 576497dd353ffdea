"""Right error types for real tracebacks pasted into public issues, on the crawler's own path.

Each text of a corpus (tests/platform/corpora/) becomes an issue body on a local GitHub; the
GitHub crawler takes it in, prepares it like any record and stores it; the stored ``error_type``
is compared with the one the text names. ``tracebacks.jsonl`` is the dev corpus the parser was
fixed against; ``tracebacks_holdout.jsonl`` was collected after the last parser change and is
reported apart.

Usage: python benchmarks/trace_corpus.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write  # noqa: E402
from tests.platform.corpora.trace_scoring import CORPORA, load, score  # noqa: E402


def main() -> None:
    results = {}
    for name in ("tracebacks", "tracebacks_holdout"):
        path = CORPORA / f"{name}.jsonl"
        if not path.exists():
            continue
        with tempfile.TemporaryDirectory() as root:
            result = score(load(path), Path(root))
        results[name] = result
        print(f"{name}: {result['right']}/{result['cases']} right ({result['accuracy']:.2%})")
        for language, figures in result["languages"].items():
            print(f"  {language:<11} {figures['right']:>4}/{figures['total']:<4}"
                  f" {figures['accuracy']:.2%}")
        for miss in result["missed"]:
            print(f"  missed {miss['source']}: expected {miss['expected']}, got {miss['got']}")
    write("trace_corpus", results)


if __name__ == "__main__":
    main()
