"""The bundled knowledge base: size, breadth, schema, and agreement with the weak rules."""

from __future__ import annotations

from collections import Counter

import pytest

from erroracle.knowledge import knowledge_records, load_entries
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.store import InMemoryErrorStore
from erroracle.platform.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def entries():
    return load_entries()


def test_at_least_300_distinct_entries(entries):
    assert len(entries) >= 300
    assert len({entry.id for entry in entries}) == len(entries)


def test_covers_the_ecosystems_and_every_category(entries):
    assert {e.ecosystem for e in entries} >= {
        "python",
        "javascript",
        "jvm_dotnet_go",
        "infrastructure",
    }
    categories = Counter(e.category for e in entries)
    assert set(categories) == set(Taxonomy.load().categories)


def test_fixes_are_two_to_five_sentences_with_links(entries):
    for entry in entries:
        sentences = [s for s in entry.fix.replace("e.g.", "eg").split(". ") if s.strip()]
        assert 1 <= len(sentences) <= 5 and len(entry.fix) >= 60, entry.error_type
        assert entry.docs is None or entry.docs.startswith("https://")
    assert sum(1 for e in entries if e.docs) / len(entries) > 0.95


def test_every_entry_passes_schema_validation_and_ingests(entries):
    store = InMemoryErrorStore()
    prepare = RecordPreparer()
    result = store.append([prepare(record) for record in knowledge_records()])
    assert result.accepted == len(entries)
    assert store.append([prepare(r) for r in knowledge_records()]).duplicates == len(entries)


def test_weak_labels_agree_or_the_disagreement_is_justified(entries):
    taxonomy = Taxonomy.load()
    severities = set(taxonomy.severities)
    unjustified = []
    for entry in entries:
        assert entry.severity in severities
        labels = taxonomy.label({"error_type": entry.error_type, "message": entry.message})
        if labels.category != entry.category and not (entry.note and len(entry.note) > 30):
            unjustified.append((entry.error_type, entry.message, labels.category))
    assert unjustified == []
    agreeing = sum(1 for e in entries if not e.note)
    assert agreeing / len(entries) > 0.8
