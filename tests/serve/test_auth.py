import json
import os
import stat
from pathlib import Path

import pytest

from erroracle.errors import ConfigError
from erroracle.platform.config import load_config
from erroracle.serve.auth import ApiKey, RateLimiter, digest, ensure_keys, keys_path, load_keyring
from erroracle.serve.problems import ApiError


@pytest.fixture
def config(tmp_path):
    return load_config(None, data_root=str(tmp_path / "lake"), environ={})


def test_first_start_creates_one_admin_key_stored_hashed(config):
    key = ensure_keys(config, environ={})
    assert key and key.startswith("eo_")
    path = keys_path(config)
    text = Path(path).read_text()
    assert key not in text and digest(key) in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_keys(config, environ={}) is None  # never twice
    ring = load_keyring(config, environ={})
    assert ring.authorize(key, "admin").scopes == {"ingest", "read", "feedback", "admin"}


def test_an_admin_key_in_the_environment_means_no_file_is_created(config):
    environ = {"ERRORACLE_ADMIN_KEY": "from-env"}
    assert ensure_keys(config, environ=environ) is None
    assert not os.path.exists(keys_path(config))
    assert load_keyring(config, environ=environ).authorize("from-env", "ingest").name


def test_authorize_tells_missing_unknown_and_out_of_scope_keys_apart(config, tmp_path):
    path = keys_path(config)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as out:
        json.dump({"keys": [{"name": "reader", "sha256": digest("r"), "scopes": ["read"]}]}, out)
    ring = load_keyring(config, environ={})
    assert ring.authorize("r", "read").name == "reader"
    for key, scope, status in [(None, "read", 401), ("nope", "read", 401), ("r", "ingest", 403)]:
        with pytest.raises(ApiError) as refused:
            ring.authorize(key, scope)
        assert refused.value.status == status


def test_a_keys_file_with_an_unknown_scope_is_a_config_error(config):
    path = keys_path(config)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as out:
        json.dump({"keys": [{"name": "x", "sha256": "00", "scopes": ["root"]}]}, out)
    with pytest.raises(ConfigError, match="unknown scope 'root'"):
        load_keyring(config, environ={})


def test_the_rate_limiter_refills_and_answers_retry_after():
    limiter = RateLimiter(per_minute=60)
    key = ApiKey("k", frozenset({"read"}))
    for _ in range(10):  # ten seconds' worth of burst
        limiter.take(key)
    with pytest.raises(ApiError) as limited:
        limiter.take(key)
    assert limited.value.status == 429 and limited.value.headers["Retry-After"] == "1"
    own = ApiKey("slow", frozenset({"read"}), rate_limit_per_minute=6)
    limiter.take(own)
    with pytest.raises(ApiError) as slow:
        limiter.take(own)
    assert slow.value.headers["Retry-After"] == "10"


def test_each_of_two_ingress_replicas_enforces_half_of_a_keys_limit():
    limiter = RateLimiter(per_minute=120, share=0.5)
    key = ApiKey("k", frozenset({"read"}))
    for _ in range(10):  # ten seconds' worth of this replica's 60 a minute
        limiter.take(key)
    with pytest.raises(ApiError) as limited:
        limiter.take(key)
    assert limited.value.headers["Retry-After"] == "1"
