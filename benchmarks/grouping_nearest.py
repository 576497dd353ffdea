"""Would a nearest-issue fallback by embedding help? Calibrated on the tuned half of Loghub-2k.

Each template that founds a new issue on the product's path (``describe_errors``'s preparer and
:class:`IssueGrouper`, line by line) is embedded with the bundled all-MiniLM-L6-v2, and its
nearest earlier founder is found by cosine. At each threshold the script counts the merges the
fallback would make and how many of them join lines of one true event. A fallback is worth
shipping only at a threshold where wrong merges stay at 1 % or fewer of its merges and it
makes some right ones.

Usage: python benchmarks/grouping_nearest.py [--data ../shared/data/loghub_dev]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402
from grouping import DEFAULT_DATA, TUNED, load  # noqa: E402

from erroracle.learners.model import base_encoder_path  # noqa: E402
from erroracle.platform.fingerprint import record_template  # noqa: E402
from erroracle.platform.issues import IssueGrouper  # noqa: E402
from erroracle.platform.prepare import RecordPreparer  # noqa: E402

THRESHOLDS = [0.99, 0.98, 0.97, 0.95, 0.93, 0.90, 0.85]


def founders(lines: list[str], truth: list[str]) -> list[tuple[str, str]]:
    """(template, true event) of every line that founded an issue, in order."""
    prepare, grouper, found = RecordPreparer(), IssueGrouper(), []
    for line, event in zip(lines, truth, strict=True):
        record = prepare({"message": line})
        template = record_template(record)
        if grouper.assign(record.fingerprint, template, record.error_type).reason == "new":
            found.append((template, event))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: Loghub data not found at {args.data}")
        return
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(base_encoder_path(None), device="cpu")
    nearest: list[tuple[float, bool]] = []
    for system in TUNED:
        lines, truth = load(args.data / system / f"{system}_2k.log_structured.csv")
        found = founders(lines, truth)
        vectors = encoder.encode([t for t, _ in found], normalize_embeddings=True)
        for i in range(1, len(found)):
            similarities = vectors[:i] @ vectors[i]
            j = int(similarities.argmax())
            nearest.append((float(similarities[j]), found[j][1] == found[i][1]))
    rows = []
    for threshold in THRESHOLDS:
        chosen = [right for similarity, right in nearest if similarity >= threshold]
        rows.append({"threshold": threshold, "merges": len(chosen), "right": sum(chosen),
                     "wrong_share": round(1 - sum(chosen) / len(chosen), 4) if chosen else 0.0})
        print(f"cosine >= {threshold:.2f}: {len(chosen):>4} merges, {sum(chosen):>3} right")
    possible = sum(right for _, right in nearest)
    usable = [r for r in rows if r["right"] and r["wrong_share"] <= 0.01]
    print(f"{len(nearest)} new issues, {possible} of which belong with their nearest; "
          f"usable thresholds: {[r['threshold'] for r in usable] or 'none'}")
    write("grouping_nearest", {"systems": TUNED, "founders": len(nearest) + len(TUNED),
                               "right_if_merged": possible, "thresholds": rows,
                               "usable": [r["threshold"] for r in usable]})


if __name__ == "__main__":
    main()
