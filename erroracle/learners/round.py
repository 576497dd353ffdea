"""One training round: data from the lake, Ray Train from the champion, evaluation of candidate
and champion on the same held-out data, registration, and the promotion decision.

Example:
    >>> result = run_round(config, store, Registry(config.data_root))  # doctest: +SKIP
    >>> result.version, result.promoted, result.decision.reason  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from erroracle.errors import TrainingError
from erroracle.learners.checkpoint import MODEL_DIR
from erroracle.learners.data import TrainingData, build_datasets
from erroracle.learners.evaluate import (
    RETRIEVAL_METRICS,
    Decision,
    decide_promotion,
    evaluate_model,
)
from erroracle.learners.hparams import effective_train_config, sized_to_data
from erroracle.learners.model import LABELS_FILE, LabelSpace, load_model, new_model
from erroracle.learners.train import build_trainer
from erroracle.platform.config import Config, TrainConfig
from erroracle.platform.registry import Registry
from erroracle.platform.resources import wait_for_cpus
from erroracle.platform.store import ErrorReader
from erroracle.platform.taxonomy import Taxonomy

__all__ = ["RoundResult", "plain_retrieval", "run_round", "runs_path", "starting_point"]


@dataclass
class RoundResult:
    """What a round produced and decided."""

    version: str
    parent: str | None
    candidate: dict[str, float]
    champion: dict[str, float] | None
    decision: Decision
    promoted: bool
    lineage: dict[str, Any] = field(default_factory=dict)
    train_seconds: float = 0.0
    samples_per_s: float = 0.0


def runs_path(config: Config) -> str:
    """Where Ray Train and Tune keep their runs (object storage on a cluster)."""
    if "://" in config.data_root:
        return f"{config.data_root.rstrip('/')}/runs"
    return str(Path(config.data_root, "runs").resolve())


def plain_retrieval(config: Config, labels: LabelSpace,
                    validation: pa.Table) -> dict[str, float]:
    """Fix retrieval of the untrained encoder on the validation examples: the floor a candidate
    must reach (its heads are untrained, so only retrieval is kept)."""
    model = new_model(config.model.base, labels, dropout=0.0, max_length=config.model.max_length)
    metrics = evaluate_model(model, validation, index_max_length=config.model.index_max_length)
    return {name: metrics[name] for name in (*RETRIEVAL_METRICS, "retrieval_examples")
            if name in metrics}


def starting_point(registry: Registry, labels: LabelSpace) -> tuple[str | None, Path | None]:
    """The champion and its folder, if its label space is the current taxonomy's."""
    champion = registry.champion()
    if champion is None:
        return None, None
    folder = registry.local_path(champion)
    if LabelSpace.from_json(json.loads((folder / LABELS_FILE).read_text())) != labels:
        return champion, None  # the taxonomy changed: heads start afresh, lineage still says so
    return champion, folder


def _fit(
    config: Config, data: TrainingData, train_cfg: TrainConfig, init: Path | None,
    fail_once_at_step: int | None,
):
    name = datetime.now(timezone.utc).strftime("round-%Y%m%dT%H%M%S%f")
    trainer = build_trainer(
        config, data, train_cfg, storage_path=runs_path(config), name=name, init_model=init,
        fail_once_at_step=fail_once_at_step, validate=False,
    )
    from ray.train import TrainingFailedError

    try:
        result = trainer.fit()
    except TrainingFailedError as exc:
        raise TrainingError(f"training failed: {exc}".splitlines()[0]) from exc
    if result.checkpoint is None:
        raise TrainingError("training finished without a checkpoint")
    return name, result


def run_round(
    config: Config, store: ErrorReader, registry: Registry, *, taxonomy: Taxonomy | None = None,
    promote: bool = True, overrides: dict[str, Any] | None = None,
    fail_once_at_step: int | None = None, cancel: threading.Event | None = None,
) -> RoundResult:
    """Train a candidate, evaluate it beside the champion, register it, maybe promote it.

    Before the data pipeline and before training, the round waits at most ``ray.resource_wait``
    for the CPUs it needs (:func:`~erroracle.platform.resources.wait_for_cpus`).

    Args:
        promote: apply the promotion rule; False only records what it would have decided.
        overrides: hyperparameters that win over config and tuned values (CLI flags).
        fail_once_at_step: test hook passed to :func:`build_trainer`.
        cancel: set to end a wait for resources (the first Ctrl-C of ``up``).
    """
    train_cfg = effective_train_config(config, **(overrides or {}))
    cpus = float(train_cfg.workers * train_cfg.cpus_per_worker)
    wait = config.ray.resource_wait
    wait_for_cpus(1.0, what="the data pipeline", timeout=wait, cancel=cancel)
    data = build_datasets(store, config, taxonomy or Taxonomy.for_config(config))
    train_cfg = sized_to_data(train_cfg, data.lineage["records"] - data.lineage[
        "validation_records"])
    parent, init = starting_point(registry, data.labels)
    wait_for_cpus(cpus, what="training", timeout=wait, cancel=cancel)
    started = time.perf_counter()
    name, result = _fit(config, data, train_cfg, init, fail_once_at_step)
    train_seconds = time.perf_counter() - started
    validation = data.validation_table()
    with result.checkpoint.as_directory() as folder:
        model_dir = Path(folder) / MODEL_DIR
        index_length = config.model.index_max_length
        candidate = evaluate_model(load_model(model_dir), validation,
                                   index_max_length=index_length)
        champion = (evaluate_model(load_model(init), validation, index_max_length=index_length)
                    if init else None)
        plain = plain_retrieval(config, data.labels, validation)
        decision = decide_promotion(candidate, champion, train_cfg.promote_tolerance, plain)
        lineage = {
            **data.lineage, "parent": parent, "run": name,
            "resumed_from_step": result.metrics.get("resumed_from_step", 0),
        }
        version = registry.register(
            model_dir, metrics=candidate, train_config=train_cfg.model_dump(), lineage=lineage,
            records=data.records(),
        )
    promoted = promote and decision.promote
    if promoted:
        registry.promote(version, reason=decision.reason)
    registry.record_decision(
        version, promoted=promoted, compared_to=parent, champion_metrics=champion,
        plain_encoder_metrics=plain,
        reason=decision.reason if promote else f"promotion not requested; {decision.reason}",
    )
    return RoundResult(
        version=version, parent=parent, candidate=candidate, champion=champion,
        decision=decision, promoted=promoted, lineage=lineage, train_seconds=train_seconds,
        samples_per_s=float(result.metrics.get("samples_per_s", 0.0)),
    )
