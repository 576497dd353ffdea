"""Sustained append throughput of the error lake with the durability rule (WAL + fsync before
the acknowledgement, background Parquet flushing), for batches of 1, 100 and 1,000 records.

Usage: python benchmarks/lake_append.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import percentile, write  # noqa: E402

from erroracle.platform.lake import ParquetErrorStore  # noqa: E402

TRACE = """Traceback (most recent call last):
  File "/srv/app/api/orders.py", line {line}, in create_order
    total = pricing.quote(cart)
  File "/srv/app/pricing.py", line 88, in quote
    raise PricingError(f"no price for sku {{sku}}")
PricingError: no price for sku {sku}"""


def make_records(count: int, start: int, rng: random.Random) -> list[dict]:
    return [
        {
            "id": f"bench-{start + i}",
            "error_type": rng.choice(["PricingError", "KeyError", "TimeoutError"]),
            "message": f"no price for sku SKU-{rng.randint(1, 10**6)} in region eu-west-1",
            "stack_trace": TRACE.format(line=rng.randint(1, 400), sku=rng.randint(1, 10**6)),
            "frames": [
                {
                    "file": "/srv/app/pricing.py",
                    "function": "quote",
                    "line": 88,
                    "module": "pricing",
                    "in_app": True,
                }
            ],
            "service": "checkout",
            "environment": "production",
            "host": f"web-{i % 8}",
            "fingerprint": f"{rng.randint(0, 200):032x}",
        }
        for i in range(count)
    ]


def measure(batch_size: int, seconds: float) -> dict:
    rng = random.Random(batch_size)
    pool = make_records(max(batch_size, 1000) * 4, 0, rng)
    with tempfile.TemporaryDirectory() as root:
        store = ParquetErrorStore(root)
        latencies, total, n = [], 0, 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            batch = [
                dict(r, id=f"b{batch_size}-{n}-{j}")
                for j, r in enumerate(pool[(n * batch_size) % len(pool) :][:batch_size])
            ]
            t0 = time.perf_counter()
            total += store.append(batch).accepted
            latencies.append((time.perf_counter() - t0) * 1000)
            n += 1
        elapsed = time.perf_counter() - started
        t0 = time.perf_counter()
        store.close()
        close_ms = (time.perf_counter() - t0) * 1000
        stored = ParquetErrorStore(root, background=False)
        assert stored.read_table(columns=["id"]).num_rows == total
        stored.close()
    return {
        "batch_size": batch_size,
        "records": total,
        "records_per_s": round(total / elapsed),
        "append_p50_ms": round(percentile(latencies, 50), 3),
        "append_p99_ms": round(percentile(latencies, 99), 3),
        "final_flush_ms": round(close_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    rows = [measure(size, args.seconds) for size in (1, 100, 1000)]
    print(f"{'batch':>6} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(
            f"{row['batch_size']:>6} {row['records_per_s']:>10,} {row['append_p50_ms']:>8} "
            f"{row['append_p99_ms']:>8}"
        )
    write("lake_append", {"target_records_per_s_batch_100": 20_000, "results": rows})


if __name__ == "__main__":
    main()
