"""Training throughput on this machine with the real length distribution of a lake.

Two real lakes from ../shared/data, each with the bundled knowledge base: "community" (the Stack
Overflow sample: long questions, every one with an answer, so every example is encoded twice) and
"app" (Loghub log lines as app errors: short, no solution). Measures samples/s of Ray Train rounds
with 1 worker (2 CPUs) and 2 workers (1 CPU each), and the wall time of a whole round (data
pipeline, training, evaluation of candidate and champion, registration) over 10,000 community
records, one pass over the training split.

Usage: python benchmarks/train_throughput.py [--steps 30] [--skip-round]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import build_lake  # noqa: E402
from _report import write  # noqa: E402


def _round(root: Path, overrides: dict) -> dict:
    from erroracle.learners.bootstrap import bootstrap
    from erroracle.learners.round import run_round
    from erroracle.platform.config import load_config
    from erroracle.platform.registry import Registry

    config = load_config(None, data_root=str(root), environ={})
    store = build_lake(root, copies=overrides.pop("copies", 1), app=overrides.pop("app", False))
    registry = Registry(config.data_root)
    bootstrap(config, store, registry)
    started = time.perf_counter()
    result = run_round(config, store, registry, promote=False, overrides=overrides)
    wall = time.perf_counter() - started
    store.close()
    return {
        "records": result.lineage["records"],
        "steps": overrides["max_steps"],
        "samples_per_s": round(result.samples_per_s, 1),
        "errors_per_minute": round(result.samples_per_s * 60),
        "train_seconds": round(result.train_seconds, 1),
        "round_seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-round", action="store_true")
    args = parser.parse_args()

    import ray
    from ray.data import DataContext

    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    DataContext.get_current().enable_progress_bars = False
    results: dict = {"batch_size": args.batch_size, "runs": {}}
    base = {"max_steps": args.steps, "checkpoint_every": args.steps, "batch_size": args.batch_size,
            "max_epochs": 1000.0}  # exactly --steps steps, whatever the lake's size
    for lake in ("community", "app"):
        for workers, cpus in ((1, 2), (2, 1)):
            options = {**base, "workers": workers, "cpus_per_worker": cpus, "app": lake == "app"}
            with tempfile.TemporaryDirectory() as folder:
                run = _round(Path(folder), options)
            results["runs"][f"{lake}-{workers}x{cpus}cpu"] = run
            print(f"{lake}: {workers} worker(s) x {cpus} CPU: {run['samples_per_s']} samples/s "
                  f"({run['errors_per_minute']:,} errors/min), {run['records']} records")
    if not args.skip_round:
        with tempfile.TemporaryDirectory() as folder:
            copies = 5  # 5 x 2,000 questions + 308 knowledge entries ≈ 10,300 records
            steps = math.ceil(10_000 * 0.8 / args.batch_size)
            run = _round(Path(folder), {**base, "max_steps": steps, "checkpoint_every": steps,
                                        "workers": 1, "cpus_per_worker": 2, "copies": copies})
        results["round_10k"] = run
        print(f"round on {run['records']:,} records ({steps} steps, one pass over the training "
              f"split): {run['round_seconds']} s, {run['samples_per_s']} samples/s")
    ray.shutdown()
    write("train_throughput", results)


if __name__ == "__main__":
    main()
