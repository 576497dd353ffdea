"""The one summary behind ``erroracle status`` and ``/stats``: the same fields, the same meaning."""

from __future__ import annotations

import time

from erroracle.platform.config import load_config
from erroracle.platform.feedback import feedback_record
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader
from erroracle.platform.round_history import RoundHistory, iso_utc
from erroracle.platform.status import status_report


def test_status_counts_the_lake_issues_feedback_and_keeps_rounds_apart_from_models(tmp_path):
    config = load_config(None, data_root=str(tmp_path), environ={})
    error = {"id": "e1", "error_type": "KeyError", "message": "'user'", "fingerprint": "fk"}
    with ParquetErrorStore(config.data_root, background=False) as store:
        store.append([error, {**error, "id": "e2", "message": "'cart'"}])
        store.append([{**feedback_record(target="error", target_id="e1", error=error,
                                         worked=worked), "id": f"fb{n}"}
                      for n, worked in enumerate((True, True, False))])
    RoundHistory(config.data_root).append({"round": 1, "started_ts": 0.0, "decision": "skipped"})
    report = status_report(config, LakeReader(config.data_root), top=5)
    assert report["lake"] == {"total": 5, "by_source": {"app": 2, "feedback": 3},
                              "quarantined_files": 0, "log_segments": 0}
    assert [issue["count"] for issue in report["issues"]] == [2]
    assert report["feedback"] == {"worked": 2, "failed": 1}
    assert report["champion"] is None and report["models"] == []
    assert [entry["round"] for entry in report["rounds"]] == [1]
    assert report["running"] is None
    assert report["next_training_at"] is None  # none trained yet: it waits for records only
    assert report["errors"] == {"total": 2, "by_service": {"-": 2}, "by_environment": {"-": 2}}


def test_status_shows_the_round_in_progress_and_its_stage(tmp_path):
    config = load_config(None, data_root=str(tmp_path), environ={})
    ParquetErrorStore(config.data_root, background=False).close()
    history = RoundHistory(config.data_root)
    entry = {"round": 3, "trigger": "scheduled", "started_ts": time.time() - 90}
    history.enter(entry, "train and evaluate", time.time() - 30)
    running = status_report(config, LakeReader(config.data_root))["running"]
    assert (running["round"], running["stage"]) == (3, "train and evaluate")
    assert 89 <= running["seconds"] <= 95 and 29 <= running["stage_seconds"] <= 35
    history.append({**entry, "stages": {"train": {"seconds": 60}}, "decision": "kept"})
    report = status_report(config, LakeReader(config.data_root))
    assert report["running"] is None
    assert report["next_training_at"] == iso_utc(entry["started_ts"] + config.loop.train_every)
    time.sleep(1.1)
    later = status_report(config, LakeReader(config.data_root))
    assert later["next_training_at"] == report["next_training_at"]  # it does not move with time
