"""The dashboard, the issue API and alerts on a real Serve app: sessions, CSRF, scopes, a
person's whole triage in headless Chromium (screenshots under ``build/screenshots``), and an
alert rule that delivers to a local webhook."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from jsonschema import Draft202012Validator
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from erroracle.platform.feedback import read_feedback
from erroracle.platform.lake_reader import LakeReader
from tests.conftest import ERRORACLE
from tests.integration.browser import chromium, screenshot
from tests.integration.serving import LEARNING, auth, running_app
from tests.receivers import Receiver

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ISSUES = "/api/v1/issues"
ALERTS = "/api/v1/alerts"
POSTGRES = {
    "error_type": "OperationalError", "service": "checkout", "environment": "prod",
    "release": "1.4.0", "message": "connection to server at db-1:5432 failed: timeout expired",
    "stack_trace": (
        "Traceback (most recent call last):\n"
        '  File "/srv/shop/checkout/pay.py", line 42, in charge\n'
        "    conn = pool.getconn()\n"
        '  File "/usr/lib/python3/dist-packages/psycopg2/pool.py", line 120, in getconn\n'
        "    return self._connect(key)\n"
        "psycopg2.OperationalError: connection to server at db-1:5432 failed: timeout expired"),
}
KEYERROR = {"error_type": "KeyError", "message": "'user_id'", "service": "api",
            "environment": "staging"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("dashboard") / "lake", {
        "index_refresh_seconds": 1, "reload_poll_seconds": 0.5, "batch_wait_ms": 2,
    }) as running:
        yield running


def _report(client: httpx.Client, *errors: dict) -> list[str]:
    answer = client.post(f"{LEARNING}/errors", headers=auth("ingest"),
                         json={"errors": list(errors)})
    assert answer.status_code == 202, answer.text
    return answer.json()["issues"]


def _listed(client: httpx.Client, issue: str, timeout: float = 30) -> dict:
    """The issue as the list shows it, once the lake's writer has flushed it."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.get(ISSUES, headers=auth("read"), params={"status": "all", "q": issue})
        assert found.status_code == 200, found.text
        if found.json()["issues"] or time.monotonic() > deadline:
            return found.json()["issues"][0]
        time.sleep(0.5)


@contextmanager
def _logged_in(client: httpx.Client, key: str) -> Iterator[httpx.Client]:
    """A client with a dashboard session of this key, the way a browser logs in."""
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        _log_in(browser, key)
        yield browser


def _log_in(browser: httpx.Client, key: str) -> None:
    form = browser.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = browser.post("/ui/login", data={"csrf": token, "key": key})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie


def _csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _status(client: httpx.Client, issue: str) -> str:
    return client.get(f"{ISSUES}/{issue}", headers=auth("read")).json()["status"]["status"]


def test_pages_need_a_session_and_every_change_needs_the_csrf_token_and_scope(server):
    config, client = server
    [issue] = _report(client, {"error_type": "PermissionError", "service": "files",
                               "message": "[Errno 13] Permission denied: '/var/run/app.sock'"})
    _listed(client, issue)
    anonymous = client.get("/ui/issues/" + issue)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"
    wrong = client.post("/ui/login", data={"csrf": "forged", "key": "key-admin"})
    assert wrong.status_code == 403 and "Set-Cookie" not in wrong.headers
    page = client.get("/ui/login")
    bad_key = client.post("/ui/login", data={"csrf": _csrf(page), "key": "not-a-key"})
    assert bad_key.headers["location"] == "/ui/login?failed=1"

    with _logged_in(client, "key-read") as reader:
        page = reader.get(f"/ui/issues/{issue}")
        assert page.status_code == 200 and "/var/run/app.sock" in page.text
        assert 'id="resolve"' not in page.text  # a read key is offered no change
        refused = reader.post(f"/ui/issues/{issue}/status",
                              data={"csrf": _csrf(page), "status": "resolved"})
        assert refused.status_code == 403 and "scope" in refused.text
    with _logged_in(client, "key-admin") as admin:
        page = admin.get(f"/ui/issues/{issue}")
        no_token = admin.post(f"/ui/issues/{issue}/status", data={"status": "resolved"})
        assert no_token.status_code == 403 and "CSRF" in no_token.text
        forged = admin.post(f"/ui/issues/{issue}/status",
                            data={"status": "resolved", "csrf": "x" * 32})
        assert forged.status_code == 403
        invalid = admin.post(f"/ui/issues/{issue}/status",
                             data={"status": "fixed", "csrf": _csrf(page)})
        assert invalid.status_code == 422 and "status" in invalid.text
        unknown = admin.post("/ui/issues/Inope/status",
                             data={"status": "resolved", "csrf": _csrf(page)})
        assert unknown.status_code == 404
        assert _status(client, issue) == "unresolved"  # nothing refused changed anything
        done = admin.post("/ui/issues/bulk", data={"csrf": _csrf(page), "status": "ignored",
                                                   "issue": [issue]})
        assert done.status_code == 303 and _status(client, issue) == "ignored"
        for path in ("/ui/models", "/ui/sources"):
            assert admin.get(path).status_code == 200
        out = admin.post("/ui/logout", data={"csrf": _csrf(page)})
        assert out.status_code == 303 and 'erroracle_session=""' in out.headers["set-cookie"]


