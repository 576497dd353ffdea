"""The shapes of the API's answers, for its OpenAPI document.

The routes build their answers as plain dicts (the issue list and the status report come from the
platform, which does not import pydantic models of the server). These models say what those dicts
hold; a test validates real answers against the document, so the two cannot drift apart. Objects
allow more fields than they name: a client must ignore fields it does not know.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertList", "AlertRuleList", "ErrorAnswer", "FeedbackAccepted", "Health", "IssueDetail",
    "IssueEvents", "IssuePage", "KeyCreated", "KeyList", "Named", "Prediction", "ReportAccepted",
    "SentryAccepted", "Stats", "StatusChange", "Suggestions",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Open):
    code: str = Field(description="validation_error, not_found, unauthorized, ...")
    message: str
    field: str | None = Field(None, description="the offending field, when there is one")


class ErrorAnswer(_Open):
    """Every refusal and failure: 4xx and 5xx."""

    error: ErrorDetail


class ReportAccepted(_Open):
    accepted: int = Field(description="records stored (fsynced before this answer)")
    ids: list[str]
    issues: list[str | None] = Field(description="the issue of ids[i]")
    duplicates: int


class Label(_Open):
    label: str
    confidence: float


class Novelty(_Open):
    score: float = Field(description="cosine distance to the nearest known error group")
    is_novel: bool
    threshold: float
    nearest_fingerprint: str | None = None


class FixFeedback(_Open):
    worked: int
    failed: int
    notes: list[Any] = Field(description="notes of 'did not work' feedback on this fix")


class Similar(_Open):
    error: str
    similarity: float | None = Field(description="null for an error a user confirmed it fixed")
    source: str


class Suggestion(_Open):
    id: str
    title: str | None
    solution: str
    url: str | None
    source: str
    author: str | None
    license: str | None
    score: float = Field(ge=0, le=1, description="the ranking sum placed in [0, 1]")
    score_parts: dict[str, float] = Field(description="similarity, lexical and feedback")
    feedback: FixFeedback
    why: list[Similar] = Field(description="the similar errors behind this fix")


class Suggestions(_Open):
    model_version: str
    suggestions: list[Suggestion]
    truncated: list[str] | None = Field(None, description="query fields cut to their limit")


class Prediction(Suggestions):
    prediction_id: str
    fingerprint: str
    issue: str | None = Field(description="the issue it has, or would join; null for none")
    error_type: str | None
    category: Label
    severity: Label
    novelty: Novelty


class FeedbackAccepted(_Open):
    accepted: int
    id: str = Field(description="the stored feedback record")


class IssueSummary(_Open):
    issue: str
    count: int
    first_seen: str | None
    last_seen: str | None
    error_type: str | None
    message: str | None
    fingerprints: list[str]
    services: list[str]
    environments: list[str]
    spark: list[int] = Field(description="events in each of the last 24 hours, oldest first")
    status: str
    recent: int = Field(description="events in the last 24 hours")


class IssuePage(_Open):
    issues: list[IssueSummary]
    total: int
    tabs: dict[str, int] = Field(description="how many matching issues each status tab holds")
    offset: int
    limit: int


class IssueDetail(_Open):
    issue: str
    merged_from: str | None
    count: int
    first_seen: str | None
    last_seen: str | None
    fingerprints: list[str]
    services: list[str]
    hosts: list[str]
    environments: list[str]
    hourly: dict[str, int]
    status: dict[str, Any] = Field(description="status, since, by, release, until, events")
    spikes: list[dict[str, Any]]
    history: list[dict[str, Any]]


class IssueEvents(_Open):
    issue: str
    events: list[dict[str, Any]] = Field(description="newest first, with frames and tags")


class StatusChange(_Open):
    """One line of the issue log: a status change, merge or split."""

    op: str
    issue: str
    by: str
    at: str


class AlertRuleList(_Open):
    rules: list[dict[str, Any]] = Field(description="each rule with 'from': config or api")


class AlertList(_Open):
    summary: dict[str, int] = Field(
        description="pending, delivered, failed, held_duplicate, held_rate")
    alerts: list[dict[str, Any]]


class KeyEntry(_Open):
    name: str
    scopes: list[str]
    rate_limit_per_minute: int | None
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None = Field(None, description="the latest use any replica noted, "
                                     "to the minute")


class KeyList(_Open):
    keys: list[KeyEntry]


class KeyCreated(KeyEntry):
    key: str = Field(description="the key itself, shown in this answer only")


class Named(_Open):
    """What a removal removed: ``removed`` (a rule) or ``revoked`` (a key)."""


class SentryAccepted(_Open):
    id: str | None = Field(None, description="the first stored event; absent when none was")


class Health(_Open):
    status: str
    ready: bool
    model_version: str | None


class Stats(_Open):
    """What ``erroracle status --json`` says, plus what this server holds and serves."""

    data_root: str
    lake: dict[str, Any]
    source: str
    errors: dict[str, Any] = Field(description="total, by_service, by_environment")
    issues: list[IssueSummary] = Field(description="top issues by events in the last 24 h")
    champion: dict[str, Any] | None
    models: list[dict[str, Any]]
    rounds: list[dict[str, Any]]
    feedback: dict[str, int]
    running: dict[str, Any] | None = Field(description="the round in progress, if any")
    next_round_at: str | None
    next_training_at: str | None
    serving: dict[str, Any]
    cache: dict[str, int]
    alerts: dict[str, int]
