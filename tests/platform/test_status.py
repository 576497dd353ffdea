"""The one summary behind ``erroracle status`` and ``/stats``: the same fields, the same meaning."""

from __future__ import annotations

from erroracle.platform.config import load_config
from erroracle.platform.feedback import feedback_record
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader
from erroracle.platform.round_history import RoundHistory
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