def test_the_issue_api_pages_changes_status_and_lists_events(server):
    config, client = server
    billing = {"error_type": "ZeroDivisionError", "message": "division by zero",
               "service": "billing"}
    [issue] = _report(client, {**billing, "release": "2.0"})
    listed = _listed(client, issue)
    assert listed["count"] == 1 and listed["services"] == ["billing"]
    for params, field in (({"status": "closed"}, "status"), ({"limit": "0"}, "limit"),
                          ({"sort": "x"}, "sort")):
        refused = client.get(ISSUES, headers=auth("read"), params=params)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    patch = f"{ISSUES}/{issue}"
    assert client.patch(patch, headers=auth("read"), json={"status": "resolved"}
                        ).status_code == 403
    bad = client.patch(patch, headers=auth("admin"), json={"status": "ignored",
                                                           "until": "soon"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "until"
    assert client.patch(f"{ISSUES}/Inope", headers=auth("admin"),
                        json={"status": "resolved"}).status_code == 404
    assert _status(client, issue) == "unresolved"
    done = client.patch(patch, headers=auth("admin"),
                        json={"status": "resolved", "release": "2.0"})
    assert done.status_code == 200 and done.json()["was"] == "unresolved"
    resolved = client.get(ISSUES, headers=auth("read"), params={"status": "resolved"}).json()
    assert issue in [one["issue"] for one in resolved["issues"]]
    _report(client, {**billing, "release": "1.9"})  # an older release: stays resolved
    time.sleep(3)
    assert _status(client, issue) == "resolved"
    events = client.get(f"{patch}/events", headers=auth("read"), params={"limit": 5}).json()
    assert [event["release"] for event in events["events"]] == ["1.9", "2.0"]


def test_a_person_triages_an_issue_in_chromium(server):
    """Log in, see the list, search, open an issue, say a fix worked, resolve it, and see it
    regressed when the app reports it again."""
    config, client = server
    postgres, keyerror = _report(client, POSTGRES, KEYERROR)
    _listed(client, postgres), _listed(client, keyerror)
    with chromium() as driver:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{client.base_url}/ui/")
        wait.until(ready.url_contains("/ui/login"))
        driver.find_element(By.ID, "key").send_keys("key-admin")
        driver.find_element(By.ID, "login").click()
        wait.until(ready.presence_of_element_located((By.ID, "issues")))
        shown = {row.get_attribute("data-issue")
                 for row in driver.find_elements(By.CSS_SELECTOR, "tr.issue-row")}
        assert {postgres, keyerror} <= shown
        screenshot(driver, "issue-list")

        driver.find_element(By.ID, "q").send_keys("db-1:5432")
        driver.find_element(By.ID, "search-button").click()
        wait.until(ready.url_contains("q=db-1"))
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.issue-row")
        assert [row.get_attribute("data-issue") for row in rows] == [postgres]

        rows[0].find_element(By.CSS_SELECTOR, "a.issue-link").click()
        wait.until(ready.presence_of_element_located((By.ID, "frames")))
        in_app = driver.find_elements(By.CSS_SELECTOR, "#frames .in-app")
        assert [frame.text for frame in in_app] == ["/srv/shop/checkout/pay.py:42 in charge"]
        fixes = driver.find_elements(By.CSS_SELECTOR, "#fixes .fix")
        assert fixes, "the model suggested no fix"
        suggestion = fixes[0].get_attribute("data-suggestion")
        screenshot(driver, "issue-detail")

        fixes[0].find_element(By.CSS_SELECTOR, "button.worked").click()
        wait.until(ready.presence_of_element_located((By.ID, "thanks")))
        driver.find_element(By.ID, "resolve").click()
        wait.until(ready.text_to_be_present_in_element((By.ID, "status"), "resolved"))

        _report(client, POSTGRES)
        deadline = time.monotonic() + 30
        while driver.find_element(By.ID, "status").text != "regressed":
            assert time.monotonic() < deadline, "the issue was never marked regressed"
            time.sleep(1)
            driver.refresh()
        history = driver.find_element(By.ID, "history").text
        assert "unresolved → resolved" in history and "resolved → regressed" in history
        screenshot(driver, "issue-regressed")

    deadline = time.monotonic() + 30  # stored at once, in Parquet within flush_seconds
    while True:
        with LakeReader(config.data_root) as lake:
            rows = lake.read_table(sources=["feedback"]).to_pylist()
        if any(fact.worked and fact.suggestion_id == suggestion
               for fact in map(read_feedback, rows)):
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)


def test_an_alert_rule_set_over_the_api_delivers_a_new_issue_to_a_webhook(server):
    config, client = server
    hook = Receiver()
    hook.start()
    try:
        rule = {"events": ["new_issue", "regression"], "channel": "webhook", "url": hook.url,
                "service": "payments"}
        for bad, field in (({"url": "ftp://example.com/x"}, "url"),
                           ({"url": f"{client.base_url}/api/v1/learning/errors"}, "url"),
                           ({"events": ["typo"]}, "events.0"), ({"per_hour": 0}, "per_hour")):
            refused = client.put(f"{ALERTS}/rules/pager", headers=auth("admin"),
                                 json={**rule, **bad})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["field"] == field
        assert client.put(f"{ALERTS}/rules/pager", headers=auth("read"),
                          json=rule).status_code == 403
        assert client.get(f"{ALERTS}/rules", headers=auth("admin")).json()["rules"] == []
        saved = client.put(f"{ALERTS}/rules/pager", headers=auth("admin"), json=rule)
        assert saved.status_code == 200 and saved.json()["name"] == "pager"
        time.sleep(2.5)  # rules are read again every 2 s

        [issue] = _report(client, {"error_type": "CardDeclined", "service": "payments",
                                   "message": "card ending 4242 declined: insufficient funds"})
        _report(client, {"error_type": "CardDeclined", "service": "shipping",
                         "message": "label printer offline"})
        deadline = time.monotonic() + 30
        while not hook.bodies:
            assert time.monotonic() < deadline, "the webhook never received the alert"
            time.sleep(0.5)
        time.sleep(3)
        assert [(body["event"], body["issue"]) for body in hook.bodies] == [("new_issue", issue)]
        assert hook.bodies[0]["url"].endswith(f"/ui/issues/{issue}")
        outbox = client.get(ALERTS, headers=auth("admin")).json()
        assert outbox["summary"]["delivered"] == 1 and outbox["alerts"][0]["state"] == "delivered"
        assert 'erroracle_alerts{state="delivered"} 1.0' in client.get(
            "/metrics", headers=auth("read")).text
        assert client.delete(f"{ALERTS}/rules/pager", headers=auth("admin")).status_code == 200
        assert client.delete(f"{ALERTS}/rules/pager", headers=auth("admin")).status_code == 404
    finally:
        hook.stop()


def test_the_api_docs_load_with_no_internet(server):
    _, client = server
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert re.findall(r"https?://", page.text) == []  # no CDN, no web font
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
        assert any(asset.endswith(".js") for asset in assets)
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["paths"]


def test_keys_made_over_the_api_hold_their_scope_and_a_revocation_holds_within_seconds(server):
    config, client = server
    refused = client.post("/api/v1/keys", headers=auth("admin"),
                          json={"scopes": ["write"], "name": "app-1"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "scopes"
    assert client.post("/api/v1/keys", headers=auth("read"),
                       json={"scopes": ["ingest"]}).status_code == 403
    made = client.post("/api/v1/keys", headers=auth("admin"),
                       json={"scopes": ["ingest"], "name": "app-1"})
    assert made.status_code == 201 and made.json()["scopes"] == ["ingest"]
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    listed = client.get("/api/v1/keys", headers=auth("admin")).json()["keys"]
    assert "app-1" in [entry["name"] for entry in listed]
    assert made.json()["key"] not in json.dumps(listed)  # names, never secrets
    assert all(set(entry) == {"name", "scopes", "rate_limit_per_minute", "created_at",
                              "expires_at", "last_used_at"} for entry in listed)
    time.sleep(1.2)  # the replica looks at the keys file at most once a second
    assert client.post(f"{LEARNING}/errors", headers=key, json={"errors": [
        {"error_message": "disk full on /var/lib/app"}]}).status_code == 202
    assert client.post(f"{LEARNING}/predict", headers=key,
                       json={"error_message": "x"}).status_code == 403  # ingest only
    used = {entry["name"]: entry["last_used_at"]
            for entry in client.get("/api/v1/keys", headers=auth("admin")).json()["keys"]}
    assert used["app-1"] is not None and used["app-1"] >= made.json()["created_at"]
    done = subprocess.run([*ERRORACLE, "--data-root", config.data_root, "keys", "revoke",
                           "app-1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 5
    while client.post(f"{LEARNING}/errors", headers=key, json={"errors": [
            {"error_message": "disk full on /var/lib/app"}]}).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key was still accepted"
        time.sleep(0.2)
    assert client.delete("/api/v1/keys/app-1", headers=auth("admin")).status_code == 404


def test_real_answers_match_the_served_openapi_document(server):
    """Each route's answer, and its refusals, validate against the schema /openapi.json gives
    for that route and status code."""
    _, client = server
    spec = client.get("/openapi.json").json()

    def check(method: str, path: str, answer: httpx.Response) -> dict:
        operation = spec["paths"][path][method]
        declared = operation["responses"][str(answer.status_code)]
        if not declared["content"].get("application/json"):
            return {}
        schema = {**declared["content"]["application/json"]["schema"],
                  "components": spec["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(answer.json())]
        assert errors == [], (method, path, answer.status_code, errors[:3])
        return answer.json()

    [issue] = _report(client, {"error_type": "TimeoutError", "service": "search",
                               "message": "read timed out after 30s on es-2:9200"})
    _listed(client, issue)
    reported = client.post(f"{LEARNING}/errors", headers=auth("ingest"),
                           json={"errors": [{"error_message": "read timed out on es-3"}]})
    check("post", f"{LEARNING}/errors", reported)
    predicted = check("post", f"{LEARNING}/predict", client.post(
        f"{LEARNING}/predict", headers=auth("read"),
        json={"error_message": "No module named requests", "error_type": "ModuleNotFoundError"}))
    check("post", f"{LEARNING}/predict", client.post(
        f"{LEARNING}/predict", headers=auth("read"), json={"error_message": " "}))
    check("get", f"{LEARNING}/suggest-fix", client.get(
        f"{LEARNING}/suggest-fix", headers=auth("read"),
        params={"error_message": "x" * 9000, "top_k": 5}))
    check("get", f"{LEARNING}/suggest-fix", client.get(
        f"{LEARNING}/suggest-fix", headers=auth("read"), params={"error_message": "x",
                                                                 "top_k": 99}))
    check("post", f"{LEARNING}/feedback", client.post(
        f"{LEARNING}/feedback", headers=auth("feedback"),
        json={"prediction_id": predicted["prediction_id"], "solution_worked": True,
              "suggestion_id": predicted["suggestions"][0]["id"]}))
    confirmed = check("get", f"{LEARNING}/suggest-fix", client.get(  # "why" names that error
        f"{LEARNING}/suggest-fix", headers=auth("read"),
        params={"error_message": "No module named requests", "top_k": 1}))
    assert None in [why["similarity"] for why in confirmed["suggestions"][0]["why"]]
    check("get", f"{LEARNING}/stats", client.get(f"{LEARNING}/stats", headers=auth("read")))
    check("get", "/api/v1/issues", client.get(ISSUES, headers=auth("read"),
                                              params={"status": "all"}))
    path = "/api/v1/issues/{issue}"
    check("get", path, client.get(f"{ISSUES}/{issue}", headers=auth("read")))
    check("get", path, client.get(f"{ISSUES}/Inope", headers=auth("read")))
    check("get", path + "/events", client.get(f"{ISSUES}/{issue}/events", headers=auth("read")))
    check("patch", path, client.patch(f"{ISSUES}/{issue}", headers=auth("read"),
                                      json={"status": "resolved"}))
    check("patch", path, client.patch(f"{ISSUES}/{issue}", headers=auth("admin"),
                                      json={"status": "resolved"}))
    check("get", "/api/v1/alerts", client.get(ALERTS, headers=auth("admin")))
    check("get", "/api/v1/alerts/rules", client.get(f"{ALERTS}/rules", headers=auth("admin")))
    check("get", "/api/v1/keys", client.get("/api/v1/keys", headers=auth("admin")))
    check("get", "/healthz", client.get("/healthz"))
    check("get", "/api/v1/keys", client.get("/api/v1/keys"))  # no key: 401
