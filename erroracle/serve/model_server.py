"""The model deployment: batched inference, the solution and group indexes, hot reload.

Everything a request needs from one model lives in one immutable :class:`Snapshot` (the model,
the indexes built with its embeddings, and its version). A watcher thread loads a new champion
beside the serving snapshot and swaps the reference when it is ready; a batch reads the reference
once, so every answer is computed by, and names, exactly one version, and nothing in flight fails.
The same thread takes newly stored solved records, groups and feedback into the indexes every
``index_refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import torch
from ray import serve

from erroracle.errors import ErroracleError, ModelNotReady
from erroracle.learners.model import ErrorModel, load_model
from erroracle.platform.config import Config
from erroracle.platform.lake_reader import open_reader
from erroracle.platform.registry import Registry, version_number
from erroracle.serve.fix_vectors import FixVectors, cached_encoder
from erroracle.serve.novelty import GroupIndex
from erroracle.serve.solutions import AnnSettings, Encoder, FeedbackTally, SolutionIndex, document

__all__ = ["ModelServer", "Snapshot", "quantized"]

log = logging.getLogger("erroracle.serve.model")

_INDEX_COLUMNS = [
    "id", "source", "received_at", "fingerprint", "error_type", "message", "title", "body",
    "frames", "solution", "url", "author", "license", "tags", "score",
]
# Records may become visible in the lake a little after their received_at (the ingest flush).
_REFRESH_OVERLAP = timedelta(minutes=2)
# The longest a replica that is behind holds a batch while it loads the newer champion.
_CATCH_UP_SECONDS = 120.0


def quantized(model: ErrorModel) -> ErrorModel:
    """int8 dynamic quantisation of the linear layers, for CPU inference."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def embedder(model: ErrorModel, max_length: int | None = None) -> Encoder:
    """The retrieval embeddings of texts cut at ``max_length`` tokens (None: the query length),
    as one float32 matrix."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        return model.encode(list(texts), max_length=max_length).embedding.numpy()

    return embed


@dataclass(frozen=True)
class Snapshot:
    """One model version with the indexes built from its embeddings."""

    version: str
    model: ErrorModel
    solutions: SolutionIndex
    groups: GroupIndex
    refreshed_at: float
    lake_until: datetime
    embed_fixes: Encoder  # fixes as the solution index reads them: longer than a query
    fix_vectors: FixVectors  # what embed_fixes keeps beside the version

    @property
    def embed(self) -> Encoder:
        """Texts as queries are read: errors, and the groups novelty compares them with."""
        return embedder(self.model)


@dataclass(frozen=True)
class Encoded:
    """The model's reading of one text."""

    category: str
    category_confidence: float
    severity: str
    severity_confidence: float
    embedding: np.ndarray


