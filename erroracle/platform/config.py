"""Typed configuration, loaded once by :func:`load_config`.

Precedence, lowest first: the defaults below, the YAML file (``--config``, ``ERRORACLE_CONFIG`` or
the bundled ``erroracle/configs/platform.yaml``), ``ERRORACLE_DATA_ROOT`` (or the
``--data-root`` flag), then single keys from ``ERRORACLE_<SECTION>__<KEY>`` variables. Unknown or
mistyped keys are errors that name the key and where it came from.

Example:
    >>> cfg = load_config(None, environ={})
    >>> cfg.storage.flush_records
    20000
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from erroracle.errors import ConfigError
from erroracle.platform.alert_rules import AlertsConfig

__all__ = ["Config", "bundled", "default_config_path", "load_config", "parse_duration"]

ENV_PREFIX = "ERRORACLE_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Turn ``90``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"250ms"`` into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, '30s', '15m' or '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 30, '30s', '15m' or '1h', got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StorageConfig(_Section):
    """The error lake: where the write-ahead log lives and when it becomes Parquet."""

    wal_dir: str | None = None
    flush_records: int = Field(20_000, ge=1)
    flush_seconds: float = Field(2.0, gt=0)


class RayConfig(_Section):
    """How to reach Ray: ``address: null`` starts an embedded local Ray. ``resource_wait``
    bounds how long a round's stage waits for CPUs before the round fails with that reason."""

    address: str | None = None
    num_cpus: int | None = Field(None, ge=1)
    resource_wait: float = 300.0

    @field_validator("resource_wait", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class ServeConfig(_Section):
    """The HTTP service and its limits."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_decompressed_bytes: int = Field(10_485_760, ge=1024)
    max_batch_records: int = Field(1000, ge=1)
    batch_max_size: int = Field(8, ge=1)
    batch_wait_ms: float = Field(5.0, ge=0)
    batches_in_flight: int = Field(2, ge=1)
    max_json_depth: int = Field(32, ge=2)
    replicas: int = Field(1, ge=1)
    ingress_replicas: int = Field(1, ge=1)
    ingress_cpus: float = Field(0.5, gt=0)
    model_cpus: float = Field(1.0, gt=0)
    quantize: bool = False
    high_throughput: bool = True
    haproxy_stats_port: int | None = Field(None, ge=1, le=65535)
    haproxy_metrics_port: int | None = Field(None, ge=1, le=65535)
    max_ongoing_requests: int = Field(64, ge=1)
    rate_limit_per_minute: int = Field(6000, ge=1)
    cache_size: int = Field(10_000, ge=0)
    reload_poll_seconds: float = Field(2.0, gt=0)
    index_refresh_seconds: float = Field(30.0, gt=0)
    index_max_groups: int = Field(20_000, ge=1)
    novelty_quantile: float = Field(0.95, gt=0, lt=1)
    feedback_weight: float = Field(0.3, ge=0)
    lexical_weight: float = Field(0.1, ge=0)
    exploration: float = Field(0.05, ge=0)
    ann_min_fixes: int = Field(20_000, ge=1)


class AuthConfig(_Section):
    """API keys: a keys file (created on first start) and the admin key variable."""

    keys_file: str | None = None
    admin_key_env: str = "ERRORACLE_ADMIN_KEY"


class StackOverflowSource(_Section):
    enabled: bool = True
    base_url: str = "https://api.stackexchange.com/2.3"
    site: str = "stackoverflow"
    tags: list[str] = Field(default_factory=lambda: ["python", "javascript", "java", "docker"])
    key_env: str = "STACKEXCHANGE_KEY"
    page_size: int = Field(50, ge=1, le=100)


class RedditSource(_Section):
    enabled: bool = True
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    subreddits: list[str] = Field(default_factory=lambda: ["learnpython", "docker"])
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"
    user_agent: str = "erroracle/0.1 (self-hosted error learning)"
    query: str = "error OR exception OR traceback"
    page_size: int = Field(100, ge=1, le=100)


class GithubSource(_Section):
    enabled: bool = True
    base_url: str = "https://api.github.com"
    repos: list[str] = Field(default_factory=lambda: ["psf/requests"])
    labels: list[str] = Field(default_factory=lambda: ["bug"])
    token_env: str = "GITHUB_TOKEN"
    page_size: int = Field(100, ge=1, le=100)


class SourcesConfig(_Section):
    max_wait_seconds: float = Field(900.0, gt=0)
    stackoverflow: StackOverflowSource = Field(default_factory=StackOverflowSource)
    reddit: RedditSource = Field(default_factory=RedditSource)
    github: GithubSource = Field(default_factory=GithubSource)


class ScrubConfig(_Section):
    """Extra field names and value patterns to scrub, beside the built-in ones."""

    extra_keys: list[str] = Field(default_factory=list)
    extra_patterns: dict[str, str] = Field(default_factory=dict)

    @field_validator("extra_patterns")
    @classmethod
    def _compiles(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} is not a valid regex: {exc}") from exc
        return patterns


class ModelConfig(_Section):
    """The encoder: ``base: null`` means the bundled all-MiniLM-L6-v2, else a local folder (a hub
    id is refused: nothing is fetched at run time). ``taxonomy_file: null`` is the bundled
    taxonomy, which gives the heads their labels."""

    base: str | None = None
    max_length: int = Field(64, ge=8, le=4096)
    index_max_length: int = Field(256, ge=8, le=4096)
    taxonomy_file: str | None = None

    @field_validator("base")
    @classmethod
    def _local_folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise ValueError(f"{value!r} is not a local encoder folder (erroracle never fetches "
                             "a model from a hub; null is the bundled all-MiniLM-L6-v2)")
        return str(folder.resolve())


class TrainConfig(_Section):
    """One training round. The hyperparameters that Tune searches are marked in platform.yaml."""

    workers: int = Field(1, ge=1)
    cpus_per_worker: int = Field(2, ge=1)
    use_gpu: bool = False
    # PACK keeps the workers on as few nodes as fit them; SPREAD puts one a node (a GPU cluster).
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"
    batch_size: int = Field(32, ge=1)
    max_steps: int = Field(300, ge=1)
    max_epochs: float = Field(1.0, gt=0)
    lr: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(30, ge=0)
    decay: Literal["cosine", "exponential"] = "cosine"
    grad_clip: float = Field(1.0, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    category_weight: float = Field(1.0, ge=0)
    severity_weight: float = Field(0.5, ge=0)
    retrieval_weight: float = Field(1.0, ge=0)
    temperature: float = Field(0.05, gt=0)
    trainable_layers: int | None = Field(2, ge=0)
    log_every: int = Field(10, ge=1)
    use_tuned: bool = True
    checkpoint_every: int = Field(100, ge=1)
    max_failures: int = Field(2, ge=0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    max_per_fingerprint: int = Field(50, ge=1)
    mine_negatives: bool = True
    promote_tolerance: float = Field(0.01, ge=0)
    seed: int = 0


class TuneConfig(_Section):
    trials: int = Field(4, ge=1)
    max_steps: int = Field(100, ge=1)
    max_concurrent: int = Field(1, ge=1)
    space_file: str | None = None


class LoopConfig(_Section):
    """When the conductor crawls and trains; ``burst_new_groups`` (0: off) starts a round early
    once that many error groups the last training never saw have arrived."""

    crawl_every: float = 900.0
    train_every: float = 3600.0
    min_new_records: int = Field(100, ge=0)
    burst_new_groups: int = Field(25, ge=0)
    check_every: float = 60.0

    @field_validator("crawl_every", "train_every", "check_every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class Config(_Section):
    """The whole configuration of one erroracle installation."""

    data_root: str = Field("./.erroracle", validate_default=True)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    @field_validator("data_root")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("data_root cannot be empty")
        if "://" in value:
            return value.rstrip("/")
        return str(Path(value).expanduser().resolve())


def bundled(name: str) -> Path:
    """A file shipped in the package's ``configs`` folder (``platform.yaml``, ``taxonomy.yaml``,
    ``tune.yaml``), read through :mod:`importlib.resources` so a wheel install finds it."""
    return Path(str(resources.files("erroracle.configs").joinpath(name)))


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The file to read when ``--config`` is not given: ``ERRORACLE_CONFIG``, else the bundled
    ``platform.yaml``."""
    environ = os.environ if environ is None else environ
    if environ.get(f"{ENV_PREFIX}CONFIG"):
        return Path(environ[f"{ENV_PREFIX}CONFIG"])
    return bundled("platform.yaml")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Apply ``ERRORACLE_SECTION__KEY`` overrides in place; returns dotted key -> variable name."""
    origins: dict[str, str] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"{name}: malformed override, use ERRORACLE_<SECTION>__<KEY>")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {part!r} is not a section")
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw.strip() else raw
        origins[".".join(path)] = name
    return origins


def _describe(exc: pydantic.ValidationError, source: str, origins: dict[str, str]) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        where = origins.get(key, source)
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        message = message.removeprefix("Value error, ")
        problems.append(f"{where}: key '{key}': {message}")
    return "; ".join(problems)


def load_config(
    path: str | Path | None = None,
    *,
    data_root: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate the configuration.

    Args:
        path: YAML file; None looks up ``ERRORACLE_CONFIG`` then the bundled ``platform.yaml``.
        data_root: overrides ``data_root`` (the ``--data-root`` flag).
        environ: the environment to read overrides from (default ``os.environ``).

    Raises:
        ConfigError: naming the file or variable and the key that is wrong.
    """
    environ = os.environ if environ is None else environ
    config_path = Path(path) if path is not None else default_config_path(environ)
    data = _read_yaml(config_path)
    source = str(config_path)
    origins = _apply_env(data, environ)
    if data_root is None and environ.get(f"{ENV_PREFIX}DATA_ROOT"):
        data_root = environ[f"{ENV_PREFIX}DATA_ROOT"]
        origins["data_root"] = f"{ENV_PREFIX}DATA_ROOT"
    if data_root is not None:
        data["data_root"] = data_root
    try:
        return Config.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(_describe(exc, source, origins)) from exc
