"""The HTTP API end to end: a real local Ray, the real Serve app on a free port of 127.0.0.1, the
bootstrapped bundled model, a real Parquet lake, and the real sentry-sdk in a separate app."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import time
import zlib

import httpx
import pytest

from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.registry import Registry
from tests.integration.serving import (
    LEARNING,
    SLOW_KEY,
    auth,
    free_port,
    promote_under_load,
    running_app,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("serve") / "lake", {
        "max_body_bytes": 65_536, "max_decompressed_bytes": 1_048_576,
        "max_batch_records": 50, "index_refresh_seconds": 1, "reload_poll_seconds": 0.5,
        "exploration": 0, "batch_wait_ms": 2,
    }) as running:
        yield running


def _healthy(client: httpx.Client) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["ready"] is True


def _error(answer: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()["error"]
    assert body["code"] == code and body["message"]
    assert "Traceback" not in body["message"] and "/work/" not in body["message"]
    if field is not None:
        assert body["field"] == field


def _lake_record(config, record_id: str, timeout: float = 30.0) -> dict:
    store = ParquetErrorStore(config.data_root, background=False)
    try:
        deadline = time.monotonic() + timeout
        while True:
            found = store.find([record_id])
            if found or time.monotonic() > deadline:
                return found[0] if found else {}
            time.sleep(0.5)
    finally:
        store.close()


def test_report_predict_suggest_stats_and_metrics(server):
    config, client = server
    reported = client.post(f"{LEARNING}/errors", headers=auth("ingest"), json={"errors": [
        {"error_id": "err-1", "error_message": "KeyError: 'user_id'", "service": "api",
         "stack_trace": 'Traceback (most recent call last):\n  File "app/views.py", line 3, '
                        "in show\n    user = session['user_id']\nKeyError: 'user_id'"},
        {"error_type": "TimeoutError", "error_message": "token sk_live_abcdefghijklmnop1234 "
                                                        "timed out"},
    ]})
    assert reported.status_code == 202, reported.text
    body = reported.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0 and body["ids"][0] == "err-1"
    again = client.post(f"{LEARNING}/errors", headers=auth("ingest"),
                        json={"errors": [{"error_id": "err-1", "error_message": "KeyError"}]})
    assert again.json() == {"accepted": 0, "ids": ["err-1"], "duplicates": 1,
                            "issues": [again.json()["issues"][0]]}
    assert body["issues"][0] and body["issues"][0].startswith("I")
    stored = _lake_record(config, body["ids"][1])
    assert "sk_live_abcdefghijklmnop1234" not in stored["message"]
    assert _lake_record(config, "err-1")["frames"][0]["file"] == "app/views.py"

    predicted = client.post(f"{LEARNING}/predict", headers=auth("read"), json={
        "error_message": "No module named 'requests'", "error_type": "ModuleNotFoundError",
        "top_k": 2,
    })
    assert predicted.status_code == 200, predicted.text
    prediction = predicted.json()
    assert prediction["model_version"] == "v0001"
    assert prediction["category"]["label"] == "dependency"
    assert 0 < prediction["category"]["confidence"] <= 1
    assert prediction["severity"]["label"] and prediction["prediction_id"].startswith("p-")
    assert prediction["novelty"] == {**prediction["novelty"], "is_novel": False, "score": 0.0}
    assert len(prediction["suggestions"]) == 2
    top = prediction["suggestions"][0]
    assert "pip install" in top["solution"] and top["license"] and top["source"] == "knowledge"
    assert top["why"][0]["similarity"] > 0.7  # to the whole document: error and solution

    novel = client.post(f"{LEARNING}/predict", headers=auth("read"), json={
        "error_message": "flux capacitor desynchronised from the temporal manifold"})
    assert novel.json()["novelty"]["is_novel"] is True

    fixes = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"), params={
        "error_message": "psycopg2.OperationalError: connection refused on port 5432",
        "top_k": 3})
    assert fixes.status_code == 200, fixes.text
    suggestions = fixes.json()["suggestions"]
    assert len(suggestions) == 3 and fixes.json()["model_version"] == "v0001"
    assert "database" in suggestions[0]["solution"].lower()
    assert all(s["url"] and s["author"] and s["why"] for s in suggestions)

    stats = client.get(f"{LEARNING}/stats", headers=auth("read")).json()
    assert stats["champion"]["version"] == "v0001"
    assert stats["lake"]["by_source"]["knowledge"] == 308
    assert stats["serving"]["fixes_indexed"] >= 300 and stats["issues"] and stats["models"]
    # the apps' own errors by default, the knowledge base when asked for
    assert stats["source"] == "app" and stats["errors"]["by_service"]["api"] >= 1
    assert {issue["error_type"] for issue in stats["issues"]} >= {"KeyError", "TimeoutError"}
    knowledge = client.get(f"{LEARNING}/stats", headers=auth("read"),
                           params={"source": "knowledge"}).json()
    assert knowledge["errors"]["total"] == 308 and len(knowledge["issues"]) == 10
    _error(client.get(f"{LEARNING}/stats", headers=auth("read"), params={"source": "s3"}),
           422, "validation_error", "source")

    metrics = client.get("/metrics", headers=auth("read"))
    assert metrics.status_code == 200
    assert 'erroracle_requests_total{route="predict",status="200"}' in metrics.text
    assert 'erroracle_predictions_total{category="dependency"}' in metrics.text
    assert 'erroracle_model_version{version="v0001"} 1.0' in metrics.text
    assert client.get("/docs").status_code == 200
    assert "/api/v1/learning/predict" in client.get("/openapi.json").json()["paths"]


def test_issues_group_reports_and_people_merge_and_split_them(server):
    config, client = server
    users = [f"Invalid user {name} from 10.0.3.{n}" for n, name in enumerate(
        ("oracle", "admin", "test", "pi", "guest"))]
    reported = client.post(f"{LEARNING}/errors", headers=auth("ingest"), json={"errors": [
        {"error_message": text} for text in [*users[:4], "Disk quota exceeded on /var/data"]]})
    issues = reported.json()["issues"]
    assert len(set(issues[:4])) == 1 and issues[4] != issues[0], issues
    users_issue, disk_issue = issues[0], issues[4]
    predicted = client.post(f"{LEARNING}/predict", headers=auth("read"),
                            json={"error_message": users[4]}).json()
    assert predicted["issue"] == users_issue  # the issue it would join, though never stored

    def issue(issue_id: str) -> dict:
        answer = client.get(f"/api/v1/issues/{issue_id}", headers=auth("read"))
        assert answer.status_code == 200, answer.text
        return answer.json()

    deadline = time.monotonic() + 30  # the ingress turns its log into Parquet within seconds
    while issue(users_issue)["count"] < 4:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    listed = client.get("/api/v1/issues", headers=auth("read"), params={"source": "app"}).json()
    assert users_issue in [i["issue"] for i in listed["issues"]]
    fingerprints = issue(users_issue)["fingerprints"]
    assert len(fingerprints) == 4

    url = f"/api/v1/issues/{users_issue}"
    _error(client.post(f"{url}/merge", headers=auth("read"), json={"issue": disk_issue}),
           403, "forbidden")
    _error(client.post(f"{url}/merge", headers=auth("admin"), json={"issue": "Inowhere"}),
           404, "not_found", "issue")
    _error(client.post("/api/v1/issues/Inowhere", headers=auth("admin"), json={}), 405,
           "method_not_allowed")
    _error(client.get("/api/v1/issues/Inowhere", headers=auth("read")), 404, "not_found")
    _error(client.post(f"{url}/merge", headers=auth("admin"), json={"issue": users_issue}),
           409, "conflict", "issue")
    _error(client.post(f"{url}/split", headers=auth("admin"), json={"fingerprint": "f00"}),
           422, "validation_error", "fingerprint")
    _error(client.post(f"{url}/split", headers=auth("admin"), json={"fingerprints": "f00"}),
           422, "validation_error", "fingerprint")  # the field it needs is missing
    assert issue(users_issue)["fingerprints"] == fingerprints  # nothing refused changed anything

    merged = client.post(f"{url}/merge", headers=auth("admin"), json={"issue": disk_issue})
    assert merged.status_code == 200 and merged.json()["by"] == "admin"
    moved = issue(disk_issue)
    assert moved["issue"] == users_issue and moved["merged_from"] == disk_issue
    assert len(moved["fingerprints"]) == 5
    assert [entry["op"] for entry in moved["history"]] == ["merge"]  # users: named at once
    split = client.post(f"{url}/split", headers=auth("admin"),
                        json={"fingerprint": fingerprints[0]}).json()
    assert split["new_issue"] not in (users_issue, disk_issue)
    assert issue(split["new_issue"])["fingerprints"] == [fingerprints[0]]
    again = client.post(f"{LEARNING}/errors", headers=auth("ingest"), json={"errors": [
        {"error_message": users[4]}]}).json()
    assert again["issues"] == [users_issue]  # a new user joins the issue, the split stays apart
    assert issue(split["new_issue"])["fingerprints"] == [fingerprints[0]]


def test_repeated_errors_are_answered_from_the_cache(server):
    _, client = server
    request = {"error_message": "ZeroDivisionError: division by zero", "top_k": 1}
    first = client.post(f"{LEARNING}/predict", headers=auth("read"), json=request).json()
    second = client.post(f"{LEARNING}/predict", headers=auth("read"), json=request).json()
    assert first["prediction_id"] != second["prediction_id"]
    assert {k: v for k, v in first.items() if k != "prediction_id"} == {
        k: v for k, v in second.items() if k != "prediction_id"}
    metrics = client.get("/metrics", headers=auth("read")).text
    assert 'erroracle_predict_cache_total{result="hit"}' in metrics


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", f"{LEARNING}/errors", "ingest"),
        ("POST", f"{LEARNING}/predict", "read"),
        ("GET", f"{LEARNING}/suggest-fix?error_message=x", "read"),
        ("POST", f"{LEARNING}/feedback", "feedback"),
        ("GET", f"{LEARNING}/stats", "read"),
        ("GET", "/metrics", "read"),
        ("GET", "/api/v1/issues", "read"),
    ],
)
def test_every_route_checks_the_key_and_its_scope(server, method, path, scope):
    _, client = server
    bodies = {
        "ingest": {"errors": [{"error_message": "E"}]},
        "read": {"error_message": "KeyError: 'x'"},
        "feedback": {"prediction_id": "p-0123abcd-5678", "solution_worked": True},
    }
    def send(headers: dict[str, str]) -> httpx.Response:
        body = bodies[scope] if method == "POST" else None
        return client.request(method, path, headers=headers, json=body)

    _error(send({}), 401, "unauthorized")
    _error(send({"Authorization": "Bearer not-a-key"}), 401, "unauthorized")
    wrong = next(name for name in ("ingest", "read", "feedback") if name != scope)
    _error(send(auth(wrong)), 403, "forbidden")
    assert send(auth(scope)).status_code in (200, 202)
    assert send(auth("admin")).status_code in (200, 202)


def test_bad_input_is_refused_with_a_json_error_and_the_server_stays_healthy(server):
    _, client = server
    predict = f"{LEARNING}/predict"
    headers = {**auth("admin"), "Content-Type": "application/json"}
    cases = [
        (client.post(predict, headers=headers, content=b'{"error_message": '), 400,
         "invalid_json", None),
        (client.post(predict, headers=headers, content=b'{"error_message": "\xff\xfe"}'), 400,
         "bad_encoding", None),
        (client.post(predict, headers=headers, json={"error_message": 42}), 422,
         "validation_error", "error_message"),
        (client.post(predict, headers=headers, json={"error_message": "x", "top_k": "3"}), 422,
         "validation_error", "top_k"),
        (client.post(predict, headers=headers, json={"error_message": "x", "extra": 1}), 422,
         "validation_error", "extra"),
        (client.post(predict, headers=headers, json=[1, 2]), 422, "validation_error", None),
        (client.post(predict, headers=headers, content=b"[" * 20_000 + b"]" * 20_000), 422,
         "too_deep", None),
        (client.post(predict, headers=headers, content=b'{"error_message": "'
                     + b"x" * 70_000 + b'"}'), 413, "body_too_large", None),
        (client.post(predict, headers={**headers, "Content-Encoding": "gzip"},
                     content=gzip.compress(b" " * 50_000_000)), 413, "body_too_large", None),
        (client.post(predict, headers={**headers, "Content-Encoding": "gzip"},
                     content=b"not gzip"), 400, "bad_encoding", None),
        (client.post(predict, headers={**headers, "Content-Encoding": "br"}, content=b"x"), 415,
         "unsupported_encoding", None),
        (client.post(f"{LEARNING}/errors", headers=headers,
                     json={"errors": [{"error_message": "E"}] * 51}), 413, "batch_too_large",
         "errors"),
        (client.post(f"{LEARNING}/errors", headers=headers,
                     json={"errors": [{"error_message": "E", "error_id": "refused-1"},
                                      {"level": 3}]}), 422,
         "validation_error", "errors.1.level"),
        (client.post(f"{LEARNING}/errors", headers=headers,
                     json={"errors": [{"error_message": "E", "source": "github"}]}), 422,
         "validation_error", "errors.0.source"),
        (client.post(f"{LEARNING}/errors", headers=headers,
                     json={"errors": [{"error_message": "E", "error_id": "x" * 129}]}), 422,
         "validation_error", "errors.0.id"),
        (client.post(f"{LEARNING}/feedback", headers=headers,
                     json={"error_id": "nope", "solution_worked": True}), 404, "not_found",
         "error_id"),
        (client.post(f"{LEARNING}/feedback", headers=headers,
                     json={"error_id": "a", "prediction_id": "b", "solution_worked": True}), 422,
         "validation_error", None),
        (client.post(f"{LEARNING}/feedback", headers=headers,
                     json={"error_id": "err-1", "solution_worked": "yes"}), 422,
         "validation_error", "solution_worked"),
        (client.post(f"{LEARNING}/feedback", headers=headers, json={
            "error_id": "err-1", "solution_worked": True, "correct_category": "astrology"}), 422,
         "validation_error", "correct_category"),
        (client.get(f"{LEARNING}/suggest-fix", headers=headers), 422, "validation_error",
         "error_message"),
        (client.get(f"{LEARNING}/suggest-fix?error_message=x&top_k=lots", headers=headers), 422,
         "validation_error", "top_k"),
        (client.get(f"{LEARNING}/suggest-fix?error_message=x&top_k=51", headers=headers), 422,
         "validation_error", "top_k"),
        (client.get(f"{LEARNING}/suggest-fix?error_message=%20%0A", headers=headers), 422,
         "validation_error", "error_message"),
        (client.get("/api/v1/nothing-here", headers=headers), 404, "not_found", None),
        (client.get(predict, headers=headers), 405, "method_not_allowed", None),
    ]
    for answer, status, code, field in cases:
        _error(answer, status, code, field)
    _healthy(client)
    assert _lake_record(server[0], "refused-1", timeout=3) == {}  # a refused batch stores nothing


def test_a_long_query_is_cut_and_the_answer_says_so(server):
    _, client = server
    message = "KeyError: 'user' while loading the profile " + "x" * 9_000
    answer = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"),
                        params={"error_message": message, "top_k": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json()["truncated"] == ["error_message"]
    short = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"),
                       params={"error_message": "KeyError: 'user'", "top_k": 2}).json()
    assert "truncated" not in short


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(server):
    _, client = server
    headers = {"Authorization": f"Bearer {SLOW_KEY}"}
    assert client.get(f"{LEARNING}/stats", headers=headers).status_code == 200
    limited = client.get(f"{LEARNING}/stats", headers=headers)
    _error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.get(f"{LEARNING}/stats", headers=auth("read")).status_code == 200


def test_feedback_makes_a_fix_rise_and_is_stored(server):
    config, client = server
    params = {"error_message": "ECONNREFUSED 127.0.0.1:6379 connecting to redis", "top_k": 3}
    first = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"), params=params).json()
    loser, riser = first["suggestions"][0]["id"], first["suggestions"][1]["id"]
    client.post(f"{LEARNING}/errors", headers=auth("ingest"), json={"errors": [
        {"error_id": "err-redis", "error_message": params["error_message"]}]})
    ranking = [s["id"] for s in first["suggestions"]]
    rounds, stored_ids = 0, {}
    while ranking[0] != riser and rounds < 15:
        rounds += 1
        for suggestion, worked in ((riser, True), (loser, False)):
            answer = client.post(f"{LEARNING}/feedback", headers=auth("feedback"), json={
                "error_id": "err-redis", "suggestion_id": suggestion, "solution_worked": worked,
                "correct_category": "network", "feedback": "started redis" if worked else None})
            assert answer.status_code == 202, answer.text
            stored_ids[worked] = answer.json()["id"]
        after = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"), params=params).json()
        ranking = [s["id"] for s in after["suggestions"]]
    assert ranking[0] == riser, f"the fix did not rise after {rounds} rounds of feedback"
    boosted = after["suggestions"][0]
    assert boosted["feedback"]["worked"] == rounds
    assert any(reason["source"] == "feedback" for reason in boosted["why"])
    stored = _lake_record(config, stored_ids[True])
    assert stored["source"] == "feedback" and stored["source_id"] == "err-redis"
    assert stored["category"] == "network" and stored["score"] == 1

    prediction = client.post(f"{LEARNING}/predict", headers=auth("read"),
                             json={"error_message": params["error_message"]}).json()
    by_prediction = client.post(f"{LEARNING}/feedback", headers=auth("feedback"), json={
        "prediction_id": prediction["prediction_id"], "solution_worked": False})
    assert by_prediction.status_code == 202


def test_a_newly_solved_error_is_suggested_without_a_restart(server):
    _, client = server
    message = "QuasarDriftError: the flux regulator lost phase lock on rail seven"
    reported = client.post(f"{LEARNING}/errors", headers=auth("ingest"), json={"errors": [{
        "error_id": "err-quasar", "error_message": message,
        "solution": "Recalibrate the flux regulator, then restart rail seven."}]})
    assert reported.status_code == 202, reported.text
    deadline = time.monotonic() + 60
    while True:
        fixes = client.get(f"{LEARNING}/suggest-fix", headers=auth("read"),
                           params={"error_message": message, "top_k": 1}).json()
        if fixes["suggestions"][0]["id"] == "err-quasar":
            break
        assert time.monotonic() < deadline, "the new fix never reached the index"
        time.sleep(1)
    assert "Recalibrate" in fixes["suggestions"][0]["solution"]


def test_a_promotion_under_load_fails_no_request_and_versions_only_move_forward(server):
    promote_under_load(*server)


def _served(client, body: dict, version: str) -> None:
    """Predict ``body`` until ``version`` answers (the same message: the cache would keep
    answering with the version it cached)."""
    deadline = time.monotonic() + 60
    while True:
        answer = client.post(f"{LEARNING}/predict", headers=auth("read"), json=body)
        assert answer.status_code == 200, answer.text
        if answer.json()["model_version"] == version:
            return
        assert time.monotonic() < deadline, f"{version} was never served"
        time.sleep(0.2)


def test_a_rollback_is_served_at_once_and_named_in_the_metrics(server):
    config, client = server
    registry = Registry(config.data_root)
    body = {"error_message": "ValueError: invalid literal for int() with base 10: 'x'"}
    before = registry.champion()
    newer = registry.register(registry.local_path(before), metrics={}, train_config={},
                              lineage={"parent": before})
    registry.promote(newer, reason="test: a champion to roll back")
    _served(client, body, newer)
    assert registry.rollback() == before
    _served(client, body, before)
    metrics = client.get("/metrics", headers=auth("read")).text
    assert f'erroracle_model_version{{version="{before}"}} 1.0' in metrics
    assert f'version="{newer}"' not in metrics


SENTRY_APP = textwrap.dedent("""
    import sys, sentry_sdk
    sentry_sdk.init(dsn=sys.argv[1], release="shop@1.2.3", environment="staging",
                    server_name="web-7", default_integrations=False)
    sentry_sdk.set_tag("region", "eu")

    def load_cart(cart):
        return cart["items"]

    try:
        load_cart({})
    except KeyError:
        print(sentry_sdk.capture_exception())
    sentry_sdk.capture_message("disk almost full", level="warning")
    sentry_sdk.flush(timeout=10)
