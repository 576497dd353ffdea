"""Does a training round beat the cold-start model? Knowledge base + the Stack Overflow sample.

Trains one round from the bootstrap champion and reports, on the same held-out split (by
fingerprint), the category macro-F1 of the bootstrap and of the candidate, and the fix retrieval
recall@5 and MRR@10 of the plain encoder (the bootstrap's encoder is frozen, so its retrieval is
exactly the plain all-MiniLM-L6-v2's) and of the candidate.

Usage: python benchmarks/learning_quality.py [--steps 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import build_lake  # noqa: E402
from _report import write  # noqa: E402

SHOWN = ("category_macro_f1", "category_accuracy", "severity_accuracy", "recall_at_5",
         "mrr_at_10", "examples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import ray
    from ray.data import DataContext

    from erroracle.learners.bootstrap import bootstrap
    from erroracle.learners.round import run_round
    from erroracle.platform.config import load_config
    from erroracle.platform.registry import Registry

    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(None, data_root=folder, environ={})
        store = build_lake(Path(folder))
        registry = Registry(config.data_root)
        bootstrap(config, store, registry)
        result = run_round(config, store, registry, promote=False, overrides={
            "max_steps": args.steps, "checkpoint_every": args.steps,
            "batch_size": args.batch_size, "workers": 1, "cpus_per_worker": 2,
            "max_epochs": 1000.0,  # exactly --steps steps, whatever the lake's size
        })
        store.close()
    ray.shutdown()
    table = {m: {"bootstrap": result.champion.get(m), "trained": result.candidate.get(m)}
             for m in SHOWN}
    print(f"{'metric':<20}{'bootstrap / plain':>18}{'trained':>10}")
    for metric, row in table.items():
        print(f"{metric:<20}{row['bootstrap']:>18.4f}{row['trained']:>10.4f}")
    print(f"decision: {result.decision.reason}")
    write("learning_quality", {
        "steps": args.steps, "batch_size": args.batch_size, "metrics": table,
        "lineage": result.lineage, "decision": result.decision.reason,
        "train_seconds": round(result.train_seconds, 1),
    })


if __name__ == "__main__":
    main()
