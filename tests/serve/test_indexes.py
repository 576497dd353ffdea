"""The suggestion and novelty indexes with the real bundled encoder's embeddings."""

import numpy as np
import pytest

from erroracle.learners.model import LabelSpace, new_model
from erroracle.platform.config import load_config
from erroracle.platform.feedback import feedback_record
from erroracle.serve.model_server import embedder
from erroracle.serve.novelty import DEFAULT_THRESHOLD, GroupIndex
from erroracle.serve.solutions import FeedbackTally, SolutionIndex

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def model():
    return new_model(None, LabelSpace(("a", "b"), ("x", "y")), dropout=0.0, max_length=64, seed=0)


@pytest.fixture(scope="module")
def embed(model):
    return embedder(model)


SOLVED = [
    {"id": "so-1", "source": "stackoverflow", "error_type": "ModuleNotFoundError",
     "message": "No module named 'numpy'", "solution": "pip install numpy in the active venv",
     "url": "https://stackoverflow.com/q/1", "author": "ann", "license": "CC BY-SA 4.0",
     "tags": ["python"]},
    {"id": "kb-2", "source": "knowledge", "error_type": "ConnectionRefusedError",
     "message": "[Errno 111] Connection refused", "solution": "start the server; check the port",
     "url": "https://docs.python.org", "author": "kb", "license": "Apache-2.0", "tags": []},
    {"id": "rb-3", "source": "knowledge", "message": "", "title": "",
     "solution": "Runbook: when the disk of a database host fills up, rotate the write-ahead "
                 "logs and extend the volume", "url": None, "author": "ops", "license": None},
    {"id": "q-4", "source": "reddit", "message": "an unsolved question"},
]


def test_search_finds_errors_by_their_text_and_runbooks_by_their_solution(embed):
    index = SolutionIndex.build(SOLVED, embed, FeedbackTally())
    assert len(index) == 3  # the unsolved record is not a fix
    [query] = embed(["ModuleNotFoundError: No module named 'numpy'"])
    best = index.search(query, 1, rng=RNG)[0]
    assert best["id"] == "so-1" and best["author"] == "ann" and best["license"]
    assert best["why"][0]["similarity"] > 0.8  # to its whole document: error and solution
    [disk] = embed(["database host disk full, write-ahead logs filling the volume"])
    assert index.search(disk, 1, rng=RNG)[0]["id"] == "rb-3"


PREAMBLE = ("I have a Django project with a docker compose file that starts the web app, a "
            "Postgres database and a few background services. Everything was set up following "
            "the official tutorial, the settings module reads its values from the environment, "
            "and the containers build without warnings on my laptop and on the CI runner. After "
            "upgrading the dependencies last week and rebuilding all of the images from scratch, "
            "I started the whole stack again with the usual command. ")
QUESTIONS = [
    {"id": "so-redis", "source": "stackoverflow", "message": "", "title": "",
     "body": PREAMBLE + "Then the celery worker fails with kombu.exceptions.OperationalError: "
             "Error 111 connecting to localhost:6379. Connection refused.",
     "solution": "Inside a container localhost is the container itself: point the broker URL at "
                 "the redis service name, redis://redis:6379/0."},
    {"id": "so-webpack", "source": "stackoverflow", "message": "", "title": "",
     "body": PREAMBLE + "Then the frontend build fails with Module not found: Error: Can't "
             "resolve 'fs' in node_modules, from webpack 5.",
     "solution": "webpack 5 no longer polyfills node core modules: set resolve.fallback."},
]


def test_a_fix_is_read_past_the_query_length(model, tmp_path):
    """Two questions that differ only after 64 tokens: read at the index length the product
    ships, the right one is found; read at the query length, they look the same."""
    index_length = load_config(None, data_root=str(tmp_path), environ={}).model.index_max_length
    assert index_length > model.max_length
    index = SolutionIndex.build(QUESTIONS, embedder(model, index_length), FeedbackTally())
    [query] = embedder(model)(["celery kombu OperationalError connecting to redis 6379 refused"])
    assert index.search(query, 1, rng=RNG)[0]["id"] == "so-redis"
    short = embedder(model)([index.entries[0]["error"], index.entries[1]["error"]])
    assert float(short[0] @ short[1]) > 0.99


def test_the_lexical_part_lifts_the_fix_that_names_the_querys_rare_token(embed):
    """Two fixes about the same failure in the same words but one: the query's error code."""
    fixes = [
        {"id": "reset", "source": "knowledge", "message": "socket hang up ECONNRESET from upstream",
         "solution": "raise the proxy's keep-alive timeout above the app's"},
        {"id": "refused", "source": "knowledge", "message": "socket hang up ECONNREFUSED from "
         "upstream", "solution": "start the upstream service before the proxy"},
    ]
    text = "Error: ECONNREFUSED"
    [query] = embed([text])
    dense = SolutionIndex.build(fixes, embed, FeedbackTally())
    fused = SolutionIndex.build(fixes, embed, FeedbackTally(), lexical_weight=0.5)
    assert fused.search(query, 1, rng=RNG, text=text)[0]["id"] == "refused"
    lifted = {s["id"]: s["score_parts"] for s in fused.search(query, 2, rng=RNG, text=text)}
    plain = {s["id"]: s["score_parts"] for s in dense.search(query, 2, rng=RNG, text=text)}
    assert lifted["refused"]["lexical"] == pytest.approx(1.0)  # the query's best BM25 match
    assert lifted["refused"]["similarity"] == plain["refused"]["similarity"]


