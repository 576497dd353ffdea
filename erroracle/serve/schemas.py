"""Request bodies of the HTTP API, validated strictly (a string is not a number here).

Field names follow the original API (``error_message``, ``error_id``, ``solution_worked``,
``feedback``). Reported errors are validated as lake records (:mod:`erroracle.platform.records`)
after the API's aliases are mapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from erroracle.platform.records import FIELD_LIMITS, MAX_ID_LENGTH, validation_error
from erroracle.serve.problems import ApiError

__all__ = [
    "ClientReport", "FeedbackRequest", "MergeRequest", "PredictRequest", "ReportRequest",
    "SplitRequest", "SuggestRequest", "report_item", "validated",
]

_ALIASES = {"error_message": "message", "error_id": "id"}
_SERVER_FIELDS = ("received_at", "truncated")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MergeRequest(_Strict):
    """Merge the issue named here into the issue of the path."""

    issue: str = Field(min_length=1, max_length=64)


class SplitRequest(_Strict):
    """Move this fingerprint out of the issue of the path into an issue of its own."""

    fingerprint: str = Field(min_length=1, max_length=FIELD_LIMITS["fingerprint"])


class StatusRequest(_Strict):
    """A person's status change: resolve (optionally in a release), ignore (optionally until a
    time), or reopen."""

    status: str = Field(description="unresolved, resolved or ignored")
    release: str | None = Field(default=None, max_length=FIELD_LIMITS["release"])
    until: str | None = Field(default=None, max_length=64,
                              description="ISO 8601 with its zone; ends an ignore")
    events: int | None = Field(default=None, description="ends an ignore after this many "
                               "more events")


#: The most fixes one answer ranks.
MAX_TOP_K = 50


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


class PredictRequest(_Strict):
    error_message: str = Field(min_length=1, max_length=FIELD_LIMITS["message"])
    error_type: str | None = Field(None, max_length=FIELD_LIMITS["error_type"])
    stack_trace: str | None = Field(None, max_length=FIELD_LIMITS["stack_trace"])
    domain: str | None = Field(None, max_length=64)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)

    _message = field_validator("error_message")(_not_blank)


class SuggestRequest(_Strict):
    """A query: a longer ``error_message`` than a record keeps is cut, never refused (the
    answer lists it under ``truncated``)."""

    error_message: str = Field(min_length=1)
    error_type: str | None = Field(None, max_length=FIELD_LIMITS["error_type"])
    domain: str | None = Field(None, max_length=64)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)

    _message = field_validator("error_message")(_not_blank)


class FeedbackRequest(_Strict):
    error_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LENGTH)
    prediction_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LENGTH)
    suggestion_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LENGTH)
    solution_worked: bool
    correct_category: str | None = Field(None, max_length=FIELD_LIMITS["category"])
    correct_severity: str | None = Field(None, max_length=FIELD_LIMITS["severity"])
    feedback: str | None = Field(None, max_length=4096)

    @model_validator(mode="after")
    def _one_target(self) -> FeedbackRequest:
        if (self.error_id is None) == (self.prediction_id is None):
            raise ValueError("give exactly one of error_id and prediction_id")
        return self


class ClientReport(_Strict):
    """What a client says about itself: its name and the events it dropped since its last report."""

    sdk: str | None = Field(None, max_length=64)
    dropped: dict[str, int] = Field(default_factory=dict, max_length=32)

    @model_validator(mode="after")
    def _sane_counts(self) -> ClientReport:
        for reason, count in self.dropped.items():
            if not 0 < len(reason) <= 64 or not 0 <= count <= 10**12:
                raise ValueError(f"dropped: {reason[:64]!r} needs a name of 1 to 64 characters "
                                 "and a count from 0 to 10^12")
        return self


class ReportRequest(_Strict):
    errors: list[dict[str, Any]] = Field(min_length=1)
    client: ClientReport | None = None


def validated(model: type[BaseModel], data: Any) -> Any:
    """``model`` built from ``data``, or 422 naming the first offending field."""
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise ApiError(422, "validation_error", f"expected a JSON object, got {kind}")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        error = validation_error(exc)
        raise ApiError(422, "validation_error", error.reason, field=error.field) from None


def report_item(item: Any, index: int) -> dict[str, Any]:
    """One reported error as a raw app record: API aliases mapped, server-owned fields refused."""
    where = f"errors.{index}"
    if not isinstance(item, Mapping):
        raise ApiError(422, "validation_error", "each error must be a JSON object", field=where)
    record = {}
    for key, value in item.items():
        name = _ALIASES.get(key, key)
        if name in record:
            raise ApiError(422, "validation_error", f"{key!r} repeats another field",
                           field=f"{where}.{key}")
        record[name] = value
    for name in _SERVER_FIELDS:
        if name in record:
            raise ApiError(422, "validation_error", "set by the server", field=f"{where}.{name}")
    if record.setdefault("source", "app") != "app":
        raise ApiError(422, "validation_error", "reported errors have source 'app'",
                       field=f"{where}.source")
    return record
