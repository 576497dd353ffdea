"""Two model replicas swap to a new champion one after the other; the ingress still never lets a
client see the version move backwards (a replica that is behind catches up before it answers).
Feedback that a fix worked, and a deletion, reach both within the index refresh."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.integration.serving import LEARNING, auth, promote_under_load, running_app

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    # Two model replicas of half a CPU: what this test is about (the swap across replicas); the
    # default, one replica of 1 CPU, is served in test_serve_ray and test_up_e2e.
    with running_app(tmp_path_factory.mktemp("replicas") / "lake", {
        "replicas": 2, "model_cpus": 0.5, "reload_poll_seconds": 1.5, "batch_wait_ms": 2,
        "index_refresh_seconds": 3,
    }) as running:
        yield running


def test_versions_only_move_forward_across_two_replicas(two_replicas):
    promote_under_load(*two_replicas, streams=4)


def test_a_fix_that_worked_rises_on_every_replica_within_the_refresh(two_replicas):
    """One replica hears of the feedback at once; the other reads it from the lake at its next
    refresh: after ``index_refresh_seconds`` (plus the lake's flush), every answer scores the fix
    higher, with the feedback counted."""
    config, client = two_replicas
    message = "ConnectionRefusedError: [Errno 111] Connection refused"

    def runner_up_in_answers(times: int, fix: str) -> list[dict]:
        answers = [client.get(f"{LEARNING}/suggest-fix", headers=auth("read"),
                              params={"error_message": message, "top_k": 10})
                   for _ in range(times)]
        assert all(answer.status_code == 200 for answer in answers)
        return [next(s for s in answer.json()["suggestions"] if s["id"] == fix)
                for answer in answers]

    predicted = client.post(f"{LEARNING}/predict", headers=auth("read"),
                            json={"error_message": message}).json()
    runner_up = predicted["suggestions"][1]["id"]
    before = max(s["score"] for s in runner_up_in_answers(6, runner_up))
    for _ in range(3):
        answer = client.post(f"{LEARNING}/feedback", headers=auth("feedback"), json={
            "prediction_id": predicted["prediction_id"], "suggestion_id": runner_up,
            "solution_worked": True})
        assert answer.status_code == 202, answer.text
    time.sleep(config.serve.index_refresh_seconds + config.storage.flush_seconds + 1)
    # 20 answers: both replicas answer some of them (one missed with odds of 2 in a million)
    after = runner_up_in_answers(20, runner_up)
    assert all(s["feedback"]["worked"] == 3 for s in after), [s["feedback"] for s in after]
    assert all(s["score_parts"]["feedback"] == 0.8 for s in after)  # Beta(1 + 3, 1 + 0)
    # 0.3 (serve.feedback_weight) x 0.3 of the sum, 0.036 of the score's range; noise < 0.01
    assert min(s["score"] for s in after) > before + 0.02


def test_a_deleted_fix_is_never_suggested_again_on_any_replica_after_the_refresh(two_replicas):
    """``erroracle delete`` from another process: after ``index_refresh_seconds`` neither
    replica suggests the fix, and no cached answer of the ingress quotes it."""
    config, client = two_replicas
    message = "psycopg2.OperationalError: could not connect to server: Connection refused"

    def suggested(times: int) -> list[list[str]]:
        answers = [client.get(f"{LEARNING}/suggest-fix", headers=auth("read"),
                              params={"error_message": message, "top_k": 10})
                   for _ in range(times)]
        predicted = client.post(f"{LEARNING}/predict", headers=auth("read"),
                                json={"error_message": message})
        assert all(a.status_code == 200 for a in [*answers, predicted])
        return [[s["id"] for s in a.json()["suggestions"]] for a in [*answers, predicted]]

    fix = suggested(1)[0][0]
    assert all(fix in ids for ids in suggested(6))  # both replicas, and the cached predict
    deleted = subprocess.run(
        [sys.executable, "-m", "erroracle", "--data-root", config.data_root, "delete",
         "--id", fix], capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted 1 record(s)" in deleted.stdout
    time.sleep(config.serve.index_refresh_seconds + config.serve.reload_poll_seconds + 1)
    # 20 answers: both replicas answer some of them (one missed with odds of 2 in a million)
    assert not [ids for ids in suggested(20) if fix in ids]
