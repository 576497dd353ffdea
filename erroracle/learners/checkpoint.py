"""Training checkpoints in safetensors: the model directory, the AdamW state and the step.

``torch.save`` would pickle the optimizer; here its tensors go to ``optimizer.safetensors`` and
its plain settings to ``state.json``, so a checkpoint can be read without executing anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from erroracle.errors import CheckpointError
from erroracle.learners.model import ErrorModel, load_model

__all__ = ["MODEL_DIR", "load_checkpoint", "save_checkpoint"]

MODEL_DIR = "model"
_OPTIMIZER_FILE = "optimizer.safetensors"
_STATE_FILE = "state.json"


def save_checkpoint(
    path: str | Path, model: ErrorModel, optimizer: torch.optim.Optimizer, step: int,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write the model, the optimizer state and the step to ``path``."""
    path = Path(path)
    model.save(path / MODEL_DIR, metrics=metrics)
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": value.detach().contiguous()
        for index, slots in state["state"].items()
        for key, value in slots.items()
    }
    save_file(tensors, str(path / _OPTIMIZER_FILE))
    state_json = {"step": step, "param_groups": state["param_groups"]}
    (path / _STATE_FILE).write_text(json.dumps(state_json))
    return path


def load_checkpoint(path: str | Path) -> tuple[ErrorModel, dict[str, Any], int]:
    """The model, the optimizer state dict (for ``load_state_dict``) and the step reached."""
    path = Path(path)
    model = load_model(path / MODEL_DIR)
    try:
        state = json.loads((path / _STATE_FILE).read_text())
        tensors = load_file(str(path / _OPTIMIZER_FILE))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: damaged training checkpoint: {exc}") from exc
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = value
    return model, {"state": slots, "param_groups": state["param_groups"]}, int(state["step"])
