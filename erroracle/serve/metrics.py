"""Prometheus metrics of one ingress replica (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

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
        self.model_version = Gauge("erroracle_model_version", "The model version serving (1)",
                                   ["version"], registry=r)
        self._version: str | None = None

    def serving(self, version: str | None) -> None:
        if version and version != self._version:
            if self._version:
                self.model_version.remove(self._version)
            self.model_version.labels(version).set(1)
            self._version = version

    def render(self) -> bytes:
        return generate_latest(self.registry)
