"""Alerts: rules, the durable outbox, and delivery to real local receivers (an HTTP server and
aiosmtpd), through a receiver that is down, a restart, and a storm."""

from __future__ import annotations

import json

import pydantic
import pytest
from aiosmtpd.controller import Controller

from erroracle.errors import UnprocessableError
from erroracle.platform.alert_delivery import Dispatcher
from erroracle.platform.alert_rules import AlertRule, AlertsConfig, RuleBook, check_destination
from erroracle.platform.alerts import Alerts
from erroracle.platform.config import load_config
from erroracle.platform.issue_status import status_change
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.outbox import Outbox
from erroracle.platform.records import ErrorRecord
from tests.receivers import Receiver, free_port

NOW = 1_800_000_000.0


@pytest.fixture()
def receiver():
    hook = Receiver()
    yield hook
    hook.stop()


def _rule(url: str, **extra) -> AlertRule:
    return AlertRule(name="oncall", events=["new_issue", "regression"], channel="webhook",
                     url=url, **extra)


def test_a_rule_needs_a_destination_its_channel_can_reach():
    for bad, field in (({"events": ["typo"]}, "events.0"), ({"channel": "pager"}, "channel"),
                       ({"url": None}, None), ({"channel": "email", "to": []}, None),
                       ({"per_hour": 0}, "per_hour")):
        with pytest.raises(pydantic.ValidationError) as refused:
            AlertRule.model_validate({"name": "r", "events": ["spike"], "channel": "webhook",
                                      "url": "https://h.example/x", **bad})
        if field:
            assert ".".join(map(str, refused.value.errors()[0]["loc"])) == field
    for url in ("ftp://h.example/x", "file:///etc/passwd", "http://127.0.0.1:8000/api",
                "http://localhost:8000/x"):
        with pytest.raises(UnprocessableError) as refused:
            check_destination(_rule(url), "127.0.0.1", 8000)
        assert refused.value.field == "url"
    check_destination(_rule("http://127.0.0.1:9000/hook"), "127.0.0.1", 8000)


def test_the_outbox_dedupes_rates_and_survives_a_restart(tmp_path):
    box = Outbox(tmp_path, dedupe_seconds=600)
    rule = _rule("http://127.0.0.1:9/x", per_hour=3)
    first = box.enqueue(rule, "new_issue", "I1", {"issue": "I1"}, now=NOW)
    assert first and box.enqueue(rule, "new_issue", "I1", {}, now=NOW + 10) is None
    assert box.enqueue(rule, "new_issue", "I2", {}, now=NOW + 20)
    assert box.enqueue(rule, "new_issue", "I3", {}, now=NOW + 30)
    assert box.enqueue(rule, "new_issue", "I4", {}, now=NOW + 40) is None  # 3 an hour
    assert box.enqueue(rule, "new_issue", "I5", {}, now=NOW + 3700)  # the next hour
    with open(box.path, "ab") as log:
        log.write(b'{"op":"alert","id":"torn')  # a writer killed mid-line
    again = Outbox(tmp_path, dedupe_seconds=600)
    assert again.summary() == {"pending": 4, "delivered": 0, "failed": 0, "held_duplicate": 1,
                               "held_rate": 1}
    assert again.enqueue(rule, "regression", "I1", {}, now=NOW + 3800)
    assert len(Outbox(tmp_path).alerts) == 5  # the torn line was overwritten, not kept


