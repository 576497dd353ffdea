"""``erroracle keys``: keys with only the scopes an app needs, listed without secrets, revoked."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from erroracle.platform.config import load_config
from erroracle.serve.key_file import KeyFile, LiveKeyRing
from erroracle.serve.problems import ApiError
from tests.test_cli import run


def _lake(cli_env) -> Path:
    root = Path(cli_env["ERRORACLE_DATA_ROOT"])
    (root / "state").mkdir(parents=True)
    return root


def test_a_key_is_printed_once_listed_without_its_secret_and_revoked(cli_env):
    root = _lake(cli_env)
    made = run(cli_env, "keys", "create", "--scope", "ingest", "--name", "web-app",
               "--rate-limit-per-minute", "600", "--expires", "2099-01-31")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("eo_") and "shown this once" in made.stderr
    stored = (root / "state" / "keys.json").read_text()
    assert key not in stored and oct((root / "state" / "keys.json").stat().st_mode)[-3:] == "600"
    listed = json.loads(run(cli_env, "keys", "list", "--json").stdout)["keys"]
    assert listed == [{"name": "web-app", "scopes": ["ingest"], "rate_limit_per_minute": 600,
                       "created_at": listed[0]["created_at"],
                       "expires_at": "2099-01-31T00:00:00+00:00", "last_used_at": None}]
    assert "sha256" not in run(cli_env, "keys", "list").stdout
    assert run(cli_env, "keys", "revoke", "web-app").stdout.strip() == "revoked web-app"
    assert json.loads(run(cli_env, "keys", "list", "--json").stdout)["keys"] == []


def test_bad_flags_name_themselves_and_change_nothing(cli_env):
    _lake(cli_env)
    for args, flag in ((["--scope", "write"], "--scope"),
                       (["--scope", "read", "--expires", "next week"], "--expires"),
                       (["--scope", "read", "--expires", "2001-01-01"], "--expires"),
                       (["--scope", "read", "--name", "has space"], "--name")):
        done = run(cli_env, "keys", "create", *args)
        assert done.returncode in (1, 2) and done.stdout == ""
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("erroracle: error:") and flag in line, line
    missing = run(cli_env, "keys", "revoke", "nobody")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "erroracle: error: no key named 'nobody'"
    assert json.loads(run(cli_env, "keys", "list", "--json").stdout)["keys"] == []


def test_a_server_keyring_follows_revocation_and_expiry(tmp_path):
    config = load_config(None, data_root=str(tmp_path), environ={})
    keys = KeyFile(config)
    ring = LiveKeyRing(config)
    app_key, _ = keys.create(["ingest"], name="app")
    soon = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    short_key, _ = keys.create(["read"], name="short", expires=soon)
    time.sleep(1.1)  # the ring looks at the file at most once a second
    assert ring.authorize(app_key, "ingest").name == "app"
    assert ring.authorize(short_key, "read").name == "short"
    keys.revoke("app")
    time.sleep(3.1)
    for key in (app_key, short_key):  # revoked; and past its expiry by now
        try:
            ring.authorize(key, "read" if key == short_key else "ingest")
        except ApiError as refused:
            assert refused.status == 401
        else:
            raise AssertionError("a revoked or expired key was accepted")


def test_keys_list_shows_the_last_use_any_replica_noted(cli_env):
    root = _lake(cli_env)
    config = load_config(None, data_root=str(root), environ={})
    key, _ = KeyFile(config).create(["ingest"], name="shop")
    first, second = LiveKeyRing(config), LiveKeyRing(config)  # two replicas
    first.authorize(key, "ingest")
    assert len(list((root / "state" / "keys-used").glob("*.json"))) == 1
    listed = json.loads(run(cli_env, "keys", "list", "--json").stdout)["keys"]
    noted = listed[0]["last_used_at"]
    assert noted and datetime.fromisoformat(noted) <= datetime.now(UTC)
    time.sleep(1.1)
    second.authorize(key, "ingest")
    latest = json.loads(run(cli_env, "keys", "list", "--json").stdout)["keys"][0]
    assert latest["last_used_at"] > noted
    assert "last used " + latest["last_used_at"] in run(cli_env, "keys", "list").stdout
