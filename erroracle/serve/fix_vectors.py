"""Fix embeddings kept beside the model version that made them.

Encoding the lake's fixes at the index length is the longest part of loading a model (about a
minute for a few thousand fixes on two cores). The vectors depend only on the model, how it runs
(fp32 or int8) and the text, so they are stored in the version's folder, keyed by a hash of the
text: a reload, a restart or a second replica reads them back instead of encoding again, and a
fix is encoded once however many replicas index it.

Each writer adds a Parquet part of the vectors it computed, written to a temporary name and
renamed, so a reader sees whole parts or none. A part that cannot be read (removed by a
compaction under way, or damaged) is skipped: its fixes are encoded again, never served wrong.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from erroracle.serve.solutions import Encoder

__all__ = ["FixVectors", "cached_encoder"]

log = logging.getLogger("erroracle.serve.model")

_COMPACT_AT = 32


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class FixVectors:
    """The vectors of one model version run one way, in ``folder``; more than ``compact_at``
    parts are merged into one when they are loaded."""

    def __init__(self, folder: Path, compact_at: int = _COMPACT_AT) -> None:
        self.folder = folder
        self.compact_at = compact_at
        self.vectors: dict[str, np.ndarray] = {}

    @classmethod
    def beside(cls, version_folder: Path, *, quantized: bool, max_length: int) -> FixVectors:
        kind = "int8" if quantized else "fp32"
        return cls(version_folder / f"fix-vectors-{kind}-{max_length}")

    def load(self) -> FixVectors:
        """Read every part there is (and merge them when there are many)."""
        parts = sorted(self.folder.glob("part-*.parquet")) if self.folder.is_dir() else []
        for part in parts:
            try:
                table = pq.read_table(part)
            except (OSError, pa.ArrowInvalid):
                continue
            matrix = np.asarray(table["vector"].to_pylist(), dtype=np.float32)
            self.vectors.update(zip(table["key"].to_pylist(), matrix, strict=True))
        if len(parts) > self.compact_at and self.vectors:
            self._write(list(self.vectors), np.vstack(list(self.vectors.values())))
            for part in parts:
                part.unlink(missing_ok=True)
        return self

    def forget(self, texts: Sequence[str]) -> None:
        """Drop the vectors of these texts (deleted fixes), here and on disk: what is left is
        written as one part and the old parts removed (a replica reading meanwhile skips a
        part that is gone and encodes its fixes again)."""
        gone = {_key(text) for text in texts} & set(self.vectors)
        if not gone:
            return
        for key in gone:
            del self.vectors[key]
        parts = sorted(self.folder.glob("part-*.parquet")) if self.folder.is_dir() else []
        try:
            if self.vectors:
                self._write(list(self.vectors), np.vstack(list(self.vectors.values())))
            for part in parts:
                part.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot forget fix vectors in %s: %s", self.folder, exc)

    def add(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        """Keep new vectors, here and on disk (a folder that cannot be written is logged and
        left: the vectors still serve this process)."""
        self.vectors.update(zip(keys, matrix, strict=True))
        try:
            self._write(keys, matrix)
        except OSError as exc:
            log.warning("cannot keep fix vectors in %s: %s", self.folder, exc)

    def _write(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({"key": pa.array(list(keys), pa.string()),
                          "vector": pa.array(list(matrix.astype(np.float32)),
                                             pa.list_(pa.float32()))})
        name = f"part-{uuid.uuid4().hex}.parquet"
        partial = self.folder / f".{name}.partial"
        pq.write_table(table, partial)
        os.replace(partial, self.folder / name)


def cached_encoder(encode: Encoder, vectors: FixVectors) -> Encoder:
    """``encode``, reading the vectors of texts seen before and keeping those of new ones."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        keys = [_key(text) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in vectors.vectors))
        if missing:
            position = {key: i for i, key in enumerate(keys)}
            vectors.add(missing, encode([texts[position[key]] for key in missing]))
        return np.vstack([vectors.vectors[key] for key in keys]) if keys else encode([])

    return embed
