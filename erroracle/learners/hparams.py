"""The hyperparameters of a round: the config's ``train`` section, overlaid with the best
configuration of the last sweep (``state/tuned.json``) unless ``train.use_tuned`` is false."""

from __future__ import annotations

import math
from typing import Any

from erroracle.platform.config import Config, TrainConfig
from erroracle.platform.state_files import StateFiles

__all__ = ["SEARCHABLE", "effective_train_config", "load_tuned", "save_tuned", "sized_to_data"]

# The keys a sweep may set (the bundled tune.yaml names a subset of these).
SEARCHABLE = (
    "lr", "warmup_steps", "weight_decay", "batch_size", "dropout", "category_weight",
    "severity_weight", "retrieval_weight", "temperature", "decay", "trainable_layers",
)
_TUNED = "tuned.json"  # under <data_root>/state


def load_tuned(data_root: str) -> dict[str, Any] | None:
    """The stored sweep result (``{"hparams", "score", "trials", "tuned_at"}``), if any."""
    return StateFiles(data_root, "state").read(_TUNED)


def save_tuned(data_root: str, result: dict[str, Any]) -> None:
    StateFiles(data_root, "state").write(_TUNED, result)


def effective_train_config(config: Config, **overrides: Any) -> TrainConfig:
    """``config.train`` + tuned values (when enabled) + explicit overrides (e.g. CLI flags)."""
    values = config.train.model_dump()
    tuned = load_tuned(config.data_root) if config.train.use_tuned else None
    if tuned:
        values.update({k: v for k, v in tuned.get("hparams", {}).items() if k in SEARCHABLE})
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**values)


def sized_to_data(hp: TrainConfig, examples: int) -> TrainConfig:
    """The round's steps: ``max_steps``, or fewer when ``max_epochs`` passes over ``examples``
    take fewer (a small lake pays a small cost). Warmup shrinks in proportion, so the schedule
    keeps its shape."""
    per_pass = examples / (hp.batch_size * hp.workers)
    steps = max(1, min(hp.max_steps, math.ceil(hp.max_epochs * per_pass)))
    if steps == hp.max_steps:
        return hp
    warmup = round(hp.warmup_steps * steps / hp.max_steps)
    return hp.model_copy(update={"max_steps": steps, "warmup_steps": warmup,
                                 "checkpoint_every": min(hp.checkpoint_every, steps)})
