"""Approximate nearest neighbours for suggest-fix, once there are too many fixes to compare a
query with each of them (``serve.ann_min_fixes``).

A faiss inverted-file index (IVF-Flat) over the unit-length fix vectors, searched by inner product
(the cosine): the vectors are split into about 2·√n clusters, and a query is compared with the
fixes of its 32 nearest clusters only. It only proposes candidates: the solution index scores
them exactly (cosine, BM25, feedback), so an answer's scores are those brute force gives, and only
a fix the clusters miss can be lost (``benchmarks/ann_search.py`` measures how often). An HNSW
graph was tried first: on a million fixes with many near-copies its recall@10 stayed between 0.79
and 0.86 however wide the search, and it took 153 s to build against IVF's 22 s. faiss rather
than hand-written code: it is the reference implementation, with a documented file format.

The index is shared by the snapshots of one model version and grows as fixes arrive (into the
clusters found at build time); a snapshot sees only the rows it was built with (``rows`` maps an
index label to a row of that snapshot, -1 for a deleted fix, which stays in the index and is
filtered out). A lock serialises adding and searching, which faiss does not allow at once.

It is kept beside the model version (``fix-ann-*/``), with the number of fixes it holds and a
digest of their ids in order: a replica that loads the version reads it, checks that its fixes are
the first ones the replica indexes, and adds only the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

__all__ = ["DenseIndex"]

_PROBES = 32  # clusters a query looks into
_TRAIN_PER_CLUSTER = 64  # vectors per cluster that k-means learns the clusters from
_INDEX_FILE, _META_FILE = "index.faiss", "index.json"


def _digest(ids: Sequence[str]) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for identifier in ids:
        hasher.update(identifier.encode() + b"\0")
    return hasher.hexdigest()


class DenseIndex:
    """Candidate rows by cosine from an inverted-file index."""

    def __init__(self, index: faiss.Index, rows: np.ndarray, lock: threading.Lock) -> None:
        self._index = index
        self.rows = rows
        self._lock = lock

    @classmethod
    def build(cls, vectors: np.ndarray) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, np.float32)
        clusters = max(1, min(len(vectors), int(2 * np.sqrt(len(vectors)))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1],
                                   clusters, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(
            len(vectors), min(len(vectors), clusters * _TRAIN_PER_CLUSTER), replace=False)
        index.train(vectors[np.sort(sample)])
        index.add(vectors)
        return cls(index, np.arange(len(vectors), dtype=np.int64), threading.Lock())

    @classmethod
    def restored(cls, folder: Path, ids: Sequence[str], vectors: np.ndarray) -> DenseIndex:
        """The index kept in ``folder`` when it holds a prefix of ``ids`` (the rest added), or a
        new one, kept there; a folder that cannot be written is left and the index still
        serves."""
        try:
            meta = json.loads((folder / _META_FILE).read_text())
            held = int(meta["count"])
            if held > len(ids) or meta["digest"] != _digest(ids[:held]):
                raise ValueError("the kept index is of other fixes")
            index = faiss.read_index(str(folder / _INDEX_FILE))
            if index.ntotal != held:
                raise ValueError("the kept index is incomplete")
            dense = cls(index, np.arange(held, dtype=np.int64), threading.Lock())
            return dense.extended(vectors[held:], held)
        except (OSError, ValueError, KeyError, RuntimeError):
            dense = cls.build(vectors)
            with contextlib.suppress(OSError, RuntimeError):  # it serves even if not kept
                dense.keep(folder, ids)
            return dense

    def keep(self, folder: Path, ids: Sequence[str]) -> None:
        """Write the index and what it holds, each under a temporary name and then renamed."""
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{_INDEX_FILE}.{uuid.uuid4().hex}.partial"
        with self._lock:
            faiss.write_index(self._index, str(partial))
            count = self._index.ntotal
        os.replace(partial, folder / _INDEX_FILE)
        meta = folder / f".{_META_FILE}.{uuid.uuid4().hex}.partial"
        meta.write_text(json.dumps({"count": count, "digest": _digest(ids[:count])}))
        os.replace(meta, folder / _META_FILE)

    def extended(self, vectors: np.ndarray, first_row: int) -> DenseIndex:
        """A view with ``vectors`` added as rows ``first_row``, ``first_row + 1``, ... (the index
        is shared with this view, which does not see them)."""
        if not len(vectors):
            return self
        with self._lock:
            first = self._index.ntotal
            self._index.add(np.ascontiguousarray(vectors, np.float32))
        fresh = np.full(first + len(vectors), -1, dtype=np.int64)
        fresh[: len(self.rows)] = self.rows
        fresh[first:] = np.arange(first_row, first_row + len(vectors))
        return DenseIndex(self._index, fresh, self._lock)

    def without(self, keep: np.ndarray, count: int) -> DenseIndex:
        """A view of the rows ``keep`` (of ``count``), renumbered as the index keeps them."""
        renumbered = np.full(count, -1, dtype=np.int64)
        renumbered[keep] = np.arange(len(keep))
        rows = np.where(self.rows >= 0, renumbered[np.maximum(self.rows, 0)], -1)
        return DenseIndex(self._index, rows, self._lock)

    def search(self, query: np.ndarray, wanted: int) -> np.ndarray:
        """The rows of (about) the ``wanted`` fixes nearest to ``query``."""
        parameters = faiss.SearchParametersIVF(nprobe=_PROBES)
        with self._lock:
            _, labels = self._index.search(query.reshape(1, -1).astype(np.float32, copy=False),
                                           wanted, params=parameters)
        labels = labels[0]
        labels = labels[(labels >= 0) & (labels < len(self.rows))]
        rows = self.rows[labels]
        return rows[rows >= 0]
