"""The OpenAPI document: what each route takes, answers and refuses, and how it authenticates.

The routes read their bodies raw (to enforce size, depth and encoding limits before parsing), so
FastAPI cannot see their schemas. This module declares them once per route, from the same
pydantic models the routes validate with (:mod:`erroracle.serve.schemas`) and the answer models
(:mod:`erroracle.serve.answers`), and merges them into the document FastAPI generates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from erroracle.platform.alert_rules import AlertRule
from erroracle.platform.records import ErrorRecord
from erroracle.serve import answers, schemas

__all__ = ["ROUTES", "RouteDoc", "document"]

_REF = "#/components/schemas/{model}"
_REASONS = {
    400: "invalid JSON, or a body that is not UTF-8", 401: "no key, or an unknown key",
    403: "the key lacks the route's scope", 404: "no such issue, rule, key or error",
    409: "a conflicting change (merging an issue into itself)",
    413: "the body, the batch or its inflated size is over the limit",
    415: "an unknown Content-Encoding", 422: "a field is invalid; `field` names it",
    429: "over the key's rate limit (see Retry-After)", 503: "no model is loaded yet",
}
_WRITE = (400, 401, 403, 413, 415, 422, 429)


def _param(name: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": kind, **schema}}


_LIMIT = _param("limit", "integer", "how many to return", minimum=1, maximum=1000)
_SOURCE = ("app", "stackoverflow", "reddit", "github", "knowledge", "all")


@dataclass(frozen=True)
class RouteDoc:
    """One route: its scope (None: no key), body, query parameters, answer and refusals."""

    scope: str | None
    answer: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | str | None = None
    query: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = (401, 403, 429)


_SUGGEST_QUERY = [
    {**_param("error_message", "string", "the error; one longer than 8,192 characters is cut, "
              "and the answer says so under `truncated`", minLength=1), "required": True},
    _param("error_type", "string", "the exception type, when known", maxLength=256),
    _param("domain", "string", "prefer fixes from this domain", maxLength=64),
    _param("top_k", "integer", "how many fixes", minimum=1, maximum=schemas.MAX_TOP_K,
           default=3),
]
_ISSUE_QUERY = [
    _param("status", "string", "a tab", default="unresolved",
           enum=["unresolved", "regressed", "resolved", "ignored", "all"]),
    _param("q", "string", "text searched in the message, the type and the id"),
    _param("type", "string", "the error type"),
    _param("service", "string", "the service"),
    _param("environment", "string", "the environment"),
    _param("source", "string", "whose errors", default="app", enum=list(_SOURCE)),
    _param("sort", "string", "the order", default="count",
           enum=["count", "recent", "last_seen", "first_seen"]),
    _LIMIT, _param("offset", "integer", "how many to skip", minimum=0),
]
_L = "/api/v1/learning"
_I = "/api/v1/issues/{issue}"
ROUTES: dict[tuple[str, str], RouteDoc] = {
    ("post", f"{_L}/errors"): RouteDoc("ingest", answers.ReportAccepted, 202,
                                       schemas.ReportRequest, errors=_WRITE),
    ("post", f"{_L}/predict"): RouteDoc("read", answers.Prediction,
                                        body=schemas.PredictRequest, errors=(*_WRITE, 503)),
    ("get", f"{_L}/suggest-fix"): RouteDoc("read", answers.Suggestions, query=_SUGGEST_QUERY,
                                           errors=(401, 403, 422, 429, 503)),
    ("post", f"{_L}/feedback"): RouteDoc("feedback", answers.FeedbackAccepted, 202,
                                         schemas.FeedbackRequest, errors=(*_WRITE, 404)),
    ("get", f"{_L}/stats"): RouteDoc("read", answers.Stats, query=[_param(
        "source", "string", "whose errors", default="app", enum=list(_SOURCE))],
        errors=(401, 403, 422, 429)),
    ("get", "/api/v1/issues"): RouteDoc("read", answers.IssuePage, query=_ISSUE_QUERY,
                                        errors=(401, 403, 422, 429)),
    ("get", _I): RouteDoc("read", answers.IssueDetail, errors=(401, 403, 404, 429)),
    ("patch", _I): RouteDoc("admin", answers.StatusChange, body=schemas.StatusRequest,
                            errors=(*_WRITE, 404)),
    ("get", f"{_I}/events"): RouteDoc("read", answers.IssueEvents, query=[_LIMIT],
                                      errors=(401, 403, 404, 422, 429)),
    ("post", f"{_I}/merge"): RouteDoc("admin", answers.StatusChange,
                                      body=schemas.MergeRequest, errors=(*_WRITE, 404, 409)),
    ("post", f"{_I}/split"): RouteDoc("admin", answers.StatusChange,
                                      body=schemas.SplitRequest, errors=(*_WRITE, 404)),
    ("get", "/api/v1/alerts/rules"): RouteDoc("admin", answers.AlertRuleList),
    ("put", "/api/v1/alerts/rules/{name}"): RouteDoc("admin", AlertRule, body="alert-rule",
                                                     errors=_WRITE),
    ("delete", "/api/v1/alerts/rules/{name}"): RouteDoc("admin", answers.Named,
                                                        errors=(401, 403, 404, 429)),
    ("get", "/api/v1/alerts"): RouteDoc("admin", answers.AlertList, query=[_LIMIT],
                                        errors=(401, 403, 422, 429)),
    ("get", "/api/v1/keys"): RouteDoc("admin", answers.KeyList),
    ("post", "/api/v1/keys"): RouteDoc("admin", answers.KeyCreated, 201, "key", errors=_WRITE),
    ("delete", "/api/v1/keys/{name}"): RouteDoc("admin", answers.Named,
                                                errors=(401, 403, 404, 429)),
    ("post", "/api/{project_id}/envelope/"): RouteDoc("sentry", answers.SentryAccepted,
                                                      body="envelope", errors=_WRITE),
    ("post", "/api/{project_id}/store/"): RouteDoc("sentry", answers.SentryAccepted,
                                                   body="event", errors=_WRITE),
    ("get", "/healthz"): RouteDoc(None, answers.Health, errors=()),
    ("get", "/metrics"): RouteDoc("read", None),
}


def _schemas() -> dict[str, Any]:
    """Every model's schema under components, requests as validated, answers as sent."""
    from erroracle.serve.key_routes import KeyRequest

    requests = [schemas.FeedbackRequest, schemas.MergeRequest, schemas.PredictRequest,
                schemas.ReportRequest, schemas.SplitRequest, schemas.StatusRequest, KeyRequest,
                AlertRule, ErrorRecord]
    replies = {doc.answer for doc in ROUTES.values() if doc.answer} | {answers.ErrorAnswer}
    pairs = [(m, "validation") for m in requests] + [
        (m, "serialization") for m in sorted(replies - set(requests), key=lambda m: m.__name__)]
    _, found = models_json_schema(pairs, ref_template=_REF)
    defs = found["$defs"]
    defs["ReportedError"] = _reported_error(defs.pop("ErrorRecord"))
    defs["ReportRequest"]["properties"]["errors"]["items"] = {"$ref": _REF.format(
        model="ReportedError")}
    rule = {**defs["AlertRule"], "title": "AlertRuleBody"}
    rule["properties"] = {k: v for k, v in rule["properties"].items() if k != "name"}
    rule["required"] = [k for k in rule.get("required", []) if k != "name"]
    defs["AlertRuleBody"] = rule
    return defs


