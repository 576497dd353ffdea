"""The high-throughput switches reach the environment before Ray starts, and only when asked."""

from __future__ import annotations

import os

import pytest

from erroracle.platform.config import load_config
from erroracle.serve.throughput import SWITCHES, enable


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_enable_sets_every_switch(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    config = load_config(None, data_root=str(tmp_path), environ={})
    assert config.serve.high_throughput
    assert enable(config) == SWITCHES
    assert all(os.environ[name] == value for name, value in SWITCHES.items())


def test_a_value_already_set_wins(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    clean_env.setenv("RAY_SERVE_ENABLE_HA_PROXY", "0")
    config = load_config(None, data_root=str(tmp_path), environ={})
    assert enable(config)["RAY_SERVE_ENABLE_HA_PROXY"] == "0"


def test_off_leaves_the_environment_alone(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    config = load_config(None, data_root=str(tmp_path),
                         environ={"ERRORACLE_SERVE__HIGH_THROUGHPUT": "false"})
    assert enable(config) == {}
    assert not any(name in os.environ for name in SWITCHES)
