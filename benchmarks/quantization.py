"""What int8 dynamic quantisation (``serve.quantize``) costs in accuracy.

Evaluates the bootstrapped champion as served, in fp32 and quantised, on the same held-out
examples (by fingerprint) of the knowledge base, the Stack Overflow sample and the Loghub lines:
category macro-F1 and accuracy, severity accuracy, fix retrieval recall@5 and MRR@10.

Usage: python benchmarks/quantization.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import loghub_records  # noqa: E402
from _report import write  # noqa: E402
from _serving import bootstrapped_lake  # noqa: E402

SHOWN = ("category_macro_f1", "category_accuracy", "severity_accuracy", "recall_at_5",
         "mrr_at_10", "examples")


def main() -> None:
    import torch

    from erroracle.learners.evaluate import evaluate_model
    from erroracle.learners.examples import Labeler, to_examples
    from erroracle.learners.model import load_model
    from erroracle.platform.lake import open_store
    from erroracle.platform.prepare import RecordPreparer
    from erroracle.platform.registry import Registry
    from erroracle.platform.taxonomy import Taxonomy
    from erroracle.serve.model_server import quantized

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        config = bootstrapped_lake(Path(folder) / "lake", {})
        with open_store(config, background=False) as store:
            prepare = RecordPreparer()
            store.append([prepare(record) for record in loghub_records()])
            store.flush()
            table = store.read_table()
        examples = to_examples(table, Labeler(Taxonomy.load()),
                               validation_fraction=config.train.validation_fraction,
                               seed=config.train.seed)
        held_out = examples.filter(examples["validation"])
        model = load_model(Registry(config.data_root).local_path("v0001")).eval()
        fp32 = evaluate_model(model, held_out)
        int8 = evaluate_model(quantized(model), held_out)
    table = {m: {"fp32": fp32.get(m), "int8": int8.get(m)} for m in SHOWN}
    print(f"{'metric':<20}{'fp32':>10}{'int8':>10}{'change':>10}")
    for metric, row in table.items():
        print(f"{metric:<20}{row['fp32']:>10.4f}{row['int8']:>10.4f}"
              f"{row['int8'] - row['fp32']:>+10.4f}")
    write("quantization", {"model": "bootstrapped v0001", "metrics": table})


if __name__ == "__main__":
    main()
