"""The hyperparameters of a round: the config's ``train`` section, overlaid with the best
configuration of the last sweep (``state/tuned.json``) unless ``train.use_tuned`` is false."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform.atomic import put_file
from erroracle.platform.config import Config, TrainConfig

__all__ = ["SEARCHABLE", "effective_train_config", "load_tuned", "save_tuned", "sized_to_data"]

# The keys a sweep may set (the bundled tune.yaml names a subset of these).
SEARCHABLE = (
    "lr", "warmup_steps", "weight_decay", "batch_size", "dropout", "category_weight",
    "severity_weight", "retrieval_weight", "temperature", "decay", "trainable_layers",
)
_TUNED = "state/tuned.json"


def _path(data_root: str) -> tuple[pafs.FileSystem, str]:
    fs, root = pafs.FileSystem.from_uri(data_root)
    return fs, f"{root.rstrip('/')}/{_TUNED}"


def load_tuned(data_root: str) -> dict[str, Any] | None:
    """The stored sweep result (``{"hparams", "score", "trials", "tuned_at"}``), if any."""
    fs, path = _path(data_root)
    try:
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc


def save_tuned(data_root: str, result: dict[str, Any]) -> None:
    fs, path = _path(data_root)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    payload = json.dumps(result, indent=2, sort_keys=True).encode()
    put_file(fs, path, lambda out: out.write(payload))


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
