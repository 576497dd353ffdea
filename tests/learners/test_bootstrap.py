"""Cold start: the bootstrap fits heads on the knowledge base and registers the first champion."""

from __future__ import annotations

import time

import pytest

from erroracle.client.scrubber import Scrubber
from erroracle.errors import ModelNotReady
from erroracle.knowledge import seed_lake
from erroracle.learners.bootstrap import bootstrap
from erroracle.learners.model import load_model
from erroracle.platform.config import load_config
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry


def test_bootstrap_registers_a_useful_first_champion(data_root):
    config = load_config(None, data_root=str(data_root), environ={})
    with ParquetErrorStore(config.data_root, background=False) as store:
        seed_lake(store, RecordPreparer(Scrubber()))
        store.flush()
        registry = Registry(config.data_root)
        started = time.perf_counter()
        version = bootstrap(config, store, registry)
        seconds = time.perf_counter() - started
    assert version == "v0001" and registry.champion() == "v0001"
    assert seconds < 60
    info = registry.info(version)
    assert info.lineage["records_per_source"] == {"knowledge": 308}
    assert info.metrics["examples"] == info.lineage["validation_records"] > 30
    # Far better than chance over 14 categories, from 308 examples and a frozen encoder.
    assert info.metrics["category_accuracy"] > 0.35
    assert info.metrics["recall_at_5"] > 0.8
    model = load_model(registry.local_path(version))
    predictions = model.predict([
        "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint",
        "ModuleNotFoundError: No module named 'requests'",
    ])
    assert [p.category for p in predictions] == ["database", "dependency"]


def test_bootstrap_without_knowledge_says_so(data_root):
    config = load_config(None, data_root=str(data_root), environ={})
    with ParquetErrorStore(config.data_root, background=False) as store, pytest.raises(
        ModelNotReady, match="no knowledge-base records"
    ):
        bootstrap(config, store, Registry(config.data_root))
