"""Prometheus metrics of one ingress replica (``GET /metrics``)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CLIENT_DROP_REASONS", "Metrics"]

#: Why erroracle.client drops an event (besides ``rejected_<4xx status>``).
CLIENT_DROP_REASONS = frozenset({
    "queue_full", "closed", "too_large", "network_error", "server_error", "shutdown",
    "spool_full", "spool_error",
})
_REJECTED = re.compile(r"rejected_4\d\d")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Requests and latency per route, predictions, cache, ingest and the model version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("erroracle_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=r)
        self.latency = Histogram("erroracle_request_seconds", "HTTP latency by route", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.predictions = Counter("erroracle_predictions", "Predictions by category",
                                   ["category"], registry=r)
        self.cache = Counter("erroracle_predict_cache", "Prediction cache lookups", ["result"],
                             registry=r)
        self.ingested = Counter("erroracle_ingested_records", "Records stored, by route",
                                ["route"], registry=r)
        self.duplicates = Counter("erroracle_duplicate_records",
                                  "Records already stored, by route", ["route"], registry=r)
        self.rejected = Counter("erroracle_rejected_requests", "Requests refused, by code",
                                ["code"], registry=r)
        self.dropped = Counter("erroracle_dropped_items",
                               "Sentry items accepted but not stored (not events)", registry=r)
        self.client_dropped = Counter("erroracle_client_dropped_events",
                                      "Events clients reported dropping, by reason", ["reason"],
                                      registry=r)
        self.model_version = Gauge("erroracle_model_version", "The model version serving (1)",
                                   ["version"], registry=r)
        self.alerts = Gauge("erroracle_alerts", "Alerts in the outbox by state (pending, "
                            "delivered, failed, held_duplicate, held_rate)", ["state"], registry=r)
        self._version: str | None = None

    def count_alerts(self, summary: dict[str, int]) -> None:
        for state, count in summary.items():
            self.alerts.labels(state).set(count)

    def count_client_drops(self, dropped: dict[str, int]) -> None:
        """Count what a client dropped; reasons outside the client's own set become ``other``
        (a label value per made-up reason would let one client grow the registry without end)."""
        for reason, count in dropped.items():
            known = reason in CLIENT_DROP_REASONS or _REJECTED.fullmatch(reason)
            self.client_dropped.labels(reason if known else "other").inc(count)

    def serving(self, version: str | None) -> None:
        if version and version != self._version:
            if self._version:
                self.model_version.remove(self._version)
            self.model_version.labels(version).set(1)
            self._version = version

    def render(self) -> bytes:
        return generate_latest(self.registry)
