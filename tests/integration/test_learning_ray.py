"""Training on a real local Ray: a round that registers a candidate, a round that survives a
worker's death, and a two-trial Tune sweep. Tiny batches and few steps keep them to minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from erroracle.client.scrubber import Scrubber
from erroracle.knowledge import seed_lake
from erroracle.learners.bootstrap import bootstrap
from erroracle.learners.data import build_datasets
from erroracle.learners.hparams import effective_train_config, load_tuned
from erroracle.learners.round import run_round
from erroracle.learners.tune import run_tune
from erroracle.platform.config import load_config
from erroracle.platform.feedback import feedback_record
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry
from erroracle.platform.taxonomy import Taxonomy

pytestmark = [pytest.mark.ray, pytest.mark.slow]
# One CPU a worker (the default is 2) so that the two-worker round fits this 2-CPU Ray; the
# default resources are tested end to end in test_up_e2e.
SMALL = {"batch_size": 8, "log_every": 2, "warmup_steps": 1, "cpus_per_worker": 1}


@pytest.fixture(scope="module")
def ray_local():
    import ray
    from ray.data import DataContext

    # 2 CPUs, fewer than the plan's 4: nothing is served here, so a round has the machine to
    # itself; the default plan, Serve beside a round, has its own test (test_up_e2e).
    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def lake(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("learning") / "lake"
    environ = {f"ERRORACLE_TRAIN__{k.upper()}": str(v) for k, v in SMALL.items()}
    config = load_config(None, data_root=str(root), environ=environ)
    store = ParquetErrorStore(config.data_root, background=False)
    seed_lake(store, RecordPreparer(Scrubber()))
    store.flush()
    registry = Registry(config.data_root)
    bootstrap(config, store, registry)
    yield config, store, registry
    store.close()


def test_a_round_registers_a_candidate_from_the_champion(lake):
    config, store, registry = lake
    result = run_round(
        config, store, registry, overrides={"max_steps": 6, "checkpoint_every": 3, "workers": 2}
    )
    assert result.parent == "v0001" and result.version in registry.versions()
    info = registry.info(result.version)
    assert info.lineage["parent"] == "v0001"
    assert info.lineage["records_per_source"] == {"knowledge": 308}
    assert info.train_config["workers"] == 2 and info.train_config["max_steps"] == 6
    assert info.decision["compared_to"] == "v0001" and info.decision["reason"]
    assert set(result.candidate) >= {"category_macro_f1", "recall_at_5", "mrr_at_10"}
    assert result.champion is not None and result.champion["examples"] == result.candidate[
        "examples"]
    assert registry.champion() == (result.version if result.promoted else "v0001")


def test_a_worker_that_dies_mid_run_resumes_from_the_last_checkpoint(lake):
    config, store, registry = lake
    result = run_round(
        config, store, registry, promote=False,
        overrides={"max_steps": 8, "checkpoint_every": 4, "workers": 2},
        fail_once_at_step=6,
    )
    run = Path(config.data_root, "runs", result.lineage["run"])
    assert (run / ".failed-once").read_text() == "6"  # the worker really died
    assert result.lineage["resumed_from_step"] == 4  # and the new group started at step 4
    assert registry.info(result.version).decision["promoted"] is False


def test_a_two_trial_sweep_saves_the_best_configuration(lake):
    config, store, _ = lake
    summary = run_tune(config, store, trials=2, max_steps=4)
    assert len(summary.trials) == 2
    tuned = load_tuned(config.data_root)
    assert tuned["hparams"] == summary.best and tuned["trials"] == 2
    assert summary.best_score == max(t["val_score"] for t in summary.trials if t["val_score"])
    effective = effective_train_config(config)
    assert effective.lr == summary.best["lr"] and effective.dropout == summary.best["dropout"]
    assert effective_train_config(config, lr=1e-3).lr == 1e-3  # explicit flags still win


def test_training_batches_mix_the_lake_group_lengths_and_change_order_each_pass(ray_local):
    import torch

    from erroracle.learners.train import SHUFFLE_ROWS, _batches

    # Two "files" in lake order: short texts, then long ones; n says where a row came from.
    rows = [{"n": n, "input_ids": [1] * (3 + n % 7 if n < 3000 else 200 + n % 50)}
            for n in range(6000)]
    data = ray_local.data.from_items(rows, override_num_blocks=2)

    def collate(table):
        return {"n": torch.as_tensor(table["n"].to_numpy()),
                "length": torch.as_tensor([len(ids) for ids in table["input_ids"].to_pylist()])}

    def batches(seed):
        return list(_batches(data.iterator(), 32, collate, torch.device("cpu"), shuffle_seed=seed))

    first, again, other = batches(1), batches(1), batches(2)
    order = [int(n) for batch in first for n in batch["n"]]
    assert sorted(order) == list(range(6000)) and len(first) >= 6000 // 32
    assert order == [int(n) for batch in again for n in batch["n"]]
    assert order != [int(n) for batch in other for n in batch["n"]]
    assert any(n >= 3000 for n in order[:SHUFFLE_ROWS // 4])  # long texts come early, too
    # within a batch the lengths are close: only the one batch of each window that holds both
    # the window's longest short text and its shortest long one pads a short text to 200 tokens
    mixed = [b for b in first if int(b["length"].max()) - int(b["length"].min()) >= 60]
    assert len(mixed) <= -(-6000 // SHUFFLE_ROWS)


def test_feedback_on_fixes_reaches_the_next_rounds_examples(ray_local, tmp_path):
    """A "worked" on a fix is a training pair of the user's error and that fix's solution; a
    "did not work" rides along as that error's hard negative, never as a fix of its own."""
    config = load_config(None, data_root=str(tmp_path / "lake"), environ={})
    store = ParquetErrorStore(config.data_root, background=False)
    prepare = RecordPreparer(Scrubber())
    store.append([prepare(record) for record in (
        {"id": "fix-redis", "source": "knowledge", "error_type": "ConnectionRefusedError",
         "message": "[Errno 111] Connection refused", "solution": "Start redis before the worker."},
        {"id": "fix-dns", "source": "knowledge", "error_type": "socket.gaierror",
         "message": "Name or service not known", "solution": "Check the broker host name."},
        {"id": "app-1", "source": "app", "error_type": "ConnectionRefusedError",
         "message": "redis at 10.0.0.9:6379 refused"},
    )])
    store.flush()
    [app] = [r for r in store.read_table().to_pylist() if r["id"] == "app-1"]
    store.append([prepare({"id": f"fb-{verdict}", **feedback_record(
        target="error", target_id="app-1", error=app, worked=verdict == "worked",
        suggestion_id=fix, note=None if verdict == "worked" else "the host name was right")})
        for verdict, fix in (("worked", "fix-redis"), ("failed", "fix-dns"))])
    store.flush()
    data = build_datasets(store, config, Taxonomy.for_config(config))
    rows = {row["id"]: row for split in (data.train, data.validation)
            for row in split.take_all()}
    store.close()
    assert rows["fb-worked"]["solution_text"] == "Start redis before the worker."
    assert rows["fb-worked"]["negative_text"] == "Check the broker host name."
    assert rows["fb-worked"]["error_text"].startswith("ConnectionRefusedError: redis at")
    assert "fb-failed" not in rows and rows["fix-dns"]["negative_text"] == ""
    assert data.lineage["records_per_source"]["feedback"] == 1
