"""Alert rules: what to tell whom, and the ``alerts`` section of the config.

A rule names the events it wants (a new issue, a regression, a spike, an error more novel than
the model's threshold), optional filters (service, environment, lowest level), where to deliver
(a generic JSON webhook, a Slack-compatible webhook, or email) and how many alerts an hour it may
send. Rules come from the config file and from the admin API; the API's are kept in
``<data_root>/state/alert_rules.json`` and a rule there replaces a config rule of its name.

Example:
    >>> rule = AlertRule(name="pager", events=["regression"], channel="webhook",
    ...                  url="https://hooks.example.com/erroracle")
    >>> rule.wants("regression", service="api", environment="prod", level="error")
    True
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from erroracle.errors import UnprocessableError
from erroracle.platform.state_files import StateFiles

__all__ = ["EVENTS", "AlertRule", "AlertsConfig", "RuleBook", "SmtpConfig", "check_destination"]

EVENTS = ("new_issue", "regression", "spike", "novelty")
LEVELS = ("debug", "info", "warning", "error", "fatal")
_RULES_FILE = "alert_rules.json"
_RELOAD = 2.0


class AlertRule(BaseModel):
    """One rule; ``url`` for webhooks, ``to`` for email."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    events: list[Literal["new_issue", "regression", "spike", "novelty"]] = Field(min_length=1)
    channel: Literal["webhook", "slack", "email"]
    url: str | None = Field(None, max_length=2048)
    to: list[str] = Field(default_factory=list, max_length=20)
    service: str | None = None
    environment: str | None = None
    min_level: Literal["debug", "info", "warning", "error", "fatal"] | None = None
    per_hour: int = Field(20, ge=1, le=10_000, description="at most this many alerts an hour")

    @model_validator(mode="after")
    def _has_a_destination(self) -> AlertRule:
        if self.channel == "email":
            if not self.to or not all("@" in address for address in self.to):
                raise ValueError("an email rule needs 'to': one or more addresses")
        elif not self.url:
            raise ValueError(f"a {self.channel} rule needs a 'url'")
        return self

    def wants(self, event: str, *, service: str | None, environment: str | None,
              level: str | None) -> bool:
        if event not in self.events:
            return False
        if self.service and service != self.service:
            return False
        if self.environment and environment != self.environment:
            return False
        if self.min_level and event != "spike":
            rank = LEVELS.index(level) if level in LEVELS else LEVELS.index("error")
            return rank >= LEVELS.index(self.min_level)
        return True


class SmtpConfig(BaseModel):
    """The mail server email rules deliver through."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    sender: str = "erroracle@localhost"
    starttls: bool = False
    username: str | None = None
    password_env: str = "ERRORACLE_SMTP_PASSWORD"


class AlertsConfig(BaseModel):
    """Rules, the mail server, and how deliveries are retried and deduplicated."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule] = Field(default_factory=list)
    dashboard_url: str | None = Field(None, description="the dashboard's address in alerts "
                                      "(default: the serve host and port)")
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    poll_seconds: float = Field(2.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    first_retry_seconds: float = Field(5.0, gt=0)
    max_retry_seconds: float = Field(900.0, gt=0)
    give_up_after_seconds: float = Field(86_400.0, gt=0)
    dedupe_seconds: float = Field(3600.0, ge=0,
                                  description="one alert per rule, event and issue this long")


def check_destination(rule: AlertRule, own_host: str, own_port: int) -> None:
    """Refuse a webhook that is not http(s) or that points at this server itself (an alert
    would be posted to the server that sent it).

    Raises:
        UnprocessableError: naming ``url``.
    """
    if rule.channel == "email":
        return
    parts = urlsplit(rule.url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnprocessableError("must be an http:// or https:// URL", field="url")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port == own_port and _same_machine(parts.hostname, own_host):
        raise UnprocessableError("points at this erroracle server itself", field="url")


def _same_machine(host: str, own_host: str) -> bool:
    if host in ("localhost", own_host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified or (
        own_host in ("0.0.0.0", "::") and address.is_private)


class RuleBook:
    """The rules in force: the config's, replaced or extended by the API's."""

    def __init__(self, data_root: str, configured: list[AlertRule]) -> None:
        self._state = StateFiles(data_root, "state")
        self._configured = list(configured)
        self._cached: tuple[float, list[AlertRule]] | None = None

    def _stored(self) -> dict[str, AlertRule]:
        stored = self._state.read(_RULES_FILE) or {}
        return {name: AlertRule.model_validate(rule) for name, rule in stored.items()}

    def api_names(self) -> set[str]:
        return set(self._stored())

    def rules(self) -> list[AlertRule]:
        """The rules, read again at most every ``_RELOAD`` seconds (every record that is
        stored asks)."""
        if self._cached is None or time.monotonic() - self._cached[0] > _RELOAD:
            rules = {rule.name: rule for rule in self._configured}
            rules.update(self._stored())
            self._cached = (time.monotonic(),
                            sorted(rules.values(), key=lambda rule: rule.name))
        return self._cached[1]

    def get(self, name: str) -> AlertRule | None:
        return next((rule for rule in self.rules() if rule.name == name), None)

    def put(self, rule: AlertRule) -> None:
        stored = {name: one.model_dump() for name, one in self._stored().items()}
        stored[rule.name] = rule.model_dump()
        self._state.write(_RULES_FILE, stored)
        self._cached = None

    def remove(self, name: str) -> bool:
        """Forget an API rule; False when there is none of that name (config rules stay)."""
        stored = {name: one.model_dump() for name, one in self._stored().items()}
        if stored.pop(name, None) is None:
            return False
        self._state.write(_RULES_FILE, stored)
        self._cached = None
        return True

    def matching(self, event: str, **where: Any) -> list[AlertRule]:
        return [rule for rule in self.rules() if rule.wants(event, **where)]
