"""Suggest-fix through an ANN index (``serve.ann_min_fixes``) finds what comparing the query with
every fix finds, with the same scores; the index is kept beside the version and read back; fixes
that arrive are found and deleted ones never come back."""

from __future__ import annotations

import numpy as np
import pytest

from erroracle.learners.model import LabelSpace, new_model
from erroracle.platform.store import Tombstones
from erroracle.serve.ann import DenseIndex
from erroracle.serve.model_server import embedder
from erroracle.serve.solutions import AnnSettings, FeedbackTally, SolutionIndex

TYPES = ["KeyError", "TimeoutError", "ConnectionRefusedError", "PermissionError", "OSError",
         "ValueError", "ModuleNotFoundError", "UnicodeDecodeError", "MemoryError", "SSLError"]
THINGS = ["redis", "postgres", "the cache", "s3 bucket", "kafka topic", "user table", "config",
          "socket", "the queue", "nginx upstream", "the scheduler", "a worker"]


def _fixes(start: int, count: int) -> list[dict]:
    return [{"id": f"fix-{n}", "source": "stackoverflow", "fingerprint": f"fp-{n}",
             "received_at": None, "error_type": TYPES[n % len(TYPES)],
             "message": f"{THINGS[n % len(THINGS)]} failed at step {n} ({TYPES[n % 7]})",
             "solution": f"restart {THINGS[(n * 7) % len(THINGS)]} and retry job {n}"}
            for n in range(start, start + count)]


@pytest.fixture(scope="module")
def encode():
    model = new_model(None, LabelSpace(("a",), ("x",)), dropout=0.0, max_length=64, seed=0)
    return embedder(model)


def _top(index: SolutionIndex, encode, query: str, k: int = 5) -> list[tuple[str, float]]:
    found = index.search(encode([query])[0], k, rng=np.random.default_rng(0), text=query)
    return [(fix["id"], fix["score"]) for fix in found]


QUERIES = [f"{thing} {kind}" for thing in THINGS for kind in TYPES[:3]]


def test_an_ann_index_proposes_what_brute_force_ranks_first(encode):
    records = _fixes(0, 400)
    exact = SolutionIndex.build(records, encode, FeedbackTally(), lexical_weight=0.1)
    approx = SolutionIndex.build(records, encode, FeedbackTally(), lexical_weight=0.1,
                                ann=AnnSettings(min_fixes=100))
    assert exact.dense is None and approx.dense is not None
    assert SolutionIndex.build(records[:50], encode, FeedbackTally(),
                               ann=AnnSettings(min_fixes=100)).dense is None  # below the bar
    same = [_top(approx, encode, query) == _top(exact, encode, query) for query in QUERIES]
    assert sum(same) / len(same) >= 0.97, sum(same)


def test_the_ann_index_is_kept_beside_the_version_and_read_back(encode, tmp_path):
    records = _fixes(0, 300)
    folder = tmp_path / "fix-ann-fp32-256"
    first = SolutionIndex.build(records, encode, FeedbackTally(), ann=AnnSettings(100, folder))
    kept = (folder / "index.faiss").stat().st_mtime_ns
    assert first.dense.rows.tolist() == list(range(300))
    # a restart with more fixes: the kept ANN index is read and only the new ones are added
    again = SolutionIndex.build(records + _fixes(300, 20), encode, FeedbackTally(),
                                ann=AnnSettings(100, folder))
    assert (folder / "index.faiss").stat().st_mtime_ns == kept
    assert len(again.dense.rows) == 320
    assert _top(again, encode, QUERIES[0]) == _top(SolutionIndex.build(
        records + _fixes(300, 20), encode, FeedbackTally()), encode, QUERIES[0])
    # other fixes first: the kept ANN index is not theirs, so a new one is built and kept
    SolutionIndex.build(_fixes(1000, 150), encode, FeedbackTally(), ann=AnnSettings(100, folder))
    assert (folder / "index.faiss").stat().st_mtime_ns != kept
    assert DenseIndex.restored(folder, [f"fix-{n}" for n in range(1000, 1150)],
                               np.zeros((150, 384), np.float32)).rows.tolist() == list(
        range(150))


def test_new_fixes_are_found_and_deleted_ones_never_return(encode):
    index = SolutionIndex.build(_fixes(0, 200), encode, FeedbackTally(),
                                ann=AnnSettings(min_fixes=100))
    special = {"id": "fix-zk", "source": "github", "fingerprint": "fp-zk", "received_at": None,
               "error_type": "KeeperException", "message": "zookeeper session expired",
               "solution": "raise zookeeper.session.timeout.ms"}
    grown = index.extended([special], encode)
    assert _top(grown, encode, "zookeeper session expired KeeperException")[0][0] == "fix-zk"
    assert "fix-zk" not in [i for i, _ in _top(index, encode, "zookeeper session expired")]
    gone = grown.without(Tombstones(ids={"fix-zk", "fix-3"}), FeedbackTally())
    for query in ("zookeeper session expired", *QUERIES):
        found = [fix_id for fix_id, _ in _top(gone, encode, query, 10)]
        assert "fix-zk" not in found and "fix-3" not in found
    assert _top(gone, encode, QUERIES[4]) == _top(SolutionIndex.build(
        [r for r in _fixes(0, 200) if r["id"] != "fix-3"], encode, FeedbackTally()),
        encode, QUERIES[4])


def test_the_shipped_setting_turns_the_ann_index_on_at_its_size(tmp_path):
    from erroracle.platform.config import load_config

    bar = load_config(None, environ={}).serve.ann_min_fixes
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((bar, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    records = [{"id": f"r{n}", "source": "knowledge", "message": f"error {n}",
                "solution": f"fix {n}"} for n in range(bar)]

    def lookup(documents):  # stored vectors, as a replica reads them beside the version
        return matrix[: len(documents)]

    below = SolutionIndex.build(records[:-1], lookup, FeedbackTally(), ann=AnnSettings(bar))
    at = SolutionIndex.build(records, lookup, FeedbackTally(), ann=AnnSettings(bar, tmp_path))
    assert below.dense is None and at.dense is not None and (tmp_path / "index.faiss").exists()
    found = at.search(matrix[123], 3, rng=rng)
    assert found[0]["id"] == "r123" and found[0]["score_parts"]["similarity"] == 1.0
