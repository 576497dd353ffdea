"""Grouping accuracy (GA) and throughput of issues on Loghub-2k, beside drain3 with its defaults.

erroracle's side is ``describe_errors``, the code behind ``erroracle fingerprint --issues``: every
line is scrubbed, its trace parsed, fingerprinted and grouped into issues as ingest does into an
empty lake. Each system is also ingested into a fresh Parquet lake and its issues read back; the
script stops if they differ from the command's. Throughput is measured online (one line to an
append, as ingest sees events one at a time) and in bulk (1,000 lines to an append). drain3 runs
``TemplateMiner()`` with no config file on the same ``Content`` lines in the same process.
Settings are global; none is per system.

The full path costs mostly scrubbing and record validation, which drain3 does not do; so the
grouping stage alone (``assign_issues``, what ingest calls on prepared records: templates and the
issue layer) is timed too, online and in bulk, on records prepared beforehand.

The dev protocol: settings were chosen on the four ``TUNED`` systems; the other four are reported
apart as validation. ``--data DIR --name NAME`` measures any other folder of Loghub-2k systems
(``<S>/<S>_2k.log_structured.csv``) and writes ``grouping_<NAME>.json``.

Usage: python benchmarks/grouping.py [--data ../shared/data/loghub_dev] [--name dev]
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402

from erroracle.platform.issue_assignment import assign_issues  # noqa: E402
from erroracle.platform.issue_book import IssueBook  # noqa: E402
from erroracle.platform.prepare import RecordPreparer, describe_errors  # noqa: E402

TUNED = ["Android", "BGL", "Hadoop", "Spark"]
VALIDATION = ["Apache", "HDFS", "OpenSSH", "Zookeeper"]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub_dev"


def grouping_accuracy(predicted: list, truth: list) -> float:
    """The share of lines whose group has exactly the members of their true group."""
    members_true, members_pred = defaultdict(set), defaultdict(set)
    for index, (pred, true) in enumerate(zip(predicted, truth, strict=True)):
        members_true[true].add(index)
        members_pred[pred].add(index)
    correct = sum(1 for pred, true in zip(predicted, truth, strict=True)
                  if members_true[true] == members_pred[pred])
    return correct / len(truth)


def erroracle_issues(lines: list[str], batch: int) -> list[str]:
    return [item["issue"] for item in describe_errors(lines, batch=batch)]


def grouping_stage(lines: list[str], batch: int) -> float:
    """Seconds that ``assign_issues`` takes over the lines, prepared beforehand."""
    from erroracle.platform import fingerprint

    prepare = RecordPreparer()
    records = [prepare({"message": line}) for line in lines]

    def group() -> None:
        fingerprint._MEMO.clear()  # templates are computed inside the timed part, as in ingest
        book = IssueBook(None)
        for start in range(0, len(records), batch):
            assign_issues(book, records[start : start + batch])

    return timed(group)[1]


def lake_issues(lines: list[str]) -> list[str]:
    """The issue of each line as a lake has it after ingest: prepared records appended in
    batches of 1,000 to a fresh Parquet lake, flushed, read back and looked up."""
    import tempfile

    from erroracle.platform.lake import ParquetErrorStore

    prepare = RecordPreparer()
    records = [prepare({"id": f"line-{n}", "message": line}) for n, line in enumerate(lines)]
    with tempfile.TemporaryDirectory() as root, ParquetErrorStore(root, background=False) as lake:
        for start in range(0, len(records), 1_000):
            lake.append(records[start : start + 1_000])
        lake.flush()
        table = lake.read_table(columns=["id", "fingerprint"])
        issues = lake.issue_map(table["fingerprint"])
        by_id = dict(zip(table["id"].to_pylist(), table["fingerprint"].to_pylist(), strict=True))
        return [issues[by_id[f"line-{n}"]] for n in range(len(lines))]


def drain3_groups(lines: list[str]) -> list[int]:
    from drain3 import TemplateMiner

    miner = TemplateMiner()
    return [miner.add_log_message(line)["cluster_id"] for line in lines]


REPEATS = 5


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    """The result and the best of ``REPEATS`` runs, each from a fresh state (2,000 lines take
    milliseconds, so one run is mostly noise)."""
    best, result = float("inf"), None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return result, best


def load(path: Path) -> tuple[list[str], list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] for row in rows], [row["EventId"] for row in rows]


def measure(system: str, path: Path) -> dict[str, Any]:
    lines, truth = load(path)
    online, online_s = timed(lambda: erroracle_issues(lines, 1))
    bulk, bulk_s = timed(lambda: erroracle_issues(lines, 1_000))
    assert online == bulk, f"{system}: online and bulk grouping differ"
    assert lake_issues(lines) == bulk, f"{system}: the lake's issues differ from the command's"
    theirs, theirs_s = timed(lambda: drain3_groups(lines))
    stage_online_s, stage_bulk_s = grouping_stage(lines, 1), grouping_stage(lines, 1_000)
    return {
        "system": system, "lines": len(lines),
        "erroracle_ga": round(grouping_accuracy(bulk, truth), 4),
        "drain3_ga": round(grouping_accuracy(theirs, truth), 4),
        "erroracle_issues": len(set(bulk)), "true_groups": len(set(truth)),
        "online_s": online_s, "bulk_s": bulk_s, "drain3_s": theirs_s,
        "stage_online_s": stage_online_s, "stage_bulk_s": stage_bulk_s,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lines = sum(r["lines"] for r in rows)
    return {
        "systems": [r["system"] for r in rows],
        "erroracle_mean_ga": round(mean(r["erroracle_ga"] for r in rows), 4),
        "erroracle_min_ga": min(r["erroracle_ga"] for r in rows),
        "drain3_mean_ga": round(mean(r["drain3_ga"] for r in rows), 4),
        "online_lines_per_s": round(lines / sum(r["online_s"] for r in rows)),
        "bulk_lines_per_s": round(lines / sum(r["bulk_s"] for r in rows)),
        "drain3_lines_per_s": round(lines / sum(r["drain3_s"] for r in rows)),
        "stage_online_lines_per_s": round(lines / sum(r["stage_online_s"] for r in rows)),
        "stage_bulk_lines_per_s": round(lines / sum(r["stage_bulk_s"] for r in rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--name", default="dev", help="results file: grouping_<name>.json")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: Loghub data not found at {args.data}")
        return
    logging.getLogger("drain3").setLevel(logging.ERROR)
    found = sorted(p.parent.name for p in args.data.glob("*/*_2k.log_structured.csv"))
    rows = [measure(s, args.data / s / f"{s}_2k.log_structured.csv") for s in found]
    parts = ({"tuned": [r for r in rows if r["system"] in TUNED],
              "validation": [r for r in rows if r["system"] in VALIDATION]}
             if set(found) == set(TUNED + VALIDATION) else {"all": rows})
    print(f"{'system':<12} {'GA ours':>8} {'GA drain3':>9} {'issues':>7} {'true':>5}")
    for part, members in parts.items():
        for r in members:
            print(f"{r['system']:<12} {r['erroracle_ga']:>8.4f} {r['drain3_ga']:>9.4f} "
                  f"{r['erroracle_issues']:>7} {r['true_groups']:>5}")
        s = summary(members)
        print(f"{part + ' mean':<12} {s['erroracle_mean_ga']:>8.4f} {s['drain3_mean_ga']:>9.4f}")
        print(f"  lines/s: full path online {s['online_lines_per_s']:,}, bulk "
              f"{s['bulk_lines_per_s']:,}; grouping stage online {s['stage_online_lines_per_s']:,},"
              f" bulk {s['stage_bulk_lines_per_s']:,}; drain3 {s['drain3_lines_per_s']:,}")
    write(f"grouping_{args.name}", {
        "targets": {"validation_mean_ga": 0.95, "every_system_ga": 0.85, "unseen_mean_ga": 0.90,
                    "throughput_vs_drain3": 2.0},
        "summary": {part: summary(members) for part, members in parts.items()},
        "systems": rows,
    })


if __name__ == "__main__":
    main()
