"""The learning commands as a user runs them: train, models list | show | promote | rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from erroracle.knowledge import seed_lake
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry
from tests.test_cli import run


@pytest.fixture
def registry(cli_env, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"w")
    registry = Registry(cli_env["ERRORACLE_DATA_ROOT"])
    for f1 in (0.4, 0.6):
        version = registry.register(
            model, metrics={"category_macro_f1": f1, "recall_at_5": 0.9}, train_config={},
            lineage={"records": 10},
        )
        registry.promote(version, reason="test")
        registry.record_decision(version, promoted=True, reason=f"better at {f1}")
    return registry


def test_models_list_show_promote_and_rollback(cli_env, registry):
    listing = run(cli_env, "models", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[1].startswith("  v0001") and lines[2].startswith("* v0002")
    assert "0.6000" in lines[2] and "better at 0.6" in lines[2]
    shown = json.loads(run(cli_env, "models", "show", "v0001").stdout)
    assert shown["metrics"]["category_macro_f1"] == 0.4 and shown["champion"] is False
    rolled = run(cli_env, "models", "rollback")
    assert rolled.stdout.strip() == "champion is now v0001 (was v0002)"
    again = run(cli_env, "models", "rollback")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "erroracle: error: there is no previous champion to roll back to"
    )
    promoted = run(cli_env, "models", "promote", "v0002")
    assert promoted.stdout.strip() == "champion is now v0002"
    assert registry.champion() == "v0002"
    assert registry.info("v0002").decision["reason"] == "promoted by an operator"


def test_models_errors_are_one_line(cli_env, registry):
    missing = run(cli_env, "models", "show", "v0042")
    assert missing.returncode == 1
    assert missing.stderr == "erroracle: error: model v0042 is not registered\n"
    malformed = run(cli_env, "models", "promote", "latest")
    assert malformed.stderr.startswith("erroracle: error: version: expected a version like")
    listing = json.loads(run(cli_env, "models", "list", "--json").stdout)
    assert [m["version"] for m in listing if m["champion"]] == ["v0002"]


def test_train_refuses_an_empty_lake(cli_env):
    Path(cli_env["ERRORACLE_DATA_ROOT"], "events").mkdir(parents=True)  # a lake, no records
    result = run(cli_env, "train", "--max-steps", "1")
    assert result.returncode == 1
    assert result.stderr.strip().endswith("data_root: the lake has no records to learn from")


def test_the_command_starts_without_loading_torch():
    import subprocess
    import sys

    probe = "import sys, erroracle.cli; print('torch' in sys.modules, 'ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.ray
@pytest.mark.slow
def test_train_bootstraps_trains_and_prints_the_comparison(cli_env):
    with ParquetErrorStore(cli_env["ERRORACLE_DATA_ROOT"], background=False) as store:
        seed_lake(store, RecordPreparer())
    env = {**cli_env, "ERRORACLE_TRAIN__BATCH_SIZE": "8", "ERRORACLE_TRAIN__WARMUP_STEPS": "0"}
    result = run(env, "train", "--max-steps", "3", "--workers", "1", "--promote")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "candidate v0002" in result.stdout and "champion v0001" in result.stdout
    assert "category_macro_f1" in result.stdout
    assert ("v0002 promoted:" in result.stdout) or ("v0002 not promoted:" in result.stdout)
    listing = json.loads(run(cli_env, "models", "list", "--json").stdout)
    assert [m["version"] for m in listing] == ["v0001", "v0002"]
    # lineage by record: which versions learned from a record, and what is deleted since
    learned = Registry(cli_env["ERRORACLE_DATA_ROOT"]).records("v0002")
    record = learned.filter(pc.invert(learned["validation"]))["id"][0].as_py()
    deleted = run(cli_env, "delete", "--id", record)
    assert deleted.returncode == 0, deleted.stderr
    assert "trained on them: v0001, v0002" in deleted.stdout
    shown = json.loads(run(cli_env, "models", "show", "v0002").stdout)["records"]
    assert shown == {"trained_or_validated_on": learned.num_rows, "deleted_since": 1}
    again = run(env, "train", "--max-steps", "1", "--workers", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert record not in Registry(cli_env["ERRORACLE_DATA_ROOT"]).records("v0003")["id"].to_pylist()
