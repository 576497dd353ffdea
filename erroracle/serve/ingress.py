"""The HTTP API: a FastAPI app served by the ingress deployment (see shared/design.md, Serving).

The ingress owns what is cheap and per request: keys and rate limits, body limits, validation,
scrubbing and fingerprinting, durable writes to the lake, the prediction cache, and metrics. What
needs the model goes to the model deployment through its handle.
"""


import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from ray import serve
from starlette.concurrency import run_in_threadpool

from erroracle.errors import ErroracleError, ModelNotReady, StorageError, ValidationError
from erroracle.platform.alerts import Alerts
from erroracle.platform.config import Config
from erroracle.platform.feedback import feedback_record
from erroracle.platform.fingerprint import record_template
from erroracle.platform.issue_list import SOURCES
from erroracle.platform.lake import open_store
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.record_text import error_text
from erroracle.platform.registry import Registry, version_number
from erroracle.platform.status import status_report
from erroracle.platform.taxonomy import Taxonomy
from erroracle.serve import sentry
from erroracle.serve.alert_routes import AlertRoutes
from erroracle.serve.api import LEARNING, api, bearer, error_response, unexpected_response
from erroracle.serve.auth import ApiKey, RateLimiter
from erroracle.serve.body import check_depth, inflate, parse_json, read_limited
from erroracle.serve.cache import PredictionCache
from erroracle.serve.dashboard.routes import DashboardRoutes
from erroracle.serve.dashboard.sessions import Sessions, ensure_secret
from erroracle.serve.issue_routes import IssueRoutes
from erroracle.serve.key_file import LiveKeyRing
from erroracle.serve.key_routes import KeyRoutes
from erroracle.serve.metrics import Metrics
from erroracle.serve.problems import ApiError
from erroracle.serve.schemas import (
    FeedbackRequest,
    PredictRequest,
    ReportRequest,
    SuggestRequest,
    report_item,
    validated,
)

__all__ = ["Ingress", "api"]

log = logging.getLogger("erroracle.serve.ingress")

_RECENT_PREDICTIONS = 50_000
_STATS_TTL = 10.0
_VERSION_POLL = 1.0

def _prediction_id(fingerprint: str) -> str:
    """An id that carries the fingerprint, so feedback finds the group on any replica."""
    return f"p-{fingerprint}-{secrets.token_hex(6)}"


def _fingerprint_of(prediction_id: str) -> str:
    parts = prediction_id.split("-")
    if len(parts) != 3 or parts[0] != "p" or not parts[1]:
        raise ApiError(404, "not_found", "unknown prediction_id", field="prediction_id")
    return parts[1]


