"""What each part of fix retrieval adds: dense, lexical (BM25) and their fusion, per half.

The same lake and questions as ``learning_quality.py`` (titles as queries, each question's body
and answer indexed without its title). The dense part is the product's own: the documents of
``erroracle.serve.solutions`` encoded at the shipped ``model.index_max_length`` by the bundled
encoder, the query at ``model.max_length``. The lexical part is ``bm25s`` over the same
documents, with two tokenisations: every word (the product's ``erroracle.platform.lexical.words``),
or only identifiers (dotted names, snake_case,
CamelCase, error types). Fusion adds ``weight × BM25 / max BM25`` to the cosine, or uses
reciprocal-rank fusion. Settings are read on ``tune``; ``check`` says whether they hold.

Usage: python benchmarks/retrieval_parts.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402
from learning_quality import TOP_K, build_lake, by_half  # noqa: E402

from erroracle.platform.lexical import words  # noqa: E402

IDENTIFIER = re.compile(
    r"[A-Za-z_]\w*(?:[._:/][A-Za-z_]\w*)+|[A-Za-z]*[a-z][A-Z]\w*|[A-Za-z]+_\w+|"
    r"[A-Za-z]+\d+\w*|\w+(?:Error|Exception)\b")
def identifiers(text: str) -> list[str]:
    return [w.lower() for w in IDENTIFIER.findall(text)]


def bm25_scores(documents: list[str], queries: list[str], tokenize) -> np.ndarray:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([tokenize(d) for d in documents], show_progress=False)
    scores = np.zeros((len(queries), len(documents)), np.float32)
    for row, query in enumerate(queries):
        tokens = tokenize(query)
        if tokens:
            scores[row] = retriever.get_scores(tokens)
    return scores


def reciprocal_rank_fusion(*scores: np.ndarray, k: int = 60) -> np.ndarray:
    """Sum of 1 / (k + rank) over the rankings; a query that a ranking scores flat (BM25 with no
    token of the query in any document) takes nothing from it."""
    fused = np.zeros_like(scores[0])
    rows = np.arange(scores[0].shape[0])[:, None]
    for matrix in scores:
        ranks = np.empty_like(matrix, dtype=np.int64)
        ranks[rows, np.argsort(-matrix, axis=1)] = np.arange(matrix.shape[1])
        ranked = (matrix.max(1) > matrix.min(1))[:, None]
        fused += np.where(ranked, 1.0 / (k + ranks + 1), 0.0)
    return fused


def main() -> None:
    from erroracle.learners.model import LabelSpace, new_model
    from erroracle.platform.config import load_config
    from erroracle.serve.model_server import _INDEX_COLUMNS, embedder
    from erroracle.serve.solutions import document, solved_entry

    with tempfile.TemporaryDirectory() as folder:
        config = load_config(None, data_root=folder, environ={})
        titles, store = build_lake(folder, config)
        rows = store.read_table(columns=_INDEX_COLUMNS).to_pylist()
        store.close()
    entries = [e for e in map(solved_entry, rows) if e is not None]
    documents = [document(e) for e in entries]
    ids = list(titles)
    where = {e["id"]: i for i, e in enumerate(entries)}
    model = new_model(config.model.base, LabelSpace(("a",), ("b",)), dropout=0.0,
                      max_length=config.model.max_length)
    dense = (embedder(model)(list(titles.values()))
             @ embedder(model, config.model.index_max_length)(documents).T)
    lexical = {"words": bm25_scores(documents, list(titles.values()), words),
               "identifiers": bm25_scores(documents, list(titles.values()), identifiers)}

    def ranks(scores: np.ndarray) -> dict[str, int]:
        own = scores[np.arange(len(ids)), [where[i] for i in ids]]
        return {i: min(TOP_K, int((scores[row] > own[row]).sum())) for row, i in enumerate(ids)}

    runs = {"dense": dense}
    for name, scores in lexical.items():
        runs[f"bm25 {name}"] = scores
        top = np.maximum(scores.max(1, keepdims=True), 1e-9)
        for weight in (0.1, 0.2, 0.3):
            runs[f"dense + {weight} bm25 {name}"] = dense + weight * scores / top
        runs[f"rrf dense, bm25 {name}"] = reciprocal_rank_fusion(dense, scores)
    table = {name: by_half(ranks(scores), ids) for name, scores in runs.items()}
    print(f"{'run':<34}{'tune R@5':>9}{'MRR':>7}{'check R@5':>10}{'MRR':>7}")
    for name, halves in table.items():
        print(f"{name:<34}{halves['tune']['recall_at_5']:>9.3f}{halves['tune']['mrr_at_10']:>7.3f}"
              f"{halves['check']['recall_at_5']:>10.3f}{halves['check']['mrr_at_10']:>7.3f}")
    write("retrieval_parts", {"questions": len(ids), "fixes": len(entries),
                              "index_max_length": config.model.index_max_length, "runs": table})


if __name__ == "__main__":
    main()