def test_feedback_moves_a_fix_and_each_record_counts_once(embed):
    tally = FeedbackTally()
    index = SolutionIndex.build(SOLVED, embed, tally, feedback_weight=1.0)
    [query] = embed(["Connection refused"])
    before = [s["id"] for s in index.search(query, 3, rng=RNG)]
    assert before[0] == "kb-2"
    error = {"fingerprint": "f", "error_type": "OSError", "message": "connection refused"}
    rows = []
    for n in range(4):
        rows.append({"id": f"good-{n}", **feedback_record(
            target="error", target_id="e", error=error, worked=True, suggestion_id=before[1])})
        rows.append({"id": f"bad-{n}", **feedback_record(
            target="error", target_id="e", error=error, worked=False, suggestion_id="kb-2")})
    tally.add(rows)
    tally.add(rows)  # seen again by a refresh: not counted twice
    assert tally.rates() == {"worked": 4, "failed": 4}
    after = index.search(query, 3, rng=RNG)
    assert after[0]["id"] == before[1]
    scores = [s["score"] for s in after]  # in [0, 1] whatever feedback says, in ranking order
    assert all(0 <= score <= 1 for score in scores) and scores == sorted(scores, reverse=True)
    assert after[0]["score_parts"]["feedback"] == round(5 / 6, 4)  # Beta(1 + 4, 1 + 0)
    assert after[0]["feedback"] == {"worked": 4, "failed": 0, "notes": []}
    assert after[0]["why"][-1]["source"] == "feedback"


def test_a_failure_note_is_evidence_on_the_fix_it_judged_and_never_a_fix(embed):
    tally = FeedbackTally()
    error = {"fingerprint": "f", "error_type": "OSError", "message": "connection refused"}
    failed = {"id": "fb-1", **feedback_record(
        target="error", target_id="e", error=error, worked=False, suggestion_id="kb-2",
        note="restarting did nothing; the firewall blocks 5432")}
    worked = {"id": "fb-2", **feedback_record(
        target="error", target_id="e", error=error, worked=True, suggestion_id="kb-2",
        note="open port 5432 in the security group")}
    tally.add([failed, worked])
    index = SolutionIndex.build([*SOLVED, failed, worked], embed, tally)
    assert "fb-1" not in index.ids and "fb-2" in index.ids  # a confirmed fix is a fix
    [query] = embed(["Connection refused"])
    judged = next(s for s in index.search(query, 4, rng=RNG) if s["id"] == "kb-2")
    assert judged["feedback"]["notes"] == ["restarting did nothing; the firewall blocks 5432"]


def test_extending_adds_only_new_solved_records(embed):
    index = SolutionIndex.build(SOLVED[:1], embed, FeedbackTally())
    grown = index.extended(SOLVED, embed)
    assert len(index) == 1 and len(grown) == 3
    assert grown.extended(SOLVED, embed) is grown


def _group(fingerprint: str, *messages: str) -> list[dict]:
    return [{"id": f"{fingerprint}-{n}", "fingerprint": fingerprint, "error_type": "Error",
             "message": message, "source": "app"} for n, message in enumerate(messages)]


def test_novelty_known_groups_near_errors_and_far_errors(embed):
    rows = []
    for n in range(12):
        rows += _group(f"g{n}", f"timeout talking to service {n} after 30s",
                       f"timed out talking to service {n} after 31 s",
                       f"request to service {n} timed out (30s)")
    groups = GroupIndex.build(rows, embed, quantile=0.95, fraction=0.5, seed=0, max_groups=100)
    assert groups.pairs >= 20 and 0 < groups.threshold < 1
    assert groups.threshold != DEFAULT_THRESHOLD
    [known] = embed(["anything"])
    assert groups.novelty("g3", known).is_novel is False
    [near] = embed(["Error: timeout talking to service 5 after 29s"])
    assert groups.novelty("unseen", near).is_novel is False
    [far] = embed(["Error: the printer is on fire"])
    far_novelty = groups.novelty("unseen", far)
    assert far_novelty.is_novel is True and far_novelty.score > groups.threshold
    grown = groups.extended(_group("fire", "Error: the printer is on fire"), embed, 100)
    assert grown.novelty("other", far).is_novel is False and len(grown) == len(groups) + 1


def test_novelty_without_enough_pairs_uses_the_default_and_caps_groups(embed):
    groups = GroupIndex.build(_group("a", "x") + _group("b", "y"), embed, quantile=0.95,
                              fraction=0.2, seed=0, max_groups=1)
    assert groups.threshold == DEFAULT_THRESHOLD and len(groups) == 1
    assert groups.known == {"a", "b"}


def test_deleted_fixes_and_group_representatives_are_forgotten(embed):
    from datetime import datetime, timezone

    from erroracle.platform.store import Tombstones

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    solved = [{**row, "fingerprint": f"fp-{row['id']}", "received_at": at} for row in SOLVED]
    index = SolutionIndex.build(solved, embed, FeedbackTally(), lexical_weight=0.1)
    gone = Tombstones(ids={"so-1"}, fingerprints={"fp-kb-2": at})
    left = index.without(gone, FeedbackTally())
    assert [entry["id"] for entry in left.entries] == ["rb-3"] and left.vectors.shape[0] == 1
    [query] = embed(["ModuleNotFoundError: No module named 'numpy'"])
    assert [s["id"] for s in left.search(query, 3, rng=RNG, text="numpy")] == ["rb-3"]
    rows = [{**row, "received_at": at} for row in _group("a", "x1", "x2") + _group("b", "y")]
    groups = GroupIndex.build(rows, embed, quantile=0.95, fraction=0.2, seed=0, max_groups=10)
    kept = groups.without(Tombstones(ids={"a-0"}, fingerprints={"b": at}))
    assert kept.fingerprints == [] and kept.vectors.shape[0] == 0
    assert kept.known == {"a"}  # a's other record is still there; b is gone whole
