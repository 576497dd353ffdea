"""The one record schema shared by every source, and the Arrow schema derived from it.

Oversized text is never rejected: it is truncated by one rule, :func:`truncate_text`, which keeps
the first two thirds and the last third of the allowed length (an error's message starts with what
matters, a traceback ends with it) joined by a marker that says how many characters were cut. The
names of truncated fields are listed in ``truncated`` so nothing is lost silently.
"""

from __future__ import annotations

import json
import types
import typing
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

import pyarrow as pa
import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from erroracle.errors import ValidationError

__all__ = [
    "ARROW_SCHEMA",
    "FIELD_LIMITS",
    "SOURCES",
    "ErrorRecord",
    "Frame",
    "new_id",
    "parse_json_object",
    "parse_record",
    "records_to_table",
    "truncate_text",
    "validation_error",
]

SOURCES = ("app", "stackoverflow", "reddit", "github", "knowledge", "feedback")
Source = Literal["app", "stackoverflow", "reddit", "github", "knowledge", "feedback"]
MAX_ID_LENGTH = 128
MAX_FRAMES = 200
MAX_TAGS = 50

#: Maximum characters kept per text field; see :func:`truncate_text`.
FIELD_LIMITS: dict[str, int] = {
    "message": 8_192,
    "stack_trace": 65_536,
    "title": 1_024,
    "body": 32_768,
    "solution": 32_768,
    "error_type": 256,
    "source_id": 512,
    "url": 2_048,
    "author_url": 2_048,
    "service": 256,
    "environment": 256,
    "release": 256,
    "host": 256,
    "author": 256,
    "license": 128,
    "level": 32,
    "fingerprint": 128,
    "category": 64,
    "severity": 64,
}
TAG_LIMIT = 128


def new_id() -> str:
    """A fresh record id for producers that have none of their own."""
    return uuid.uuid4().hex


def truncate_text(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, keeping its head and its tail."""
    if len(text) <= limit:
        return text
    marker = f"\n…[truncated {len(text) - limit} chars]…\n"
    room = max(limit - len(marker), 0)
    head = room * 2 // 3
    tail = room - head
    return text[:head] + marker + (text[-tail:] if tail else "")


class Frame(BaseModel):
    """One stack frame; ``in_app`` tells the app's own code from libraries."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    function: str | None = None
    line: int | None = None
    module: str | None = None
    in_app: bool | None = None


class ErrorRecord(BaseModel):
    """One error from any source, after scrubbing (see shared/design.md, Records)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    id: str = Field(default_factory=new_id)
    source: Source = "app"
    source_id: str | None = None
    url: str | None = None
    received_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    occurred_at: datetime | None = None
    service: str | None = None
    environment: str | None = None
    release: str | None = None
    host: str | None = None
    error_type: str | None = None
    message: str = ""
    stack_trace: str | None = None
    frames: list[Frame] = Field(default_factory=list)
    title: str | None = None
    body: str | None = None
    solution: str | None = None
    tags: list[str] = Field(default_factory=list)
    score: int | None = None
    author: str | None = None
    author_url: str | None = None
    license: str | None = None
    level: str | None = None
    fingerprint: str | None = None
    category: str | None = None
    severity: str | None = None
    truncated: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not value or len(value) > MAX_ID_LENGTH:
            raise ValueError(f"must be 1 to {MAX_ID_LENGTH} characters")
        if not value.isprintable():
            raise ValueError("must contain printable characters only")
        return value

    @field_validator("received_at", "occurred_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @field_validator("frames", mode="before")
    @classmethod
    def _cap_frames(cls, value: Any) -> Any:
        # Keep the outermost and innermost frames: the middle of a deep recursion says little.
        if isinstance(value, list) and len(value) > MAX_FRAMES:
            half = MAX_FRAMES // 2
            return value[:half] + value[-half:]
        return value

    @field_validator("tags")
    @classmethod
    def _cap_tags(cls, value: list[str]) -> list[str]:
        return [tag[:TAG_LIMIT] for tag in value[:MAX_TAGS]]

    def model_post_init(self, __context: Any) -> None:
        cut = []
        for name, limit in FIELD_LIMITS.items():
            text = getattr(self, name)
            if text is not None and len(text) > limit:
                object.__setattr__(self, name, truncate_text(text, limit))
                cut.append(name)
        if cut:
            object.__setattr__(self, "truncated", sorted(set(self.truncated) | set(cut)))

    def to_row(self) -> dict[str, Any]:
        """A plain dict in the Arrow schema's field order."""
        return self.model_dump()


def validation_error(exc: pydantic.ValidationError) -> ValidationError:
    """pydantic's first complaint as a :class:`ValidationError` naming the dotted field."""
    err = exc.errors()[0]
    field = ".".join(str(part) for part in err["loc"]) or None
    message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ValidationError(message, field=field)


def parse_json_object(text: str) -> dict[str, Any]:
    """Decode one JSON object (a JSON Lines line or a request body) with a precise error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"expected a JSON object, got {type(data).__name__}")
    return data


def parse_record(data: Mapping[str, Any] | ErrorRecord) -> ErrorRecord:
    """Validate one record, raising :class:`ValidationError` that names the field."""
    if isinstance(data, ErrorRecord):
        return data
    if not isinstance(data, Mapping):
        raise ValidationError(f"a record must be an object, got {type(data).__name__}")
    try:
        return ErrorRecord.model_validate(data)
    except pydantic.ValidationError as exc:
        raise validation_error(exc) from exc


_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _arrow_type(inner)
    if origin is Literal:
        return pa.string()
    if origin is list:
        return pa.list_(_arrow_type(typing.get_args(annotation)[0]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(
            [(name, _arrow_type(f.annotation)) for name, f in annotation.model_fields.items()]
        )
    return _SCALARS[annotation]


def _derive_schema(model: type[BaseModel]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, _arrow_type(f.annotation)) for name, f in model.model_fields.items()]
    )


#: The Arrow schema of the lake, derived from :class:`ErrorRecord` (one place, never by hand).
ARROW_SCHEMA: pa.Schema = _derive_schema(ErrorRecord)


def records_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (``ErrorRecord.to_row()`` dicts) as a table in :data:`ARROW_SCHEMA`."""
    return pa.Table.from_pylist(list(rows), schema=ARROW_SCHEMA)
