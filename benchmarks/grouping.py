"""Grouping accuracy (GA) and throughput on the Loghub-2k systems, beside drain3 with its defaults.

GA: a line is correct when the group it was put in has exactly the members of its ground-truth
group. erroracle's grouping is ``template`` (pure masking) then ``consolidate`` over the set of
templates; drain3 runs ``TemplateMiner()`` with no config file. Both see the ``Content`` column,
in the same process, on the same lines. No per-system settings.

Usage: python benchmarks/grouping.py [--data ../shared/data/loghub_dev]
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402

from erroracle.platform.fingerprint import template  # noqa: E402
from erroracle.platform.grouping import consolidate  # noqa: E402

SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "Apache", "OpenSSH", "Android"]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub_dev"


def grouping_accuracy(predicted: list, truth: list) -> float:
    members_true, members_pred = defaultdict(set), defaultdict(set)
    for index, (pred, true) in enumerate(zip(predicted, truth, strict=True)):
        members_true[true].add(index)
        members_pred[pred].add(index)
    correct = sum(
        1
        for pred, true in zip(predicted, truth, strict=True)
        if members_true[true] == members_pred[pred]
    )
    return correct / len(truth)


def erroracle_groups(lines: list[str]) -> list[str]:
    templates = [template(line) for line in lines]
    groups = consolidate(templates)
    return [groups[t] for t in templates]


def drain3_groups(lines: list[str]) -> list[int]:
    from drain3 import TemplateMiner

    miner = TemplateMiner()
    return [miner.add_log_message(line)["cluster_id"] for line in lines]


def timed(function, lines):
    started = time.perf_counter()
    result = function(lines)
    return result, time.perf_counter() - started


def load(data: Path, system: str) -> tuple[list[str], list[str]]:
    path = data / system / f"{system}_2k.log_structured.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] for row in rows], [row["EventId"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: Loghub data not found at {args.data}")
        return
    logging.getLogger("drain3").setLevel(logging.ERROR)
    rows, totals = [], {"erroracle": [0, 0.0], "drain3": [0, 0.0]}
    for system in SYSTEMS:
        lines, truth = load(args.data, system)
        ours, ours_s = timed(erroracle_groups, lines)
        theirs, theirs_s = timed(drain3_groups, lines)
        for name, seconds in (("erroracle", ours_s), ("drain3", theirs_s)):
            totals[name][0] += len(lines)
            totals[name][1] += seconds
        rows.append(
            {
                "system": system,
                "erroracle_ga": round(grouping_accuracy(ours, truth), 4),
                "drain3_ga": round(grouping_accuracy(theirs, truth), 4),
                "erroracle_lines_per_s": round(len(lines) / ours_s),
                "drain3_lines_per_s": round(len(lines) / theirs_s),
            }
        )
    summary = {
        "erroracle_mean_ga": round(sum(r["erroracle_ga"] for r in rows) / len(rows), 4),
        "drain3_mean_ga": round(sum(r["drain3_ga"] for r in rows) / len(rows), 4),
        "erroracle_lines_per_s": round(totals["erroracle"][0] / totals["erroracle"][1]),
        "drain3_lines_per_s": round(totals["drain3"][0] / totals["drain3"][1]),
    }
    print(f"{'system':<10} {'GA ours':>8} {'GA drain3':>9} {'lines/s ours':>13} {'drain3':>9}")
    for r in rows:
        print(
            f"{r['system']:<10} {r['erroracle_ga']:>8.4f} {r['drain3_ga']:>9.4f} "
            f"{r['erroracle_lines_per_s']:>13,} {r['drain3_lines_per_s']:>9,}"
        )
    print(
        f"{'mean':<10} {summary['erroracle_mean_ga']:>8.4f} {summary['drain3_mean_ga']:>9.4f} "
        f"{summary['erroracle_lines_per_s']:>13,} {summary['drain3_lines_per_s']:>9,}"
    )
    write("grouping", {"targets": {"mean_ga": 0.95}, "summary": summary, "systems": rows})


if __name__ == "__main__":
    main()
