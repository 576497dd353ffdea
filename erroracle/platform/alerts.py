"""Turning what happened into alerts in the outbox: issues a batch opened or reopened, errors
more novel than the model's threshold, and spikes of a service's errors.

The ingress calls :meth:`Alerts.after_append` after each stored batch and
:meth:`Alerts.novel` after a prediction; the ``alerts`` deployment calls :meth:`Alerts.spikes`
once a minute. Each match of a rule is one ``Outbox.enqueue``, which deduplicates and rates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from erroracle.platform.alert_rules import RuleBook
from erroracle.platform.config import Config
from erroracle.platform.lake_reader import open_reader
from erroracle.platform.outbox import Outbox
from erroracle.platform.records import ErrorRecord
from erroracle.platform.store import AppendResult, ErrorReader

__all__ = ["Alerts"]

_SPIKE_FRESH = timedelta(minutes=5)


class Alerts:
    """The rules and the outbox of one installation."""

    def __init__(self, config: Config) -> None:
        settings = config.alerts
        self.rules = RuleBook(config.data_root, settings.rules)
        self.outbox = Outbox(open_reader(config).log_dir("alerts"),
                             dedupe_seconds=settings.dedupe_seconds)
        self.link = (settings.dashboard_url or f"http://{config.serve.host}:{config.serve.port}"
                     ).rstrip("/")

    def _facts(self, issue: str, record: ErrorRecord) -> dict[str, Any]:
        return {"issue": issue, "error_type": record.error_type, "message": record.message[:500],
                "service": record.service, "environment": record.environment,
                "level": record.level, "release": record.release,
                "url": f"{self.link}/ui/issues/{issue}"}

    def _raise(self, event: str, key: str, facts: dict[str, Any]) -> list[str]:
        matching = self.rules.matching(event, service=facts.get("service"),
                                       environment=facts.get("environment"),
                                       level=facts.get("level"))
        made = [self.outbox.enqueue(rule, event, key, facts) for rule in matching]
        return [alert for alert in made if alert]

    def after_append(self, records: Sequence[ErrorRecord], result: AppendResult) -> list[str]:
        """Alerts for the issues this batch opened and reopened; returns their ids."""
        if not (result.opened or result.reopened):
            return []
        first: dict[str, ErrorRecord] = {}
        for record in records:
            issue = result.issues.get(record.fingerprint or "")
            if issue and record.source == "app":
                first.setdefault(issue, record)
        made = []
        for issue in result.opened:
            if issue in first:
                made += self._raise("new_issue", issue, self._facts(issue, first[issue]))
        for entry in result.reopened:
            issue = entry["issue"]
            if entry["status"] == "regressed" and issue in first:
                made += self._raise("regression", f"{issue}@{entry['at']}",
                                    {**self._facts(issue, first[issue]), "was": entry["was"]})
        return made

    def novel(self, issue: str | None, record: ErrorRecord, novelty: dict[str, Any]) -> list[str]:
        """An alert when a predicted error lies further from every known group than the
        model's threshold."""
        if not novelty.get("is_novel"):
            return []
        facts = {**self._facts(issue or record.fingerprint or "", record),
                 "novelty": novelty.get("score"), "threshold": novelty.get("threshold")}
        return self._raise("novelty", record.fingerprint or record.message[:100], facts)

    def spikes(self, reader: ErrorReader, now: datetime | None = None) -> list[str]:
        """Alerts for each service whose errors are in a spike that is still going on."""
        if not any("spike" in rule.events for rule in self.rules.rules()):
            return []
        now = now or datetime.now(UTC)
        services = reader.read_table(sources=["app"], columns=["service"])["service"]
        made = []
        for service in sorted({name for name in services.to_pylist() if name}):
            for spike in reader.spikes(service=service):
                if spike.end >= now - _SPIKE_FRESH:
                    made += self._raise("spike", f"{service}@{spike.start.isoformat()}", {
                        "service": service, "start": spike.start.isoformat(),
                        "peak": spike.peak, "expected": round(spike.expected, 1),
                        "url": f"{self.link}/ui/?service={service}&sort=last_seen",
                        "checked_at": time.time()})
        return made
