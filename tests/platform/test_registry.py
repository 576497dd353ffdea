"""The registry: versions appear whole, the champion pointer moves atomically, rollback pops."""

from __future__ import annotations

import json
import threading

import pytest

from erroracle.errors import ModelNotReady, ValidationError
from erroracle.platform.registry import Registry


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    return folder


def _register(registry, model_dir, f1=0.5):
    return registry.register(
        model_dir, metrics={"category_macro_f1": f1}, train_config={"lr": 1e-4},
        lineage={"records_per_source": {"app": 3}, "parent": registry.champion()},
    )


def test_register_promote_and_rollback(tmp_path, model_dir):
    registry = Registry(str(tmp_path / "root"))
    assert registry.versions() == [] and registry.champion() is None
    first, second = _register(registry, model_dir), _register(registry, model_dir, 0.7)
    assert (first, second) == ("v0001", "v0002")
    registry.promote(first, reason="bootstrap")
    registry.promote(second, reason="better")
    assert registry.pointer()["history"] == ["v0001"] and registry.champion() == "v0002"
    info = registry.info(second)
    assert info.metrics == {"category_macro_f1": 0.7} and info.train_config == {"lr": 1e-4}
    assert info.lineage["records_per_source"] == {"app": 3}
    assert (registry.local_path(second) / "model.safetensors").read_bytes() == b"weights"
    assert registry.rollback() == "v0001" and registry.champion() == "v0001"
    with pytest.raises(ModelNotReady, match="no previous champion"):
        registry.rollback()


def test_decisions_are_recorded_beside_the_version(tmp_path, model_dir):
    registry = Registry(str(tmp_path))
    version = _register(registry, model_dir)
    registry.record_decision(version, promoted=False, reason="regressed: recall_at_5")
    assert registry.info(version).decision["reason"] == "regressed: recall_at_5"


def test_unfinished_registrations_are_invisible(tmp_path, model_dir):
    registry = Registry(str(tmp_path))
    _register(registry, model_dir)
    (tmp_path / "models" / "v0002").mkdir()  # a registration that died before version.json
    assert registry.versions() == ["v0001"]
    with pytest.raises(ModelNotReady):
        registry.promote("v0002", reason="x")
    assert _register(registry, model_dir) == "v0003"


def test_bad_versions_are_named(tmp_path):
    registry = Registry(str(tmp_path))
    with pytest.raises(ValidationError, match="expected a version like v0003"):
        registry.info("latest")
    with pytest.raises(ModelNotReady, match="v0009 is not registered"):
        registry.info("v0009")


def test_concurrent_registrations_get_distinct_versions(tmp_path, model_dir):
    registry = Registry(str(tmp_path))
    versions: list[str] = []
    threads = [
        threading.Thread(target=lambda: versions.append(_register(registry, model_dir)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == [f"v{i:04d}" for i in range(1, 7)]


def test_pointer_file_is_always_whole_json(tmp_path, model_dir):
    registry = Registry(str(tmp_path))
    for _ in range(3):
        registry.promote(_register(registry, model_dir), reason="r")
    pointer = json.loads((tmp_path / "models" / "champion.json").read_text())
    assert pointer["version"] == "v0003" and pointer["history"] == ["v0001", "v0002"]
    assert not list((tmp_path / "models").glob(".*.tmp"))


def test_each_version_keeps_the_records_it_learned_from(tmp_path, model_dir):
    from datetime import datetime, timezone

    import pyarrow as pa

    registry = Registry(str(tmp_path / "lake"))
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records = pa.table({"id": ["b", "a"], "fingerprint": ["f", "f"], "received_at": [at, at],
                        "validation": [False, True], "error_text": ["x", "y"]})
    first = registry.register(model_dir, metrics={}, train_config={}, lineage={},
                              records=records)
    second = _register(registry, model_dir)  # nothing said: an empty list, never an error
    assert registry.records(first)["id"].to_pylist() == ["a", "b"]  # sorted, extra columns off
    assert registry.records(second).num_rows == 0
    assert registry.versions_holding(["a", "z"]) == [first]
    assert registry.versions_holding(["z"]) == []
