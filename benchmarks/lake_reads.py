"""What reading the lake costs: opening a reader against opening a writer, and one round's reads.

Before ``LakeReader`` every reader opened a writer store (``ParquetErrorStore``): it read the id
column of every Parquet file, replayed orphaned logs and opened a log segment of its own. The
lake here is the knowledge base and the Loghub lines (``copies`` times) with ``deletes``
deletions, on local disk. Reported: the median time to open (and close) each, and how many
listings and tombstone files one round's data pipeline (``learners.data.build_datasets`` on a
local Ray of 2 CPUs) reads through the reader.

Usage: python benchmarks/lake_reads.py [--copies 3] [--deletes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import build_lake  # noqa: E402
from _report import write  # noqa: E402


def median_seconds(open_and_close, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        open_and_close()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--deletes", type=int, default=20)
    args = parser.parse_args()

    import ray
    from ray.data import DataContext

    from erroracle.learners.data import build_datasets
    from erroracle.platform.config import load_config
    from erroracle.platform.lake import open_store
    from erroracle.platform.lake_reader import open_reader
    from erroracle.platform.taxonomy import Taxonomy

    with tempfile.TemporaryDirectory() as folder:
        store = build_lake(Path(folder), copies=args.copies, app=True)
        ids = store.read_table(columns=["id"])["id"].to_pylist()
        for record_id in ids[: args.deletes]:
            store.delete(ids=[record_id])
        store.close()
        config = load_config(None, data_root=folder, environ={})
        reader = open_reader(config)
        records = sum(reader.counts_by_source().values())
        files = len(reader._list_files())
        opened = {
            "writer store (before)": median_seconds(
                lambda: open_store(config, background=False).close()),
            "reader": median_seconds(lambda: open_reader(config).close()),
        }
        ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
        DataContext.get_current().enable_progress_bars = False
        reader = open_reader(config)
        started = time.perf_counter()
        build_datasets(reader, config, Taxonomy.for_config(config))
        pipeline_seconds = round(time.perf_counter() - started, 1)
        ray.shutdown()
    print(f"{records:,} records in {files} files, {args.deletes} deletions")
    for name, seconds in opened.items():
        print(f"open + close {name:<24}{seconds * 1000:>9.1f} ms")
    print(f"one round's data pipeline: {reader.reads['listings']} listings, "
          f"{reader.reads['tombstone_files']} tombstone files read, {pipeline_seconds} s")
    write("lake_reads", {
        "records": records, "files": files, "deletions": args.deletes,
        "open_and_close_seconds": opened, "round_data_pipeline": {
            **reader.reads, "seconds": pipeline_seconds},
    })


if __name__ == "__main__":
    main()
