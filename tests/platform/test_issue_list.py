"""The issue list: tabs by status, search, filters, sort, pages, sparklines, similar issues."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from erroracle.errors import UnprocessableError
from erroracle.platform.issue_list import IssueQuery, similar_issues
from erroracle.platform.issue_status import status_change
from erroracle.platform.issue_summary import SPARK_HOURS
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader

NOW = datetime.now(timezone.utc)


def _records() -> list[dict]:
    rows = []
    for n in range(12):  # a database timeout in two services, every half hour
        rows.append({"id": f"db{n}", "fingerprint": "fp-db", "error_type": "OperationalError",
                     "message": "timeout connecting to postgres", "environment": "prod",
                     "service": "checkout" if n % 2 else "worker",
                     "received_at": NOW - timedelta(minutes=30 * n)})
    for n in range(3):
        rows.append({"id": f"key{n}", "fingerprint": "fp-key", "error_type": "KeyError",
                     "message": "'user_id'", "service": "api", "environment": "staging",
                     "received_at": NOW - timedelta(days=2, minutes=n)})
    rows.append({"id": "kb1", "source": "knowledge", "fingerprint": "fp-kb",
                 "error_type": "OperationalError", "message": "timeout connecting to mysql"})
    rows.append({"id": "fb1", "source": "feedback", "source_id": "db0", "fingerprint": "fp-db",
                 "error_type": "OperationalError", "message": "timeout connecting to postgres",
                 "score": 1.0})
    return rows


@pytest.fixture()
def lake(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        issues = store.append(_records()).issues
        store.issues.set_status(issues["fp-key"], status_change("resolved"), by="ann")
    return LakeReader(str(tmp_path)), issues


def _ids(found: dict) -> list[str]:
    return [issue["issue"] for issue in found["issues"]]


def test_tabs_count_the_apps_issues_and_feedback_is_not_an_event(lake):
    reader, issues = lake
    found = reader.issue_list(IssueQuery.parse({}))
    assert _ids(found) == [issues["fp-db"]]
    assert found["tabs"] == {"unresolved": 1, "regressed": 0, "resolved": 1, "ignored": 0,
                             "all": 2}
    db = found["issues"][0]
    assert db["count"] == 12 and db["status"] == "unresolved"
    assert db["services"] == ["checkout", "worker"] and db["environments"] == ["prod"]
    assert len(db["spark"]) == SPARK_HOURS and sum(db["spark"]) == 12
    assert _ids(reader.issue_list(IssueQuery.parse({"status": "resolved"}))) == [
        issues["fp-key"]]


def test_search_filters_sort_and_pages(lake):
    reader, issues = lake
    def ids(**params):
        return _ids(reader.issue_list(IssueQuery.parse({"status": "all", **params})))
    assert ids(q="POSTGRES") == [issues["fp-db"]]
    assert ids(q=issues["fp-key"]) == [issues["fp-key"]]
    assert ids(type="KeyError") == [issues["fp-key"]]
    assert ids(service="checkout") == [issues["fp-db"]]
    assert ids(environment="staging") == [issues["fp-key"]]
    assert ids(sort="first_seen") == [issues["fp-db"], issues["fp-key"]]
    assert ids(limit="1", offset="1") == [issues["fp-key"]]
    assert ids(source="knowledge") == [issues["fp-kb"]]
    assert len(ids(source="all")) == 3


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "closed"}, "status"), ({"sort": "random"}, "sort"), ({"limit": "0"}, "limit"),
    ({"limit": "x"}, "limit"), ({"offset": "-1"}, "offset"), ({"source": "s3"}, "source")])
def test_a_bad_query_names_its_field(params, field):
    with pytest.raises(UnprocessableError) as refused:
        IssueQuery.parse(params)
    assert refused.value.field == field


def test_similar_issues_share_words_and_leave_out_the_rest(lake):
    reader, issues = lake
    everything = reader.issue_list(IssueQuery(status="all", source="all"))["issues"]
    similar = similar_issues(everything, issues["fp-db"])
    assert [one["issue"] for one in similar] == [issues["fp-kb"]]
    assert 0 < similar[0]["similarity"] <= 1


def test_the_summary_reads_each_file_once_and_starts_again_after_a_deletion(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        store.append(_records())
        store.flush()
        reader = LakeReader(str(tmp_path))
        query = IssueQuery(status="all")
        assert reader.issue_list(query)["total"] == 2
        files = set(reader.summary.files)
        store.append([{**_records()[0], "id": "db-late", "received_at": NOW}])
        store.flush()
        [db] = [i for i in reader.issue_list(query)["issues"] if i["error_type"] != "KeyError"]
        assert db["count"] == 13 and len(reader.summary.files) == len(files) + 1
        store.issues.set_status(db["issue"], status_change("ignored"), by="ann")
        assert reader.issue_list(IssueQuery(status="ignored"))["total"] == 1  # status only
        store.delete(fingerprint="fp-key")
    assert [i["error_type"] for i in reader.issue_list(query)["issues"]] == ["OperationalError"]


def test_a_store_without_a_summary_lists_the_same_issues(lake):
    from erroracle.platform.store import InMemoryErrorStore

    reader, _ = lake
    memory = InMemoryErrorStore()
    issues = memory.append(_records()).issues
    memory.issues.set_status(issues["fp-key"], status_change("resolved"), by="ann")
    for params in ({}, {"status": "all", "sort": "first_seen"}, {"q": "user", "status": "all"}):
        query = IssueQuery.parse(params)
        ours = [(i["count"], i["error_type"], i["services"]) for i in reader.issue_list(query)[
            "issues"]]
        assert ours == [(i["count"], i["error_type"], i["services"])
                        for i in memory.issue_list(query)["issues"]]
