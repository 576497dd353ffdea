"""The one exception tree of erroracle.

Every error that crosses a package boundary is one of these; third-party exceptions (pyarrow,
aiohttp, github, prawcore, yaml, pydantic) are translated with ``raise ... from exc``::

    ErroracleError
    ├── ConfigError            a config file, key or override is wrong
    ├── ValidationError        a record or argument is invalid (names the field)
    │   ├── NotFoundError      the id it names does not exist (HTTP 404)
    │   ├── ConflictError      it contradicts what is stored (HTTP 409)
    │   └── UnprocessableError it names things that do not belong together (HTTP 422)
    ├── SourceError            a crawl source failed
    │   ├── RateLimited        the source asked us to wait (``retry_after`` seconds)
    │   ├── SourceUnavailable  network failure or 5xx after retries
    │   └── SourceAuthError    credentials missing or refused
    ├── StorageError           the lake could not be read or written
    │   ├── CorruptDataError   a log or Parquet file is damaged (it is moved aside)
    │   └── CheckpointError    a model directory is missing, damaged or not safetensors
    ├── ModelNotReady          no model is registered or loadable yet
    └── TrainingError          a training or tuning run failed after its retries
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "ConflictError",
    "CorruptDataError",
    "ErroracleError",
    "ModelNotReady",
    "NotFoundError",
    "RateLimited",
    "SourceAuthError",
    "SourceError",
    "SourceUnavailable",
    "StorageError",
    "TrainingError",
    "UnprocessableError",
    "ValidationError",
]


class ErroracleError(Exception):
    """Base of every error erroracle raises on purpose."""


class ConfigError(ErroracleError):
    """A config file, key or environment override is invalid."""


class ValidationError(ErroracleError):
    """A record or argument is invalid.

    Attributes:
        field: dotted name of the offending field, when one is to blame.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class NotFoundError(ValidationError):
    """The id a request names does not exist."""


class ConflictError(ValidationError):
    """The request contradicts what is stored (merging an issue into itself)."""


class UnprocessableError(ValidationError):
    """The request names things that do not belong together (a fingerprint not in the issue)."""


class SourceError(ErroracleError):
    """A crawl source failed."""


class RateLimited(SourceError):
    """The source asked us to wait ``retry_after`` seconds before calling again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """The source could not be reached or kept failing."""


class SourceAuthError(SourceError):
    """Credentials are missing or were refused."""


class StorageError(ErroracleError):
    """The error lake could not be read or written."""


class CorruptDataError(StorageError):
    """A write-ahead log or Parquet file is damaged."""


class CheckpointError(StorageError):
    """A model or training checkpoint is missing, damaged or not safetensors (pickles refused)."""


class ModelNotReady(ErroracleError):
    """No model is registered or loadable yet."""


class TrainingError(ErroracleError):
    """A training or tuning run failed, after the retries its FailureConfig allows."""
