"""Suggest-fix search at 10k, 100k and 1M fixes: the ANN index (``serve.ann_min_fixes``) beside
comparing the query with every fix, in the product's own ``SolutionIndex`` (what a model replica
searches for every suggest-fix and predict), with the shipped weights (BM25 0.1, feedback 0.3).

The fixes are the Stack Overflow sample's 2,000 questions with their answers, as the product
indexes them: their documents encoded by the bundled model at ``model.index_max_length``. Past
2,000, each fix is a copy of a real one (its text, so BM25 reads real words) whose vector is the
real vector moved by Gaussian noise (cosine about 0.8 to it) and made unit-length again, so that
the index must tell near neighbours apart (500 near-copies of each fix at 1M). Filling 1M fixes
through the HTTP API would mean encoding 1M documents on two cores (days), hence the index
itself. The queries are 200 of the
questions' titles, encoded at the query length as a replica does. Recall@10 is the share of the
brute-force top 10 that the ANN top 10 also holds; latencies are one query at a time,
including BM25 and the exact re-scoring of the candidates.

Usage: ``python benchmarks/ann_search.py [--sizes 10000,100000,1000000] [--queries 200]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _lakes import so_records
from _report import percentile, write

_NOISE = 0.75  # Gaussian noise of this norm moves a copy's vector to a cosine of about 0.8
_TOP = 10
_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "erroracle-ann-bench-base.npz"


def base_vectors(records: list[dict], titles: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The real documents' vectors at the index length and the titles' at the query length, by
    the bootstrapped bundled model (cached in ``_CACHE`` between runs)."""
    if _CACHE.exists():
        cached = np.load(_CACHE)
        if len(cached["docs"]) == len(records) and len(cached["queries"]) == len(titles):
            return cached["docs"], cached["queries"]
    from erroracle.learners.model import LabelSpace, new_model
    from erroracle.platform.config import load_config
    from erroracle.serve.model_server import embedder
    from erroracle.serve.solutions import document, solved_entry

    config = load_config(None, environ={})
    model = new_model(None, LabelSpace(("a",), ("x",)), dropout=0.0,
                      max_length=config.model.max_length, seed=0).eval()
    docs = embedder(model, config.model.index_max_length)(
        [document(solved_entry(record)) for record in records])
    queries = embedder(model)(titles)
    np.savez(_CACHE, docs=docs, queries=queries)
    return docs, queries


def grown(records: list[dict], vectors: np.ndarray, size: int,
          rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    """``size`` fixes: the real ones, then noisy copies of them."""
    picks = np.arange(size) % len(records)
    copies = [{**records[i], "id": f"{records[i]['id']}-{n}"} if n >= len(records)
              else records[i] for n, i in enumerate(picks)]
    matrix = vectors[picks].copy()
    noise = rng.standard_normal((size - len(records), vectors.shape[1])).astype(np.float32)
    matrix[len(records):] += _NOISE * noise / np.sqrt(vectors.shape[1])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return copies, matrix


def timed_search(index, queries: np.ndarray, titles: list[str]) -> tuple[list, list[float]]:
    rng, found, times = np.random.default_rng(0), [], []
    for query, title in zip(queries, titles, strict=True):
        started = time.perf_counter()
        answer = index.search(query, _TOP, rng=rng, text=title)
        times.append((time.perf_counter() - started) * 1000)
        found.append([fix["id"] for fix in answer])
    return found, times


def measure(records, vectors, size, queries, titles) -> dict:
    from erroracle.platform.config import load_config
    from erroracle.serve.solutions import AnnSettings, FeedbackTally, SolutionIndex

    settings = load_config(None, environ={}).serve
    fixes, matrix = grown(records, vectors, size, np.random.default_rng(size))

    def lookup(documents):  # the vectors above, in the order the index reads the fixes
        assert len(documents) == len(matrix)
        return matrix

    started = time.perf_counter()
    approx = SolutionIndex.build(fixes, lookup, FeedbackTally(), settings.feedback_weight,
                                settings.lexical_weight, AnnSettings(min_fixes=1))
    build_s = time.perf_counter() - started
    exact = SolutionIndex(approx.entries, approx.vectors, approx.tally, approx.feedback_weight,
                          approx.lexical, approx.lexical_weight)
    truth, exact_ms = timed_search(exact, queries, titles)
    found, ann_ms = timed_search(approx, queries, titles)
    recall = np.mean([len(set(a) & set(t)) / max(1, len(t)) for a, t in zip(found, truth,
                                                                          strict=True)])
    row = {"fixes": size, "index_build_s": round(build_s, 1), "recall_at_10": round(recall, 4),
           "brute_force_ms": {"p50": round(percentile(exact_ms, 50), 2),
                              "p99": round(percentile(exact_ms, 99), 2)},
           "ann_ms": {"p50": round(percentile(ann_ms, 50), 2),
                        "p99": round(percentile(ann_ms, 99), 2)}}
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    records = [r for r in so_records() if r["solution"]]
    rng = np.random.default_rng(7)
    asked = rng.choice(len(records), size=min(args.queries, len(records)), replace=False)
    titles = [records[i]["title"] for i in asked]
    vectors, queries = base_vectors(records, titles)
    rows = [measure(records, vectors, int(size), queries, titles)
            for size in args.sizes.split(",")]
    write("ann_search", {"settings": {"queries": len(titles), "top": _TOP, "noise": _NOISE,
                                      "real_fixes": len(records)}, "sizes": rows})


if __name__ == "__main__":
    main()