def test_nothing_is_lost_while_the_receiver_is_down_nor_across_a_restart(tmp_path, receiver):
    rules = RuleBook(str(tmp_path), [_rule(receiver.url)])
    settings = AlertsConfig(first_retry_seconds=5, max_retry_seconds=20, timeout_seconds=2)
    box = Outbox(tmp_path / "alerts")
    alert = box.enqueue(rules.get("oncall"), "new_issue", "I1",
                        {"issue": "I1", "error_type": "KeyError", "message": "'x'"}, now=NOW)
    dispatcher = Dispatcher(box, rules, settings)
    assert dispatcher.run_once(now=NOW) == 0  # down: connection refused
    assert dispatcher.run_once(now=NOW + 4) == 0 and box.alerts[alert].attempts == 1  # not due
    assert dispatcher.run_once(now=NOW + 5) == 0 and box.alerts[alert].next_at == NOW + 15
    assert [dispatcher.backoff(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 20]

    receiver.start()
    restarted = Dispatcher(Outbox(tmp_path / "alerts"), rules, settings)  # a new process
    assert restarted.run_once(now=NOW + 15) == 1
    assert restarted.run_once(now=NOW + 100) == 0  # delivered once, never again
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["id"] == alert and body["event"] == "new_issue" and body["issue"] == "I1"
    assert body["text"] == "New issue: KeyError 'x'"
    assert Outbox(tmp_path / "alerts").summary()["delivered"] == 1


def test_an_alert_undelivered_for_too_long_is_marked_failed(tmp_path):
    rules = RuleBook(str(tmp_path), [_rule("http://127.0.0.1:9/closed")])
    box = Outbox(tmp_path / "alerts")
    box.enqueue(rules.get("oncall"), "new_issue", "I1", {}, now=NOW)
    dispatcher = Dispatcher(box, rules, AlertsConfig(first_retry_seconds=60,
                                                     give_up_after_seconds=100,
                                                     timeout_seconds=1))
    dispatcher.run_once(now=NOW)
    dispatcher.run_once(now=NOW + 60)
    assert box.summary()["failed"] == 1 and box.due(NOW + 10_000) == []


def test_slack_and_email_receive_their_own_formats(tmp_path, receiver):
    class Inbox:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        receiver.start()
        settings = AlertsConfig.model_validate({"smtp": {"host": "127.0.0.1",
                                                         "port": smtp.port}})
        rules = RuleBook(str(tmp_path), [
            AlertRule(name="chat", events=["spike"], channel="slack", url=receiver.url),
            AlertRule(name="mail", events=["spike"], channel="email", to=["ops@example.com"])])
        box = Outbox(tmp_path / "alerts")
        facts = {"service": "checkout", "peak": 80, "url": "http://erroracle/ui/"}
        for rule in rules.matching("spike", service="checkout", environment=None, level=None):
            box.enqueue(rule, "spike", "checkout@t", facts, now=NOW)
        assert Dispatcher(box, rules, settings).run_once(now=NOW) == 2
    finally:
        smtp.stop()
    slack = receiver.bodies[0]
    assert slack["text"] == "Spike: checkout@t (checkout)"
    assert slack["blocks"][0]["type"] == "section" and "checkout" in json.dumps(slack["blocks"])
    [mail] = inbox.messages
    assert mail.rcpt_tos == ["ops@example.com"]
    assert b"Subject: [erroracle] Spike: checkout@t (checkout)" in mail.content


def test_new_issues_and_regressions_of_apps_raise_alerts_that_match_the_filters(tmp_path):
    config = load_config(None, data_root=str(tmp_path), environ={})
    config.alerts.rules = [_rule("http://127.0.0.1:9/x", service="billing"),
                           AlertRule(name="errors-only", events=["new_issue"],
                                     channel="webhook", url="http://127.0.0.1:9/y",
                                     min_level="error")]
    alerts = Alerts(config)

    def report(n: int, **extra) -> list[str]:
        record = ErrorRecord.model_validate({
            "id": f"e{n}", "fingerprint": "fp-ledger", "error_type": "LedgerMismatch",
            "message": "totals differ", "service": "billing", "level": "warning", **extra})
        with ParquetErrorStore(str(tmp_path), background=False) as store:
            return alerts.after_append([record], store.append([record]))

    assert len(report(1)) == 1  # oncall; errors-only wants error or worse
    assert [a.rule for a in alerts.outbox.alerts.values()] == ["oncall"]
    assert report(2) == []  # a known issue raises nothing
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        issue = store.issues.issue_of("fp-ledger")
        store.issues.set_status(issue, status_change("resolved"), by="ann")
    [regression] = report(3)
    assert alerts.outbox.alerts[regression].event == "regression"
    assert alerts.outbox.alerts[regression].payload["url"].endswith(f"/ui/issues/{issue}")
    assert report(4, fingerprint="fp-other", message="other", source="stackoverflow") == []
