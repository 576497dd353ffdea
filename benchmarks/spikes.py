"""Spike detection through the lake, on synthetic streams with the shapes real error rates have.

Each stream is one error (one issue) over 28 days, a minute at a time: a daily rhythm (quiet
nights), quieter weekends, an hourly cron burst at minute 0, slow growth (up to +50 %), and
Poisson noise, at 0.3 to 3 events a minute. After the first 15 days, spikes are injected every
half day to two and a half days: 10 to 60 minutes at 3 to 8 times the usual rate (at least 3 a
minute more). The events are stored in a lake and each issue is read back with
``LakeReader.issue``, whose ``spikes`` are the product's detection. A detection that overlaps an
injected spike is right; one that overlaps none is a false alarm. Reported: precision, recall
and the median delay from the spike's first minute to its detection, for the ``tune`` streams
(the settings were chosen on them) and the ``check`` streams (seeds never looked at), beside a
plain detector: the same windows against the mean + 5 std of the last 24 hours, no seasons.

This is synthetic data of my own making: it says the detector handles these shapes, not how it
does on any real service.

Usage: python benchmarks/spikes.py [--streams 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402

DAY = 1440
START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday


def stream(seed: int, days: int = 28) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Events per minute, and the injected spikes as (first, last) minutes."""
    rng = np.random.default_rng(seed)
    minute = np.arange(days * DAY)
    hour, weekday = (minute // 60) % 24, (minute // DAY) % 7
    daily = 0.35 + 0.65 * np.clip(np.sin(np.pi * (hour - 6) / 16), 0, None)
    rate = (rng.uniform(0.3, 3.0) * daily * np.where(weekday >= 5, 0.6, 1.0)
            * (1 + rng.uniform(0, 0.5) * minute / len(minute)))
    extra = np.zeros(len(minute))
    truth, at = [], 15 * DAY
    while (at := at + int(rng.uniform(0.5, 2.5) * DAY)) < len(minute) - 120:
        length = int(rng.integers(10, 61))
        extra[at:at + length] += np.maximum(rng.uniform(3, 8) * rate[at:at + length], 3.0)
        truth.append((at, at + length - 1))
    cron = (minute % 60 == 0) * rng.uniform(3, 12)
    return rng.poisson(rate + cron + extra), truth


def plain_spikes(counts: np.ndarray, window: int = 5, k: float = 5.0, floor: int = 10,
                 cool_down: int = 10) -> list[tuple[int, int]]:
    """The same windows against the mean + k std of the previous 24 hours' windows."""
    windowed = np.convolve(counts, np.ones(window))[: len(counts)]
    total = np.concatenate([[0], np.cumsum(windowed)])
    squares = np.concatenate([[0], np.cumsum(windowed ** 2)])
    over = np.zeros(len(counts), bool)
    m = np.arange(DAY, len(counts))
    mean = (total[m] - total[m - DAY]) / DAY
    std = np.sqrt(np.maximum(0, (squares[m] - squares[m - DAY]) / DAY - mean ** 2))
    over[m] = windowed[m] > np.maximum(floor, mean + k * std)
    spans, i = [], 0
    while i < len(over):
        if over[i]:
            first = last = i
            while i < len(over) and i - last < cool_down:
                last = i if over[i] else last
                i += 1
            spans.append((first, last))
        i += 1
    return spans


def score(found: list[list[tuple[int, int]]], truths: list[list[tuple[int, int]]],
          cool_down: int = 10) -> dict[str, float]:
    right = alarms = caught = total = 0
    delays = []
    for spans, truth in zip(found, truths, strict=True):
        total += len(truth)
        hit: dict[int, int] = {}
        for first, last in spans:
            matches = [i for i, (a, b) in enumerate(truth) if first <= b + cool_down and last >= a]
            right, alarms = (right + 1, alarms) if matches else (right, alarms + 1)
            for i in matches:
                hit[i] = min(hit.get(i, first), first)
        caught += len(hit)
        delays += [max(0, first - truth[i][0]) for i, first in hit.items()]
    return {"spikes": total, "detections": right + alarms, "false_alarms": alarms,
            "precision": round(right / max(1, right + alarms), 3),
            "recall": round(caught / max(1, total), 3),
            "median_delay_minutes": float(np.median(delays)) if delays else None}


def through_the_lake(folder: str, seeds: list[int]) -> tuple[list, list, list]:
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.lake_reader import LakeReader

    truths, counts_of, issues = [], [], []
    with ParquetErrorStore(folder, background=False, flush_records=200_000) as store:
        for seed in seeds:
            counts, truth = stream(seed)
            truths.append(truth)
            counts_of.append(counts)
            minutes = np.repeat(np.arange(len(counts)), counts)
            seconds = np.random.default_rng(seed).uniform(0, 60, len(minutes))
            name = "".join(chr(ord("A") + int(digit)) for digit in str(seed))
            records = [{"id": f"s{seed}-{n}", "fingerprint": f"fp-{seed}",
                        # an error type of its own, so grouping never merges two streams
                        "error_type": f"Ledger{name}Error", "message": "totals differ",
                        "service": f"svc-{seed}", "received_at": (
                            START + timedelta(minutes=int(m), seconds=float(s))).isoformat()}
                       for n, (m, s) in enumerate(zip(minutes, seconds, strict=True))]
            for begin in range(0, len(records), 50_000):
                result = store.append(records[begin:begin + 50_000])
            issues.append(result.issues[f"fp-{seed}"])
            print(f"  stream {seed}: {len(records):,} events, {len(truth)} spikes", flush=True)
    if len(set(issues)) != len(issues):
        sys.exit("two streams were grouped into one issue; the benchmark is wrong")
    reader = LakeReader(folder)
    found = []
    for issue in issues:
        spikes = reader.issue(issue)["spikes"]
        found.append([(int((s["start"] - START).total_seconds() // 60),
                       int((s["end"] - START).total_seconds() // 60)) for s in spikes])
    return found, truths, counts_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10)
    args = parser.parse_args()
    halves = {"tune": list(range(args.streams)), "check": list(range(100, 100 + args.streams))}
    results = {}
    for half, seeds in halves.items():
        with tempfile.TemporaryDirectory() as folder:
            found, truths, counts = through_the_lake(folder, seeds)
        results[half] = {"erroracle": score(found, truths),
                         "plain (last 24 h, no seasons)": score(
                             [plain_spikes(c) for c in counts], truths)}
    print(f"{'half':<7}{'detector':<32}{'spikes':>7}{'precision':>10}{'recall':>8}{'delay':>7}")
    for half, rows in results.items():
        for name, row in rows.items():
            print(f"{half:<7}{name:<32}{row['spikes']:>7}{row['precision']:>10.3f}"
                  f"{row['recall']:>8.3f}{row['median_delay_minutes'] or 0:>7.1f}")
    write("spikes", {"streams_per_half": args.streams, "days": 28, "results": results})


if __name__ == "__main__":
    main()
