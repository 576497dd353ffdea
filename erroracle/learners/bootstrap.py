"""Cold start: a first model from the bundled knowledge base in seconds, without Ray Train.

The encoder stays frozen, so its retrieval embedding is the plain encoder's; only the two heads
are fitted, full-batch, on the pooled features of the training split. The held-out split is the
same as a training round's, so the bootstrap's metrics compare fairly with later candidates.

Example:
    >>> version = bootstrap(config, store, Registry(config.data_root))  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pyarrow as pa
import torch

from erroracle.errors import ModelNotReady
from erroracle.learners.evaluate import evaluate_model
from erroracle.learners.examples import COLUMNS, Labeler, to_examples
from erroracle.learners.model import ErrorModel, new_model
from erroracle.learners.objective import masked_cross_entropy
from erroracle.platform.config import Config
from erroracle.platform.registry import Registry
from erroracle.platform.store import ErrorReader
from erroracle.platform.taxonomy import Taxonomy

__all__ = ["bootstrap", "fit_heads"]

_EPOCHS = 300
_LR = 0.01


def fit_heads(model: ErrorModel, examples: pa.Table, *, weight_decay: float = 0.01) -> None:
    """Fit the category and severity heads on frozen pooled features (full batch, AdamW)."""
    features = model.features(examples["error_text"].to_pylist())
    targets = {
        head: (
            torch.tensor(examples[head].to_pylist(), dtype=torch.long),
            torch.tensor(examples[f"{head}_weight"].to_pylist(), dtype=torch.float32),
        )
        for head in ("category", "severity")
    }
    heads = [model.category_head, model.severity_head]
    optimizer = torch.optim.AdamW(
        [p for head in heads for p in head.parameters()], lr=_LR, weight_decay=weight_decay
    )
    for _ in range(_EPOCHS):
        optimizer.zero_grad()
        loss = sum(
            masked_cross_entropy(head(features), *targets[name])
            for head, name in zip(heads, ("category", "severity"), strict=True)
        )
        loss.backward()
        optimizer.step()


def bootstrap(
    config: Config, store: ErrorReader, registry: Registry, *, taxonomy: Taxonomy | None = None
) -> str:
    """Fit, evaluate, register and promote the first model; returns its version."""
    started = time.perf_counter()
    table = store.read_table(sources=["knowledge"], columns=COLUMNS)
    if table.num_rows == 0:
        raise ModelNotReady("the lake has no knowledge-base records to bootstrap from")
    labeler = Labeler(taxonomy or Taxonomy.for_config(config))
    examples = to_examples(
        table, labeler, validation_fraction=config.train.validation_fraction,
        seed=config.train.seed, issues=store.issue_map(table["fingerprint"]),
    )
    train = examples.filter(pa.compute.invert(examples["validation"]))
    validation = examples.filter(examples["validation"])
    model = new_model(
        config.model.base, labeler.space, dropout=0.0, max_length=config.model.max_length,
        seed=config.train.seed,
    )
    fit_heads(model, train, weight_decay=config.train.weight_decay)
    metrics = evaluate_model(model, validation, index_max_length=config.model.index_max_length)
    lineage = {
        "records": examples.num_rows, "validation_records": validation.num_rows,
        "records_per_source": {"knowledge": examples.num_rows}, "parent": None,
        "bootstrap": True, "seconds": round(time.perf_counter() - started, 2),
    }
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "model", metrics=metrics)
        version = registry.register(
            Path(folder) / "model", metrics=metrics, lineage=lineage,
            train_config={"bootstrap": {"epochs": _EPOCHS, "lr": _LR, "encoder": "frozen"}},
            records=examples,
        )
    registry.promote(version, reason="bootstrap: first model, from the knowledge base")
    registry.record_decision(version, promoted=True, reason="bootstrap: no champion before it")
    return version
