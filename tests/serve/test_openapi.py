"""The OpenAPI document is valid OpenAPI 3.1 and says what every route takes, answers, refuses
and needs; the end-to-end check of real answers against it is in tests/integration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from erroracle.serve import ingress  # noqa: F401 - registers the routes on the app
from erroracle.serve.api import api

README = Path(__file__).resolve().parents[2] / "README.md"
BODIES = {  # routes that read a body, and the schema it must have
    ("post", "/api/v1/learning/errors"): "ReportRequest",
    ("post", "/api/v1/learning/predict"): "PredictRequest",
    ("post", "/api/v1/learning/feedback"): "FeedbackRequest",
    ("patch", "/api/v1/issues/{issue}"): "StatusRequest",
    ("post", "/api/v1/issues/{issue}/merge"): "MergeRequest",
    ("post", "/api/v1/issues/{issue}/split"): "SplitRequest",
    ("put", "/api/v1/alerts/rules/{name}"): "AlertRuleBody",
    ("post", "/api/v1/keys"): "KeyRequest",
}


@pytest.fixture(scope="module")
def spec() -> dict:
    return api.openapi()


def _operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_the_document_is_valid_openapi(spec):
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema or a dangling $ref
    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}


def test_every_route_has_schemas_for_its_body_answer_and_errors(spec):
    for method, path, operation in _operations(spec):
        answers = operation["responses"]
        ok = next(code for code in answers if code.startswith("2"))
        assert answers[ok]["content"], (method, path)
        for code, answer in answers.items():
            if code.startswith(("4", "5")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}, (method, path)
        if (method, path) in BODIES:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/" + BODIES[method, path])
        if path == "/healthz":
            assert operation["security"] == []
        elif path.startswith("/api/v1/"):
            [requirement] = operation["security"]
            assert list(requirement) == ["bearer"] and requirement["bearer"], (method, path)
            assert {"401", "403"} <= set(answers), (method, path)


def test_suggest_fix_lists_its_query_parameters(spec):
    operation = spec["paths"]["/api/v1/learning/suggest-fix"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"error_message", "error_type", "domain", "top_k"}
    assert parameters["error_message"]["required"]
    assert parameters["top_k"]["schema"] == {**parameters["top_k"]["schema"], "minimum": 1,
                                             "maximum": 50}
    assert {"422", "503"} <= set(operation["responses"])


def test_every_route_the_readme_lists_is_documented_with_the_fields_it_shows(spec):
    listed = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?]*)", README.read_text()))
    assert len(listed) >= 20
    for method, path in listed:
        path = re.sub(r"\{(id)\}", "{issue}", re.sub(r"\{project\}", "{project_id}", path))
        assert method.lower() in spec["paths"].get(path, {}), (method, path)
    schemas = spec["components"]["schemas"]
    shown = {  # the fields the README's API table names
        "ReportAccepted": {"accepted", "ids", "issues", "duplicates"},
        "Prediction": {"prediction_id", "model_version", "fingerprint", "issue", "category",
                       "severity", "novelty", "suggestions"},
        "Suggestion": {"id", "title", "solution", "url", "source", "author", "license", "score",
                       "score_parts", "feedback", "why"},
        "IssuePage": {"issues", "total", "tabs"},
        "IssueSummary": {"issue", "count", "first_seen", "last_seen", "error_type", "message",
                         "fingerprints", "services", "environments", "status", "spark"},
        "IssueDetail": {"count", "first_seen", "last_seen", "services", "hosts", "environments",
                        "hourly", "merged_from", "status", "history"},
        "AlertList": {"summary", "alerts"},
        "KeyCreated": {"key", "name", "scopes"},
    }
    for name, fields in shown.items():
        assert fields <= set(schemas[name]["properties"]), name
