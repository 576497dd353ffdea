"""An issue's lifecycle: people resolve and ignore, the lake reopens, the log remembers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from erroracle.errors import UnprocessableError
from erroracle.platform.issue_assignment import reopen_counted_ignores
from erroracle.platform.issue_status import IssueStatus, status_change
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader

NOW = datetime.now(timezone.utc)


def _event(n: int, **extra) -> dict:
    return {"id": f"e{n}", "error_type": "LedgerMismatch", "message": "totals differ",
            "fingerprint": "fp-ledger", **extra}


def test_a_change_is_checked_field_by_field():
    assert status_change("resolved", release="2.1") == {
        "status": "resolved", "release": "2.1", "until": None}
    for bad, field in ((lambda: status_change("fixed"), "status"),
                       (lambda: status_change("ignored", release="2"), "release"),
                       (lambda: status_change("ignored", until="tomorrow"), "until"),
                       (lambda: status_change("ignored", until="2026-12-24T00:00"), "until"),
                       (lambda: status_change("resolved", until="2026-12-24T00:00Z"), "until")):
        with pytest.raises(UnprocessableError) as refused:
            bad()
        assert refused.value.field == field


def test_only_a_later_release_reopens_a_resolution_in_a_release():
    resolved = IssueStatus().changed({"status": "resolved", "release": "2.1.0",
                                      "at": NOW.isoformat()})
    later = NOW + timedelta(minutes=1)
    assert not resolved.regressed_by("2.0.9", later)
    assert not resolved.regressed_by(None, later) and not resolved.regressed_by("abc", later)
    assert resolved.regressed_by("2.10.0", later)
    assert not resolved.regressed_by("3.0", NOW - timedelta(minutes=1))  # before the resolution
    assert IssueStatus().changed({"status": "resolved", "at": NOW.isoformat()}).regressed_by(
        None, later)


def test_the_lake_reopens_resolved_and_expired_ignored_issues_and_keeps_the_history(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        issue = store.append([_event(1, service="billing", host="h1",
                                     environment="prod")]).issues["fp-ledger"]
        store.issues.set_status(issue, status_change("resolved"), by="ann")
        store.append([_event(2)])
        assert store.issues.status_of(issue).status == "regressed"
        until = (NOW + timedelta(hours=1)).isoformat()
        store.issues.set_status(issue, status_change("ignored", until=until), by="bob")
        store.append([_event(3)])  # before the end of the ignore: stays ignored
        assert store.issues.status_of(issue).status == "ignored"
        store.append([_event(4, received_at=(NOW + timedelta(hours=2)).isoformat())])
        assert store.issues.status_of(issue).status == "unresolved"
    reader = LakeReader(str(tmp_path))  # another process replays the same log
    shown = reader.issue(issue)
    assert shown["status"]["status"] == "unresolved" and shown["status"]["by"] == "erroracle"
    assert [(e["by"], e["was"], e["status"]) for e in shown["history"]] == [
        ("ann", "unresolved", "resolved"), ("erroracle", "resolved", "regressed"),
        ("bob", "regressed", "ignored"), ("erroracle", "ignored", "unresolved")]
    assert [e["id"] for e in reader.issue_events(issue, limit=2)] == ["e4", "e3"]
    assert shown["count"] == 4 and sum(shown["hourly"].values()) == 4
    assert (shown["services"], shown["hosts"], shown["environments"]) == (
        ["billing"], ["h1"], ["prod"])


def test_feedback_and_crawled_records_do_not_reopen_a_resolved_issue(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        issue = store.append([_event(1)]).issues["fp-ledger"]
        store.issues.set_status(issue, status_change("resolved"), by="ann")
        store.append([_event(2, source="feedback", source_id="e1", score=1.0),
                      _event(5, source="stackoverflow", solution="pin the ledger")])
        assert store.issues.status_of(issue).status == "resolved"
        store.append([_event(3)])
        assert store.issues.status_of(issue).status == "regressed"


def test_an_issue_ignored_for_n_events_reopens_once_they_arrived(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        issue = store.append([_event(1)]).issues["fp-ledger"]
        store.issues.set_status(issue, status_change("ignored", events=2), by="ann")
        with pytest.raises(UnprocessableError) as refused:
            status_change("resolved", events=2)
        assert refused.value.field == "events"
        store.append([_event(2)])
        store.flush()
        assert reopen_counted_ignores(store) == []
        store.append([_event(3)])
        store.flush()
        assert store.issues.status_of(issue).status == "ignored"  # not at the append...
        [entry] = reopen_counted_ignores(store)  # ...but when the lake is counted
        assert (entry["was"], entry["status"], entry["by"]) == ("ignored", "unresolved",
                                                                "erroracle")
        assert reopen_counted_ignores(store) == []
