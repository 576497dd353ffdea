"""The high-throughput switches reach the environment before Ray starts, and only when asked;
HAProxy's own listeners get ports of their own and are bound to loopback by the launcher."""

from __future__ import annotations

import os

import pytest

from erroracle.platform.config import load_config
from erroracle.serve.haproxy_launcher import loopback_config
from erroracle.serve.throughput import SWITCHES, enable

HAPROXY = ("RAY_SERVE_HAPROXY_BINARY_PATH", "RAY_SERVE_HAPROXY_STATS_PORT",
           "RAY_SERVE_HAPROXY_METRICS_PORT")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*SWITCHES, *HAPROXY):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_enable_sets_every_switch(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    config = load_config(None, data_root=str(tmp_path), environ={})
    assert config.serve.high_throughput
    switches = enable(config)
    assert {name: switches[name] for name in SWITCHES} == SWITCHES
    assert all(os.environ[name] == value for name, value in switches.items())
    assert os.access(switches["RAY_SERVE_HAPROXY_BINARY_PATH"], os.X_OK)
    # free ports, not Ray's fixed 8404 and 9101 that a second installation would collide on
    ports = {switches["RAY_SERVE_HAPROXY_STATS_PORT"], switches["RAY_SERVE_HAPROXY_METRICS_PORT"]}
    assert len(ports) == 2 and not ports & {"8404", "9101"}


def test_configured_haproxy_ports_are_used(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    config = load_config(None, data_root=str(tmp_path), environ={
        "ERRORACLE_SERVE__HAPROXY_STATS_PORT": "18404",
        "ERRORACLE_SERVE__HAPROXY_METRICS_PORT": "19101"})
    switches = enable(config)
    assert switches["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    assert switches["RAY_SERVE_HAPROXY_METRICS_PORT"] == "19101"


def test_listeners_without_an_address_move_to_loopback() -> None:
    rendered = ("frontend prometheus\n    bind :9101\n    mode http\n"
                "frontend http_frontend\n    bind 0.0.0.0:8000\n"
                "listen stats\n  bind *:8404\n  stats enable\n")
    assert loopback_config(rendered) == (
        "frontend prometheus\n    bind 127.0.0.1:9101\n    mode http\n"
        "frontend http_frontend\n    bind 0.0.0.0:8000\n"  # an address the user chose stays
        "listen stats\n  bind 127.0.0.1:8404\n  stats enable\n")


def test_a_value_already_set_wins(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    clean_env.setenv("RAY_SERVE_ENABLE_HA_PROXY", "0")
    config = load_config(None, data_root=str(tmp_path), environ={})
    assert enable(config)["RAY_SERVE_ENABLE_HA_PROXY"] == "0"


def test_off_leaves_the_environment_alone(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    config = load_config(None, data_root=str(tmp_path),
                         environ={"ERRORACLE_SERVE__HIGH_THROUGHPUT": "false"})
    assert enable(config) == {}
    assert not any(name in os.environ for name in (*SWITCHES, *HAPROXY))