""")


def test_the_official_sentry_sdk_reports_to_erroracle_by_its_dsn(server, tmp_path):
    config, client = server
    port = client.base_url.port
    script = tmp_path / "shop.py"
    script.write_text(SENTRY_APP)
    done = subprocess.run(
        [sys.executable, str(script), f"http://key-ingest@127.0.0.1:{port}/42"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    event_id = done.stdout.strip()
    record = _lake_record(config, event_id)
    assert record, f"event {event_id} not in the lake; sdk said: {done.stderr[-500:]}"
    assert record["error_type"] == "KeyError" and record["message"] == "'items'"
    assert record["frames"][-1]["function"] == "load_cart"
    assert record["release"] == "shop@1.2.3" and record["environment"] == "staging"
    assert record["host"] == "web-7" and "region:eu" in record["tags"]
    assert record["service"] == "sentry-project-42" and record["fingerprint"]


def test_sentry_store_endpoint_with_deflate_and_key_in_the_query(server):
    config, client = server
    event = {"event_id": "a" * 32, "platform": "javascript", "level": "error",
             "exception": {"values": [{"type": "TypeError", "value": "x is undefined",
                                       "stacktrace": {"frames": [
                                           {"filename": "app.js", "function": "render",
                                            "lineno": 3}]}}]}}
    answer = client.post("/api/7/store/?sentry_key=key-ingest", content=zlib.compress(
        json.dumps(event).encode()), headers={"Content-Encoding": "deflate"})
    assert answer.status_code == 200 and answer.json() == {"id": "a" * 32}
    session = b'{"sent_at":"2026-11-21T00:00:00Z"}\n{"type":"session"}\n{"sid":"1"}\n'
    ignored = client.post("/api/7/envelope/", content=session, headers={
        "X-Sentry-Auth": "Sentry sentry_version=7, sentry_key=key-ingest"})
    assert ignored.status_code == 200 and ignored.json() == {}
    _error(client.post("/api/7/envelope/", content=session), 401, "unauthorized")
    _error(client.post("/api/7/envelope/", content=b"{}\n{not json}\n",
                       headers={"X-Sentry-Auth": "Sentry sentry_key=key-ingest"}), 400,
           "invalid_envelope")
    assert _lake_record(config, "a" * 32)["error_type"] == "TypeError"


def test_the_client_library_delivers_through_an_outage_exactly_once(server, tmp_path):
    from erroracle.client import Options, Reporter
    from erroracle.client._spool import Spool

    config, client = server
    spool = tmp_path / "spool"
    down = Reporter(Options(f"http://127.0.0.1:{free_port()}", "key-ingest", service="shop",
                            spool_dir=str(spool), flush_interval=0.05))
    ids = []
    for index in range(3):
        try:
            raise TimeoutError(f"upstream {index} timed out, token=abcdef123456")
        except TimeoutError:
            ids.append(down.capture_exception(request={"method": "post", "route": "/pay",
                                                       "headers": {"Cookie": "sid=s3cr3t"}}))
    down.close(2)
    assert down.stats()["spooled"] == 3

    url = str(client.base_url)
    back = Reporter(Options(url, "key-ingest", spool_dir=str(spool), flush_interval=0.05,
                            queue_size=1))
    records = [_lake_record(config, event_id) for event_id in ids]
    assert all(records), "a spooled event never reached the lake"
    assert records[0]["error_type"] == "TimeoutError" and records[0]["service"] == "shop"
    assert "abcdef123456" not in records[0]["message"] and "s3cr3t" not in records[0]["body"]
    assert "http.route:/pay" in records[0]["tags"] and records[0]["fingerprint"]

    back.capture_message("one fits the queue")
    back.capture_message("this one is dropped: the queue holds one")
    back.close(5)
    assert back.stats()["resent"] == 3 and back.stats()["dropped"] == {"queue_full": 1}

    # At least once on the wire, once in the lake: the same event delivered again is a duplicate.
    Spool(spool, 1 << 20).put([{"id": ids[0], "message": "again", "service": "shop"}])
    again = Reporter(Options(url, "key-ingest", spool_dir=str(spool)))
    deadline = time.monotonic() + 30
    while again.stats()["resent"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    again.close(1)
    assert again.stats()["resent"] == 1
    store = ParquetErrorStore(config.data_root, background=False)
    try:
        assert len(store.find([ids[0]])) == 1
    finally:
        store.close()
    metrics = client.get("/metrics", headers=auth("read")).text
    assert 'erroracle_client_dropped_events_total{reason="queue_full"} 1.0' in metrics
