"""Delivering the outbox: generic JSON webhooks, Slack-compatible webhooks and email over SMTP,
with retries and exponential backoff.

One :class:`Dispatcher` delivers (the ``alerts`` deployment runs it every ``poll_seconds``).
An attempt that fails is retried after ``first_retry_seconds``, doubling up to
``max_retry_seconds``; an alert still undelivered ``give_up_after_seconds`` after it was made is
marked failed. A receiver that answers 2xx has it; anything else, or no answer within
``timeout_seconds``, is a failure to retry.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from erroracle.platform.alert_rules import AlertRule, AlertsConfig, RuleBook
from erroracle.platform.outbox import Alert, Outbox

__all__ = ["Dispatcher", "send", "slack_payload", "webhook_payload"]

log = logging.getLogger("erroracle.alerts")

_TITLES = {"new_issue": "New issue", "regression": "Regression", "spike": "Spike",
           "novelty": "Novel error"}


def _headline(alert: Alert) -> str:
    payload = alert.payload
    what = " ".join(filter(None, (payload.get("error_type"), payload.get("message"))))
    where = ", ".join(filter(None, (payload.get("service"), payload.get("environment"))))
    text = f"{_TITLES[alert.event]}: {what[:200] or alert.key}"
    return f"{text} ({where})" if where else text


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The generic JSON body: the alert's id, rule, event, key and facts."""
    return {"id": alert.id, "rule": alert.rule, "event": alert.event, "key": alert.key,
            "created_at": alert.created, "text": _headline(alert), **alert.payload}


def slack_payload(alert: Alert) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` for notifications, blocks for the layout."""
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{alert.payload[name]}"}
              for name in ("issue", "service", "environment", "level", "count")
              if alert.payload.get(name) not in (None, "")]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_headline(alert)}*"}}]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    if alert.payload.get("url"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{alert.payload['url']}|Open in erroracle>"}]})
    return {"text": _headline(alert), "blocks": blocks}


def send(rule: AlertRule, alert: Alert, settings: AlertsConfig) -> None:
    """Deliver one alert by its rule's channel.

    Raises:
        OSError: the receiver refused it or did not answer (smtplib and urllib errors are
            OSErrors).
    """
    if rule.channel == "email":
        smtp = settings.smtp
        message = EmailMessage()
        message["Subject"] = f"[erroracle] {_headline(alert)}"[:250]
        message["From"], message["To"] = smtp.sender, ", ".join(rule.to)
        message.set_content(json.dumps(webhook_payload(alert), indent=2, default=str))
        with smtplib.SMTP(smtp.host, smtp.port, timeout=settings.timeout_seconds) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, os.environ.get(smtp.password_env, ""))
            server.send_message(message)
        return
    body = slack_payload(alert) if rule.channel == "slack" else webhook_payload(alert)
    request = urllib.request.Request(
        rule.url or "", data=json.dumps(body, default=str).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "erroracle-alerts"})
    with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as answer:  # noqa: S310 - http(s) only (alert_rules.check_destination)
        if not 200 <= answer.status < 300:
            raise OSError(f"the receiver answered {answer.status}")


class Dispatcher:
    """Sends what the outbox holds that is due, and logs each attempt."""

    def __init__(self, outbox: Outbox, rules: RuleBook, settings: AlertsConfig) -> None:
        self.outbox, self.rules, self.settings = outbox, rules, settings

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones."""
        return min(self.settings.first_retry_seconds * 2 ** (attempts - 1),
                   self.settings.max_retry_seconds)

    def run_once(self, now: float | None = None) -> int:
        """Try every due alert once; returns how many were delivered."""
        self.outbox.refresh()
        delivered = 0
        for alert in self.outbox.due(time.time() if now is None else now):
            rule = self.rules.get(alert.rule)
            at = time.time() if now is None else now
            error = None
            if rule is None:
                error = f"rule {alert.rule!r} no longer exists"
            else:
                try:
                    send(rule, alert, self.settings)
                except (OSError, smtplib.SMTPException, urllib.error.URLError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
            if error is None:
                delivered += 1
                self.outbox.record_attempt(alert.id, error=None, now=at, next_at=None)
                continue
            retry_at = at + self.backoff(alert.attempts + 1)
            gave_up = rule is None or retry_at - alert.created > self.settings.give_up_after_seconds
            log.warning("alert %s to rule %s failed (attempt %d): %s", alert.id, alert.rule,
                        alert.attempts + 1, error)
            self.outbox.record_attempt(alert.id, error=error, now=at,
                                       next_at=None if gave_up else retry_at)
        return delivered