def _reported_error(record: dict[str, Any]) -> dict[str, Any]:
    """A lake record as an app reports it: the API's names, without the server's fields."""
    rename = {"message": "error_message", "id": "error_id"}
    properties = {rename.get(k, k): v for k, v in record["properties"].items()
                  if k not in ("received_at", "truncated")}
    properties["source"] = {"const": "app", "default": "app"}
    return {"title": "ReportedError", "type": "object", "properties": properties,
            "additionalProperties": False,
            "description": "An error an app reports; `message` and `id` are accepted as "
                           "`error_message` and `error_id`."}


def _body(body: type[BaseModel] | str) -> dict[str, Any]:
    if body == "envelope":
        content = {"application/x-sentry-envelope": {"schema": {"type": "string"}}}
    elif body == "event":
        content = {"application/json": {"schema": {"type": "object",
                                                   "description": "a Sentry event"}}}
    else:
        name = {"alert-rule": "AlertRuleBody", "key": "KeyRequest"}.get(body) or body.__name__
        content = {"application/json": {"schema": {"$ref": _REF.format(model=name)}}}
    return {"required": True, "content": content}


def _apply(operation: dict[str, Any], doc: RouteDoc) -> None:
    if doc.body is not None:
        operation["requestBody"] = _body(doc.body)
    if doc.query:
        path_params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        operation["parameters"] = path_params + doc.query
    if doc.answer is None:
        answer = {"description": "Prometheus text", "content": {"text/plain": {
            "schema": {"type": "string"}}}}
    else:
        answer = {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=doc.answer.__name__)}}}}
    error = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorAnswer")}}}
    operation["responses"] = {str(doc.status): answer, **{
        str(code): {"description": _REASONS[code], "content": error} for code in doc.errors}}
    operation["security"] = [] if doc.scope is None else [
        {"sentry": []} if doc.scope == "sentry" else {"bearer": [doc.scope]}]


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, made once and kept."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description,
                       routes=app.routes)
    for (method, path), doc in ROUTES.items():
        _apply(spec["paths"][path][method], doc)
    spec["components"] = {"schemas": _schemas(), "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an erroracle API key; "
                   "the scope each route needs is named in its security requirement"},
        "sentry": {"type": "apiKey", "in": "header", "name": "X-Sentry-Auth",
                   "description": "a Sentry DSN's public key (`sentry_key=`), scope ingest"},
    }}
    app.openapi_schema = spec
    return spec
