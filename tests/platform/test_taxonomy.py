from __future__ import annotations

import pytest

from erroracle.errors import ConfigError
from erroracle.platform.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


def test_about_a_dozen_categories_and_four_severities(taxonomy):
    assert 12 <= len(taxonomy.categories) <= 16
    assert taxonomy.severities == ["low", "medium", "high", "critical"]


@pytest.mark.parametrize(
    ("record", "category"),
    [
        ({"error_type": "ConnectionRefusedError", "message": "[Errno 111]"}, "network"),
        ({"error_type": "FileNotFoundError", "message": "x"}, "storage"),
        (
            {"error_type": "ModuleNotFoundError", "message": "No module named 'requests'"},
            "dependency",
        ),
        ({"error_type": "Error", "message": "getaddrinfo ENOTFOUND db"}, "network"),
        ({"error_type": "psycopg2.errors.UniqueViolation", "message": "duplicate key"}, "database"),
        ({"message": "Container app was OOMKilled"}, "resource_exhaustion"),
        ({"message": "certificate verify failed"}, "security_tls"),
        ({"error_type": "KeyError", "message": "'x'"}, "runtime_logic"),
    ],
)
def test_rules(taxonomy, record, category):
    labels = taxonomy.label(record)
    assert labels.category == category and labels.category_from.startswith("rule:")


def test_the_type_outranks_the_text(taxonomy):
    # The message mentions a database, but the type says the module is missing.
    labels = taxonomy.label(
        {
            "error_type": "ModuleNotFoundError",
            "message": "No module named 'psycopg2' (database driver)",
        }
    )
    assert labels.category == "dependency"


def test_precedence_record_then_tags_then_rules(taxonomy):
    record = {"error_type": "KeyError", "message": "'x'", "tags": ["Docker", "ssl"]}
    assert taxonomy.label(record).category_from == "tag:ssl"
    assert taxonomy.label({**record, "category": "storage"}).category_from == "record"
    assert taxonomy.label(record, use_tags=False).category_from.startswith("rule:")
    assert taxonomy.rules_category(record) == "runtime_logic"


def test_severity_from_rules_levels_and_defaults(taxonomy):
    assert taxonomy.label({"message": "no space left on device"}).severity == "critical"
    assert taxonomy.label({"message": "hello", "level": "WARNING"}).severity == "medium"
    labels = taxonomy.label({"error_type": "KeyError", "message": "'k'"})
    assert (labels.severity, labels.severity_from) == ("medium", "category_default")
    assert taxonomy.label({"message": "hello"}).severity is None


def test_unknown_category_in_a_rule_is_a_config_error():
    data = {
        "severities": ["low"],
        "categories": {"a": {"severity": "low"}},
        "rules": [{"name": "r", "category": "b", "message": "x"}],
    }
    with pytest.raises(ConfigError, match="unknown category 'b'"):
        Taxonomy(data)


def test_bad_pattern_is_a_config_error():
    data = {
        "severities": ["low"],
        "categories": {"a": {"severity": "low"}},
        "rules": [{"name": "r", "category": "a", "message": "("}],
    }
    with pytest.raises(ConfigError, match="rule r"):
        Taxonomy(data)
