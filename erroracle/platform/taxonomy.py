"""The error taxonomy (the bundled ``taxonomy.yaml``, or ``model.taxonomy_file``) and the weak
labels it gives records.

A record's labels come, in order of trust, from what a producer or a user said, from the source's
tags, then from pattern rules on the error type and message. :func:`Taxonomy.label` says which one
decided, so learners can weight labels by where they came from.

Example:
    >>> taxonomy = Taxonomy.load()  # doctest: +SKIP
    >>> taxonomy.label({"error_type": "ConnectionRefusedError", "message": "refused"}).category
    'network'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from erroracle.errors import ConfigError
from erroracle.platform.config import Config, bundled

__all__ = ["DEFAULT_TAXONOMY", "Labels", "Taxonomy"]

DEFAULT_TAXONOMY = bundled("taxonomy.yaml")


@dataclass(frozen=True)
class Labels:
    """Weak labels of one record, and where each came from (``None`` when nothing matched)."""

    category: str | None
    category_from: str | None
    severity: str | None
    severity_from: str | None


@dataclass(frozen=True)
class _Rule:
    name: str
    category: str
    error_type: re.Pattern[str] | None
    message: re.Pattern[str] | None

    def matches_type(self, error_type: str) -> bool:
        return bool(self.error_type and error_type and self.error_type.search(error_type))

    def matches_message(self, message: str) -> bool:
        return bool(self.message and message and self.message.search(message))


def _compile(pattern: str | None, where: str, flags: int = re.IGNORECASE) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid pattern: {exc}") from exc


class Taxonomy:
    """Categories, severities and the rules that label records with them."""

    def __init__(self, data: Mapping[str, Any], source: str = "taxonomy") -> None:
        try:
            self.severities: list[str] = list(data["severities"])
            self.categories: dict[str, dict[str, Any]] = dict(data["categories"])
            self.levels: dict[str, str] = {k.lower(): v for k, v in data.get("levels", {}).items()}
            self.tag_categories: dict[str, str] = {
                k.lower(): v for k, v in data.get("tag_categories", {}).items()
            }
            self.rules = [
                _Rule(
                    r["name"],
                    r["category"],
                    _compile(r.get("error_type"), f"{source}: rule {r['name']}", flags=0),
                    _compile(r.get("message"), f"{source}: rule {r['name']}"),
                )
                for r in data.get("rules", [])
            ]
            self.severity_rules = [
                (
                    s["severity"],
                    _compile(s.get("error_type"), source, flags=0),
                    _compile(s.get("message"), source),
                )
                for s in data.get("severity_rules", [])
            ]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{source}: malformed taxonomy: missing or wrong {exc}") from exc
        self._check(source)

    def _check(self, source: str) -> None:
        for name, spec in self.categories.items():
            if spec.get("severity") not in self.severities:
                raise ConfigError(f"{source}: category {name!r} has an unknown severity")
        used = [r.category for r in self.rules] + list(self.tag_categories.values())
        for category in used:
            if category not in self.categories:
                raise ConfigError(f"{source}: unknown category {category!r}")
        for severity in list(self.levels.values()) + [s for s, _, _ in self.severity_rules]:
            if severity not in self.severities:
                raise ConfigError(f"{source}: unknown severity {severity!r}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Read a taxonomy file (default: the bundled ``taxonomy.yaml``)."""
        path = Path(path) if path else DEFAULT_TAXONOMY
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read taxonomy: {exc}") from exc
        return cls(data, source=str(path))

    @classmethod
    def for_config(cls, config: Config) -> Taxonomy:
        """The taxonomy ``model.taxonomy_file`` names (null: the bundled one)."""
        return cls.load(config.model.taxonomy_file)

    def category_by_rules(self, error_type: str, message: str) -> tuple[str | None, str | None]:
        """The exception type speaks first (case-sensitive: it is an identifier), then the text."""
        for rule in self.rules:
            if rule.matches_type(error_type):
                return rule.category, f"rule:{rule.name}"
        for rule in self.rules:
            if rule.matches_message(message):
                return rule.category, f"rule:{rule.name}"
        return None, None

    def rules_category(self, record: Mapping[str, Any]) -> str | None:
        """What the pattern rules alone say of a record: the baseline a model must beat."""
        return self.category_by_rules(*_rule_inputs(record))[0]

    def category_by_tags(self, tags: Sequence[str]) -> tuple[str | None, str | None]:
        for tag in tags:
            category = self.tag_categories.get(tag.lower())
            if category:
                return category, f"tag:{tag.lower()}"
        return None, None

    def _severity(
        self, error_type: str, message: str, level: str | None, category: str | None
    ) -> tuple[str | None, str | None]:
        for severity, type_pattern, message_pattern in self.severity_rules:
            if (type_pattern and error_type and type_pattern.search(error_type)) or (
                message_pattern and message and message_pattern.search(message)
            ):
                return severity, "severity_rule"
        if level and level.lower() in self.levels:
            return self.levels[level.lower()], "level"
        if category:
            return self.categories[category]["severity"], "category_default"
        return None, None

    def label(self, record: Mapping[str, Any], *, use_tags: bool = True) -> Labels:
        """Weak labels for a record (a mapping with error_type, message, tags, level, ...).

        ``use_tags=False`` leaves the source's tags out: training does, so that categories
        people gave stay a measure of the model (``learners.evaluate``) rather than a target.
        """
        error_type, text = _rule_inputs(record)
        if record.get("category") in self.categories:
            category, category_from = record["category"], "record"
        else:
            category, category_from = (self.category_by_tags(record.get("tags") or [])
                                       if use_tags else (None, None))
            if category is None:
                category, category_from = self.category_by_rules(error_type, text)
        if record.get("severity") in self.severities:
            severity, severity_from = record["severity"], "record"
        else:
            severity, severity_from = self._severity(
                error_type, text, record.get("level"), category
            )
        return Labels(category, category_from, severity, severity_from)


def _rule_inputs(record: Mapping[str, Any]) -> tuple[str, str]:
    """The error type and the text (message and title) the rules read."""
    text = " ".join(filter(None, [record.get("message"), record.get("title")]))
    return record.get("error_type") or "", text
