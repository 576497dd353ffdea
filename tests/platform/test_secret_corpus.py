"""Secrets in their vendors' documented formats and look-alikes, inside realistic messages
(tests/platform/corpora/secret_corpus.py): the server stores no secret and changes no look-alike;
the client's standard-library scrubber does the same for sensitive names and headers."""

from __future__ import annotations

from erroracle.client.scrubber import scrub_text
from erroracle.platform.prepare import RecordPreparer
from tests.platform.corpora import secret_holdout
from tests.platform.corpora.secret_corpus import NAMED, VENDORS, cases
from tests.platform.corpora.secret_scoring import score, stored_text


def test_the_corpus_is_large_enough() -> None:
    found = cases()
    assert sum(c["group"] == "secret" for c in found) >= 150
    assert sum(c["group"] == "look-alike" for c in found) >= 80
    assert len(VENDORS) >= 40


def test_ingest_stores_no_secret_and_keeps_every_look_alike() -> None:
    result = score(cases(), stored_text(RecordPreparer()))
    print({group: figures["kinds"] for group, figures in result["groups"].items()})
    assert result["missed"] == []


def test_the_client_masks_sensitive_names_and_keeps_every_look_alike() -> None:
    named = [c for c in cases() if c["group"] == "look-alike" or c["kind"] in NAMED]
    result = score(named, scrub_text)
    assert result["missed"] == []


def test_the_hold_out_is_scrubbed_as_well() -> None:
    assert score(secret_holdout.cases(), stored_text(RecordPreparer()))["missed"] == []