@serve.deployment(name="model")
class ModelServer:
    """The model deployment: one snapshot at a time, batched inference, indexes, reload."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = Config.model_validate(config)
        torch.set_num_threads(max(1, math.ceil(self.config.serve.model_cpus)))
        self.registry = Registry(self.config.data_root)
        self.lake = open_reader(self.config)
        self.tally = FeedbackTally()
        self.rng = np.random.default_rng()
        self.failed_versions: set[str] = set()
        self._snapshot: Snapshot | None = None
        self._steps = 0  # watcher steps finished; each reads the registry once
        self._wake = threading.Event()
        self._stop = threading.Event()
        # The champion loads before the constructor returns: Serve sends a replica nothing until
        # then, so a replica that starts beside running ones never answers "not ready".
        self._checked_step()
        self._watcher = threading.Thread(target=self._watch, name="erroracle-reload", daemon=True)
        self._watcher.start()

    # -- loading and refreshing ---------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.serve.reload_poll_seconds)
            self._wake.clear()
            self._checked_step()

    def _checked_step(self) -> None:
        try:
            self._step()
        except (ErroracleError, OSError):
            log.exception("reloading or refreshing the model failed; serving what is loaded")
        self._steps += 1

    def _step(self) -> None:
        champion = self.registry.champion()
        current = self._snapshot
        if champion and champion not in self.failed_versions and (
            current is None or champion != current.version
        ):
            try:
                self._snapshot = self._load(champion)
            except ErroracleError:
                self.failed_versions.add(champion)
                raise
            log.info("now serving model %s", champion)
        elif current and time.monotonic() - current.refreshed_at >= (
            self.config.serve.index_refresh_seconds
        ):
            self._snapshot = self._refresh(current)

    def _read_lake(self, since: datetime | None = None) -> list[dict[str, Any]]:
        return self.lake.read_table(since=since, columns=_INDEX_COLUMNS).to_pylist()

    def _load(self, version: str) -> Snapshot:
        started = time.perf_counter()
        model = load_model(self.registry.local_path(version))
        model.eval()
        int8 = self.config.serve.quantize and not torch.cuda.is_available()
        if int8:
            model = quantized(model)
        lake_until = datetime.now(timezone.utc)
        rows = self._read_lake()
        self.tally.add(row for row in rows if row["source"] == "feedback")
        embed = embedder(model)
        serve_cfg, train_cfg = self.config.serve, self.config.train
        fix_vectors = FixVectors.beside(self.registry.local_path(version), quantized=int8,
                                        max_length=self.config.model.index_max_length).load()
        ann = AnnSettings(serve_cfg.ann_min_fixes, fix_vectors.folder.with_name(
            fix_vectors.folder.name.replace("fix-vectors", "fix-ann")))
        embed_fixes = cached_encoder(embedder(model, self.config.model.index_max_length),
                                     fix_vectors)
        snapshot = Snapshot(
            version=version,
            model=model,
            solutions=SolutionIndex.build(rows, embed_fixes, self.tally,
                                          serve_cfg.feedback_weight, serve_cfg.lexical_weight,
                                          ann),
            groups=GroupIndex.build(
                [row for row in rows if row["source"] != "feedback"], embed,
                quantile=serve_cfg.novelty_quantile, fraction=train_cfg.validation_fraction,
                seed=train_cfg.seed, max_groups=serve_cfg.index_max_groups,
            ),
            refreshed_at=time.monotonic(),
            lake_until=lake_until,
            embed_fixes=embed_fixes,
            fix_vectors=fix_vectors,
        )
        log.info("model %s loaded with %d fixes and %d groups in %.1f s", version,
                 len(snapshot.solutions), len(snapshot.groups), time.perf_counter() - started)
        return snapshot

    def _forget_deleted(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot without what was deleted since it was built: fixes, group vectors and
        the feedback about them (the tally is counted again from the feedback left)."""
        if not self.lake.deleted_since_last_look():
            return snapshot
        tombstones = self.lake.tombstones()
        self.tally = FeedbackTally()
        self.tally.add(self.lake.read_table(sources=["feedback"]).to_pylist())
        log.info("forgetting deleted records (%d deletions so far)", self.lake.deletions)
        solutions = snapshot.solutions.without(tombstones, self.tally)
        kept = solutions.ids
        snapshot.fix_vectors.forget([document(entry) for entry in snapshot.solutions.entries
                                     if entry["id"] not in kept])
        return dataclasses.replace(snapshot, solutions=solutions,
                                   groups=snapshot.groups.without(tombstones))

    def _refresh(self, snapshot: Snapshot) -> Snapshot:
        lake_until = datetime.now(timezone.utc)
        snapshot = self._forget_deleted(snapshot)
        rows = self._read_lake(since=snapshot.lake_until - _REFRESH_OVERLAP)
        self.tally.add(row for row in rows if row["source"] == "feedback")
        return dataclasses.replace(
            snapshot,
            solutions=snapshot.solutions.extended(rows, snapshot.embed_fixes),
            groups=snapshot.groups.extended(
                [row for row in rows if row["source"] != "feedback"], snapshot.embed,
                self.config.serve.index_max_groups,
            ),
            refreshed_at=time.monotonic(),
            lake_until=lake_until,
        )

    def _require(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise ModelNotReady("no model is loaded yet")
        return snapshot

    # -- inference ------------------------------------------------------------------------------

    @staticmethod
    def _infer(snapshot: Snapshot, texts: list[str]) -> list[Encoded]:
        out = snapshot.model.encode(texts, batch_size=len(texts))
        categories = out.category_logits.softmax(-1).max(-1)
        severities = out.severity_logits.softmax(-1).max(-1)
        labels = snapshot.model.labels
        embeddings = out.embedding.numpy()
        return [
            Encoded(
                labels.categories[int(categories.indices[i])], float(categories.values[i]),
                labels.severities[int(severities.indices[i])], float(severities.values[i]),
                embeddings[i],
            )
            for i in range(len(texts))
        ]

    async def _at_least(self, version: str | None) -> Snapshot:
        """The snapshot to answer with, never older than ``version`` (the newest the ingress has
        seen), so that with several replicas answers only move forward while they swap one
        after another. A replica that is behind reads the registry at once and holds the batch
        until its load is done: two watcher steps, the one under way and a fresh one. If the
        registry names an older champion by then (a rollback), what it serves is right."""
        snapshot = self._require()
        if version_number(snapshot.version) >= version_number(version):
            return snapshot
        started, deadline = self._steps, time.monotonic() + _CATCH_UP_SECONDS
        self._wake.set()
        while (self._steps < started + 2 and time.monotonic() < deadline
               and version_number(self._require().version) < version_number(version)):
            await asyncio.sleep(0.02)
        return self._require()

    async def _encode(self, requests: list[dict[str, Any]],
                      at_least: str | None) -> tuple[Snapshot, list[Encoded]]:
        """One forward pass over a batch, by one snapshot read once: every answer in the batch
        is computed by, and names, the same version."""
        snapshot = await self._at_least(at_least)
        texts = [request["text"] for request in requests]
        return snapshot, await asyncio.to_thread(self._infer, snapshot, texts)

    def _suggestions(self, snapshot: Snapshot, encoded: Encoded, request: dict[str, Any]):
        return snapshot.solutions.search(
            encoded.embedding, request["top_k"], rng=self.rng,
            exploration=self.config.serve.exploration, domain=request.get("domain"),
            text=request["text"],
        )

    async def predict(self, requests: list[dict[str, Any]],
                      at_least: str | None = None) -> list[dict[str, Any]]:
        """A batch of ``{"text", "fingerprint", "top_k", "domain"?}`` → labels, novelty, fixes
        and version for each. The ingress batches (``@serve.batch``), so that a whole batch
        costs one call between the deployments."""
        snapshot, encoded = await self._encode(requests, at_least)
        return [self._prediction(snapshot, one, request)
                for one, request in zip(encoded, requests, strict=True)]

    def _prediction(self, snapshot: Snapshot, encoded: Encoded,
                    request: dict[str, Any]) -> dict[str, Any]:
        novelty = snapshot.groups.novelty(request["fingerprint"], encoded.embedding)
        return {
            "model_version": snapshot.version,
            "category": {"label": encoded.category,
                         "confidence": round(encoded.category_confidence, 4)},
            "severity": {"label": encoded.severity,
                         "confidence": round(encoded.severity_confidence, 4)},
            "novelty": {"score": novelty.score, "is_novel": novelty.is_novel,
                        "threshold": round(novelty.threshold, 4),
                        "nearest_fingerprint": novelty.nearest_fingerprint},
            "suggestions": self._suggestions(snapshot, encoded, request),
        }

    async def suggest(self, requests: list[dict[str, Any]],
                      at_least: str | None = None) -> list[dict[str, Any]]:
        """A batch of ``{"text", "top_k", "domain"?}`` → ranked fixes and the version."""
        snapshot, encoded = await self._encode(requests, at_least)
        return [{"model_version": snapshot.version,
                 "suggestions": self._suggestions(snapshot, one, request)}
                for one, request in zip(encoded, requests, strict=True)]

    # -- feedback and state ---------------------------------------------------------------------

    def note_feedback(self, row: dict[str, Any]) -> None:
        """Count a stored feedback record now, without waiting for the next refresh."""
        self.tally.add([row])

    def reload(self) -> None:
        """Look for a new champion now (the loop calls this after a promotion)."""
        self._wake.set()

    def info(self) -> dict[str, Any]:
        snapshot = self._snapshot
        if snapshot is None:
            return {"ready": False, "model_version": None}
        return {
            "ready": True, "model_version": snapshot.version,
            "fixes_indexed": len(snapshot.solutions), "groups_indexed": len(snapshot.groups),
            "groups_known": len(snapshot.groups.known),
            "novelty_threshold": round(snapshot.groups.threshold, 4),
            "novelty_calibration_pairs": snapshot.groups.pairs,
            "quantized": self.config.serve.quantize,
            "feedback": self.tally.rates(),
        }

    def __del__(self) -> None:
        self._stop.set()
        self._wake.set()
