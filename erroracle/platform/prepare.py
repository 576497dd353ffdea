"""Turn raw input into a stored record: scrub, parse the trace, fingerprint. Used by every ingest
path (HTTP, the ``ingest`` command, crawlers) so a record is treated the same wherever it enters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from erroracle.client.scrubber import Scrubber
from erroracle.errors import ValidationError
from erroracle.platform.fingerprint import fingerprint, record_template
from erroracle.platform.issue_assignment import assign_issues
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.records import (
    FIELD_LIMITS,
    ErrorRecord,
    parse_json_object,
    parse_record,
    truncate_text,
)
from erroracle.platform.traces import parse_trace
from erroracle.platform.vendor_secrets import VendorSecrets

__all__ = ["RecordPreparer", "describe_error", "describe_errors"]

_TEXT_FIELDS = ("message", "stack_trace", "title", "body", "solution", "url", "source_id")
#: Characters kept beyond a field's limit while scrubbing, so that no secret is cut in two.
CUT_MARGIN = 1_024


class RecordPreparer:
    """Scrub a record's text, fill type/message/frames from its trace, and fingerprint it.

    Text goes through the scrubber the client library shares (sensitive names, credentials in
    URLs and headers, emails, cards, ...) and then through gitleaks' vendor rules
    (:mod:`erroracle.platform.vendor_secrets`).

    Args:
        scrubber: the configured scrubber (built-in rules plus the config's extras).
    """

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        self.scrubber = scrubber or Scrubber()
        self.vendor_secrets = VendorSecrets.bundled()

    @classmethod
    def for_config(cls, config: Any) -> RecordPreparer:
        """The preparer with the config's extra scrubbing rules."""
        return cls(Scrubber(config.scrub.extra_keys, config.scrub.extra_patterns))

    def __call__(self, data: Mapping[str, Any] | ErrorRecord) -> ErrorRecord:
        raw = data.model_dump() if isinstance(data, ErrorRecord) else dict(data)
        for name in _TEXT_FIELDS:
            if isinstance(raw.get(name), str):
                # cut first (the record keeps no more), with a margin so that a secret across
                # the final cut is still whole when it is scrubbed: time stays bounded
                text = truncate_text(raw[name], FIELD_LIMITS[name] + CUT_MARGIN)
                # vendor rules first: they name what they find ("[Filtered:gitlab-pat]")
                raw[name] = self.scrubber.text(self.vendor_secrets.scrub(text))
        record = parse_record(raw)
        updates: dict[str, Any] = {}
        trace_text = record.stack_trace or (record.message if "\n" in record.message else "")
        if trace_text:
            parsed = parse_trace(trace_text)
            if parsed.language is not None:
                if not record.frames:
                    updates["frames"] = parsed.frames
                if not record.error_type:
                    updates["error_type"] = parsed.error_type
                if record.message in ("", trace_text):
                    updates["message"] = parsed.message
        elif not record.error_type and record.message:
            parsed = parse_trace(record.message)
            if parsed.error_type:
                updates["error_type"], updates["message"] = parsed.error_type, parsed.message
        if updates:
            record = record.model_copy(update=updates)
        if not record.fingerprint:
            record = record.model_copy(update={"fingerprint": fingerprint(record)})
        return record


def _prepared(line: str, jsonl: bool, preparer: RecordPreparer) -> ErrorRecord:
    if jsonl:
        data = parse_json_object(line)
        unknown = sorted(set(data) - {"message", "error_type", "stack_trace"})
        if unknown:
            raise ValidationError("unknown field", field=unknown[0])
    else:
        data = {"message": line}
    return preparer(data)


def _description(record: ErrorRecord) -> dict[str, Any]:
    return {"fingerprint": record.fingerprint, "template": record_template(record),
            "error_type": record.error_type}


def describe_error(line: str, *, jsonl: bool = False, preparer: RecordPreparer | None = None):
    """Fingerprint, template and error type of one input line, exactly as ingest would store it.

    Raises:
        ValidationError: when ``jsonl`` is set and the line is not a JSON object of the schema.
    """
    return _description(_prepared(line, jsonl, preparer or RecordPreparer()))


def describe_errors(
    lines: Iterable[str],
    *,
    jsonl: bool = False,
    preparer: RecordPreparer | None = None,
    batch: int = 1_000,
) -> Iterator[dict[str, Any] | ValidationError]:
    """Each line described as :func:`describe_error` does, plus its ``issue``: the whole input
    grouped exactly as ingest groups it into an empty lake (``batch`` lines to an append; 1 is
    ingest one event at a time). A line that is not valid comes out as its ValidationError.

    Issues are final only once every line is in (a later line can show that a word is a variable
    and merge two issues), so everything is yielded after the last line.
    """
    preparer = preparer or RecordPreparer()
    book = IssueBook(None)
    described: list[dict[str, Any] | ValidationError] = []
    pending: list[ErrorRecord] = []
    for line in lines:
        try:
            record = _prepared(line, jsonl, preparer)
        except ValidationError as exc:
            described.append(exc)
            continue
        pending.append(record)
        described.append(_description(record))
        if len(pending) >= batch:
            assign_issues(book, pending)
            pending.clear()
    assign_issues(book, pending)
    for item in described:
        if isinstance(item, dict):
            item["issue"] = book.issue_of(item["fingerprint"])
        yield item
