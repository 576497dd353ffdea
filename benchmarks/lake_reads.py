"""What reading the lake costs: opening a reader against opening a writer, and one round's reads.

Before ``LakeReader`` every reader opened a writer store (``ParquetErrorStore``): it read the id
column of every Parquet file, replayed orphaned logs and opened a log segment of its own. The
lake here is the Loghub lines (``copies`` times) written in ``files`` flushes, as a running
ingress leaves it (one file every ``storage.flush_seconds``), with ``deletes`` deletions, on
local disk. Reported: the median time to open (and close) each, and how many
listings and tombstone files one round's data pipeline (``learners.data.build_datasets`` on a
local Ray of 2 CPUs) reads through the reader.

Usage: python benchmarks/lake_reads.py [--copies 3] [--files 200] [--deletes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import loghub_records  # noqa: E402
from _report import write  # noqa: E402


def many_file_lake(folder: str, copies: int, files: int, deletes: int) -> None:
    """Loghub lines as app errors, flushed ``files`` times, then ``deletes`` deletions."""
    from erroracle.client.scrubber import Scrubber
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.prepare import RecordPreparer

    prepare = RecordPreparer(Scrubber())
    records = [prepare({**r, "id": f"{r['id']}-{copy}"})
               for copy in range(copies) for r in loghub_records()]
    store = ParquetErrorStore(folder, background=False, flush_records=10**7)
    step = max(1, len(records) // files)
    for begin in range(0, len(records), step):
        store.append(records[begin:begin + step])
        store.flush()
    for record in records[:deletes]:
        store.delete(ids=[record.id])
    store.close()


def median_seconds(open_and_close, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        open_and_close()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--files", type=int, default=200)
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
        many_file_lake(folder, args.copies, args.files, args.deletes)
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
        print(f"open + close {name:<24}{seconds * 1000:>9.3f} ms")
    print(f"one round's data pipeline: {reader.reads['listings']} listings, "
          f"{reader.reads['tombstone_files']} tombstone files read, {pipeline_seconds} s")
    write("lake_reads", {
        "records": records, "files": files, "deletions": args.deletes,
        "open_and_close_seconds": opened, "round_data_pipeline": {
            **reader.reads, "seconds": pipeline_seconds},
    })


if __name__ == "__main__":
    main()