@serve.deployment(name="ingress")
@serve.ingress(api)
class Ingress(IssueRoutes, AlertRoutes, KeyRoutes, DashboardRoutes):
    """The ingress deployment. Decorated here, where ``api`` lives, so that every replica that
    imports this module gets the routes bound to the class."""

    def __init__(self, config: dict[str, Any], model: Any, alerter: Any) -> None:
        self.config = Config.model_validate(config)
        self.model = model
        self.alerter = alerter
        self.alerts = Alerts(self.config)
        self.limits = self.config.serve
        self.keys = LiveKeyRing(self.config)
        self.sessions = Sessions(ensure_secret(self.config))
        self.limiter = RateLimiter(self.limits.rate_limit_per_minute,
                                   share=1 / self.limits.ingress_replicas)
        self.prepare = RecordPreparer.for_config(self.config)
        self.taxonomy = Taxonomy.for_config(self.config)
        self.store = open_store(self.config)
        self.registry = Registry(self.config.data_root)
        self.cache = PredictionCache(self.limits.cache_size, self.limits.index_refresh_seconds)
        self.metrics = Metrics()
        self.version: str | None = None
        self._version_checked = 0.0
        self._version_poll: asyncio.Future | None = None
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._stats: dict[str, tuple[float, dict[str, Any]]] = {}
        self._predict_batch = self._batcher("predict")
        self._suggest_batch = self._batcher("suggest")

    # -- plumbing ---------------------------------------------------------------------------------

    def _authorize(self, key: str | None, scope: str) -> ApiKey:
        api_key = self.keys.authorize(key, scope)
        self.limiter.take(api_key)
        return api_key

    async def _body(self, request: Request) -> bytes:
        raw = await read_limited(request.stream(), request.headers.get("content-length"),
                                 self.limits.max_body_bytes)
        return inflate(raw, request.headers.get("content-encoding"),
                       self.limits.max_decompressed_bytes)

    async def _json(self, request: Request) -> Any:
        return parse_json(await self._body(request), self.limits.max_json_depth)

    def _batcher(self, method: str):
        """Concurrent requests become one call to the model deployment and one forward pass.
        A few batches in flight at once keep the model busy while answers travel back."""

        async def ask(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
            try:
                answers = await getattr(self.model, method).remote(payloads, self.version)
            except ModelNotReady:
                raise ApiError(503, "not_ready", "the model is still loading; retry shortly",
                               headers={"Retry-After": "5"}) from None
            self._adopt(max((answer["model_version"] for answer in answers),
                            key=version_number))
            return answers

        return serve.batch(max_batch_size=self.limits.batch_max_size,
                           batch_wait_timeout_s=self.limits.batch_wait_ms / 1000,
                           max_concurrent_batches=self.limits.batches_in_flight)(ask)

    def _adopt(self, version: str | None) -> None:
        """Follow the newest version the model answered with; the poll follows rollbacks."""
        if version_number(version) > version_number(self.version):
            self.version = version
            self.metrics.serving(version)

    def _follow_the_registry(self) -> None:
        """At most once a second, read the champion: a rollback names an older version, which
        the answers alone would never lower ``self.version`` to."""
        if time.monotonic() - self._version_checked < _VERSION_POLL:
            return
        self._version_checked = time.monotonic()
        self._version_poll = asyncio.ensure_future(self._poll_version())

    async def _poll_version(self) -> None:
        if await run_in_threadpool(self.store.deleted_since_last_look):
            # cached answers quote fixes and remembered predictions quote errors: after a
            # deletion anywhere, either may hold what was deleted
            self.cache.clear()
            self._recent.clear()
        champion = await run_in_threadpool(self.registry.champion)
        if champion and (self.version is None
                         or version_number(champion) < version_number(self.version)):
            self.version = champion
            self.metrics.serving(champion)

    def _store(self, records: list[Any], route: str) -> Any:
        try:
            result = self.store.append(records)
        except StorageError:
            log.exception("the lake refused a write")
            raise ApiError(503, "storage_unavailable", "the error lake cannot be written now; "
                           "nothing was stored, retry later", headers={"Retry-After": "5"}) \
                from None
        self.metrics.ingested.labels(route).inc(result.accepted)
        self.metrics.duplicates.labels(route).inc(result.duplicates)
        try:
            self.alerts.after_append(records, result)
        except OSError:  # the records are stored; an alert lost here is logged, not retried
            log.exception("the alert outbox refused a write")
        return result

    def _prepared(self, raw: dict[str, Any], where: str) -> Any:
        try:
            return self.prepare(raw)
        except ValidationError as exc:
            field = f"{where}.{exc.field}" if exc.field else where
            raise ApiError(422, "validation_error", exc.reason, field=field) from None

    # -- middleware-like wrapper ------------------------------------------------------------------

    async def _timed(self, route: str, handler, *args: Any, refused=error_response) -> Response:
        """Run a route's handler, answer its refusals (``refused``: JSON for the API, a page
        for the dashboard), and count and time it."""
        started = time.perf_counter()
        try:
            response = await handler(*args)
        except ApiError as exc:
            self.metrics.rejected.labels(exc.code).inc()
            response = refused(exc)
        except Exception as exc:  # noqa: BLE001 - answered as a plain 500, logged with its trace
            response = unexpected_response(route, exc)
        self.metrics.requests.labels(route, str(response.status_code)).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response

    # -- routes -----------------------------------------------------------------------------------

    @api.post(f"{LEARNING}/errors", status_code=202, tags=["learning"],
              summary="Report errors (stored durably before the answer)")
    async def report_errors(self, request: Request) -> Response:
        return await self._timed("errors", self._report_errors, request)

    async def _report_errors(self, request: Request) -> Response:
        self._authorize(bearer(request), "ingest")
        body = validated(ReportRequest, await self._json(request))
        if len(body.errors) > self.limits.max_batch_records:
            raise ApiError(413, "batch_too_large", f"{len(body.errors):,} errors in one request; "
                           f"the limit is {self.limits.max_batch_records:,}", field="errors")
        records = [self._prepared(report_item(item, i), f"errors.{i}")
                   for i, item in enumerate(body.errors)]
        result = await run_in_threadpool(self._store, records, "errors")
        if body.client is not None:
            self.metrics.count_client_drops(body.client.dropped)
        return JSONResponse(status_code=202, content={
            "accepted": result.accepted, "ids": [record.id for record in records],
            "issues": [result.issues.get(record.fingerprint) for record in records],
            "duplicates": result.duplicates,
        })

    @api.post(f"{LEARNING}/predict", tags=["learning"],
              summary="Category, severity, novelty and fixes for one error")
    async def predict(self, request: Request) -> Response:
        return await self._timed("predict", self._predict, request)

    async def _predict(self, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        body = validated(PredictRequest, await self._json(request))
        record = self._prepared({"message": body.error_message, "error_type": body.error_type,
                                 "stack_trace": body.stack_trace}, "error_message")
        self._follow_the_registry()  # before the cache: a rollback must not serve cached answers
        key = (record.fingerprint, body.top_k, body.domain)
        answer = self.cache.get(key, self.version)
        self.metrics.cache.labels("hit" if answer else "miss").inc()
        if answer is None:
            answer = await self._predict_batch({
                "text": error_text(record.model_dump()), "fingerprint": record.fingerprint,
                "top_k": body.top_k, "domain": body.domain,
            })
            self.cache.put(key, answer["model_version"], answer)
        prediction_id = _prediction_id(record.fingerprint)
        self._remember(prediction_id, record)
        self.metrics.predictions.labels(answer["category"]["label"]).inc()
        issue = self.store.issues.peek(record.fingerprint, record_template(record),
                                       record.error_type)
        if answer["novelty"]["is_novel"]:
            await run_in_threadpool(self.alerts.novel, issue, record, answer["novelty"])
        return JSONResponse({
            "prediction_id": prediction_id, "fingerprint": record.fingerprint, "issue": issue,
            "error_type": record.error_type, **answer,
        })

    def _remember(self, prediction_id: str, record: Any) -> None:
        self._recent[prediction_id] = {"fingerprint": record.fingerprint,
                                       "error_type": record.error_type, "message": record.message}
        while len(self._recent) > _RECENT_PREDICTIONS:
            self._recent.popitem(last=False)

    @api.get(f"{LEARNING}/suggest-fix", tags=["learning"],
             summary="Ranked fixes for an error, with sources and the similar errors behind them")
    async def suggest_fix(self, request: Request) -> Response:
        return await self._timed("suggest-fix", self._suggest_fix, request)

    async def _suggest_fix(self, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        query = dict(request.query_params)
        if "top_k" in query:
            try:
                query["top_k"] = int(query["top_k"])
            except ValueError:
                raise ApiError(422, "validation_error", "must be an integer",
                               field="top_k") from None
        body = validated(SuggestRequest, query)
        record = self._prepared({"message": body.error_message, "error_type": body.error_type},
                                "error_message")
        self._follow_the_registry()
        answer = await self._suggest_batch({
            "text": error_text(record.model_dump()), "top_k": body.top_k, "domain": body.domain,
        })
        if "message" in record.truncated:
            answer = {**answer, "truncated": ["error_message"]}  # cut to the record's limit
        return JSONResponse(answer)

    @api.post(f"{LEARNING}/feedback", status_code=202, tags=["learning"],
              summary="Say whether a fix worked, and correct the labels")
    async def feedback(self, request: Request) -> Response:
        return await self._timed("feedback", self._feedback, request)

    def _target(self, body: FeedbackRequest) -> tuple[str, str, dict[str, Any]]:
        if body.error_id is not None:
            found = self.store.find([body.error_id])
            if not found:
                raise ApiError(404, "not_found", "unknown error_id", field="error_id")
            return "error", body.error_id, found[0]
        remembered = self._recent.get(body.prediction_id)
        return "prediction", body.prediction_id, remembered or {
            "fingerprint": _fingerprint_of(body.prediction_id)}

    async def _feedback(self, request: Request) -> Response:
        self._authorize(bearer(request), "feedback")
        body = validated(FeedbackRequest, await self._json(request))
        stored = await self._store_feedback(body)
        return JSONResponse(status_code=202, content={"accepted": 1, "id": stored})

    async def _store_feedback(self, body: FeedbackRequest) -> str:
        """Check, store and count one piece of feedback (the API's and the dashboard's)."""
        for name, allowed in (("correct_category", self.taxonomy.categories),
                              ("correct_severity", self.taxonomy.severities)):
            value = getattr(body, name)
            if value is not None and value not in allowed:
                raise ApiError(422, "validation_error",
                               f"must be one of {', '.join(allowed)}", field=name)
        target, target_id, error = await run_in_threadpool(self._target, body)
        record = self._prepared(feedback_record(
            target=target, target_id=target_id, error=error, worked=body.solution_worked,
            suggestion_id=body.suggestion_id, category=body.correct_category,
            severity=body.correct_severity, note=body.feedback,
        ), "feedback")
        await run_in_threadpool(self._store, [record], "feedback")
        await self.model.note_feedback.remote(record.model_dump())
        return record.id

    @api.get(f"{LEARNING}/stats", tags=["learning"],
             summary="The lake, the top error groups, the model and feedback, in one answer")
    async def stats(self, request: Request) -> Response:
        return await self._timed("stats", self._stats_route, request)

    def _compute_stats(self, source: str) -> dict[str, Any]:
        report = status_report(self.config, self.store, top=10, source=source)
        report["lake"]["pending"] = self.store.pending
        return report

    async def _stats_route(self, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        source = request.query_params.get("source", "app")
        if source not in SOURCES:
            raise ApiError(422, "validation_error", f"must be one of {', '.join(SOURCES)}",
                           field="source")
        cached = self._stats.get(source)
        if cached is None or time.monotonic() - cached[0] > _STATS_TTL:
            cached = self._stats[source] = (
                time.monotonic(), await run_in_threadpool(self._compute_stats, source))
        serving = await self.model.info.remote()
        cache = {"size": len(self.cache), "hits": self.cache.hits, "misses": self.cache.misses}
        report = {**cached[1], "serving": serving, "cache": cache,
                  "alerts": await self.alerter.summary.remote()}
        return JSONResponse(jsonable_encoder(report), headers={"Cache-Control": "no-store"})

    @api.post("/api/{project_id}/envelope/", tags=["sentry"],
              summary="Sentry SDK ingest (envelopes)")
    async def sentry_envelope(self, project_id: str, request: Request) -> Response:
        return await self._timed("sentry-envelope", self._sentry, project_id, request, True)

    @api.post("/api/{project_id}/store/", tags=["sentry"],
              summary="Sentry SDK ingest (single events, older clients)")
    async def sentry_store(self, project_id: str, request: Request) -> Response:
        return await self._timed("sentry-store", self._sentry, project_id, request, False)

    async def _sentry(self, project_id: str, request: Request, envelope: bool) -> Response:
        key = sentry.sentry_key(request.headers.get("x-sentry-auth"), request.query_params)
        self._authorize(key, "ingest")
        if envelope:
            parsed = sentry.parse_envelope(await self._body(request))
            for event in parsed.events:
                check_depth(event, self.limits.max_json_depth)
        else:
            event = await self._json(request)
            if not isinstance(event, dict):
                raise ApiError(400, "invalid_event", "a Sentry event must be a JSON object")
            parsed = sentry.Envelope([event], 0)
        self.metrics.dropped.inc(parsed.ignored)
        records = [self._prepared(sentry.event_to_record(event, project_id), f"event.{i}")
                   for i, event in enumerate(parsed.events)]
        if records:
            await run_in_threadpool(self._store, records, "sentry")
        ids = [record.id for record in records]
        return JSONResponse({"id": ids[0]} if ids else {})

    @api.get("/healthz", tags=["operations"], summary="Liveness, and whether a model is loaded")
    async def healthz(self) -> Response:
        info = await self.model.info.remote()
        return JSONResponse({"status": "ok", "ready": info["ready"],
                             "model_version": info["model_version"]})

    @api.get("/metrics", tags=["operations"], summary="Prometheus metrics (scope: read)")
    async def prometheus(self, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        self.metrics.count_alerts(await self.alerter.summary.remote())
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    def __del__(self) -> None:
        """Serve calls this on a graceful shutdown: write what the log holds to Parquet."""
        try:
            self.store.close()
        except ErroracleError:
            log.exception("closing the lake failed; its log is replayed on the next start")

