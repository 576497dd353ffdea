"""The real ``erroracle`` command, run as a subprocess."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ERRORACLE


def run(env, *args, input_text=None):
    return subprocess.run(
        [*ERRORACLE, *args], env=env, capture_output=True, text=True, input=input_text, timeout=300
    )


def test_ingest_reports_bad_lines_and_loads_the_rest(tmp_path, cli_env):
    path = tmp_path / "errors.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"message": "KeyError: 'user'", "error_type": "KeyError"}),
                "{not json",
                json.dumps({"message": "boom", "score": "lots"}),
                json.dumps({"message": "Connection refused to 10.0.0.1:5432"}),
            ]
        )
        + "\n"
    )
    result = run(cli_env, "ingest", str(path))
    assert result.returncode == 1
    assert f"{path}:2: not valid JSON" in result.stderr
    assert f"{path}:3: score:" in result.stderr
    assert "read 4, stored 2, duplicates 0, rejected 2" in result.stdout
    again = run(cli_env, "ingest", str(path))
    assert "stored 0, duplicates 2" in again.stdout


def test_status_json_counts_what_was_ingested(tmp_path, cli_env):
    path = tmp_path / "plain.log"
    path.write_text("ValueError: bad value 1\nValueError: bad value 2\nTimeoutError: slow\n")
    assert run(cli_env, "ingest", "--source", "app", str(path)).returncode == 0
    report = json.loads(run(cli_env, "status", "--json").stdout)
    assert report["lake"]["total"] == 3 and report["lake"]["by_source"] == {"app": 3}
    top = report["issues"][0]
    assert top["count"] == 2 and top["error_type"] == "ValueError"


def test_delete_by_fingerprint(tmp_path, cli_env):
    path = tmp_path / "plain.log"
    path.write_text("ValueError: bad value 1\nValueError: bad value 2\nTimeoutError: slow\n")
    run(cli_env, "ingest", str(path))
    top = json.loads(run(cli_env, "status", "--json").stdout)["issues"][0]
    fingerprint = top["fingerprints"][0]
    result = run(cli_env, "delete", "--fingerprint", fingerprint)
    assert result.returncode == 0 and "deleted 2" in result.stdout
    assert json.loads(run(cli_env, "status", "--json").stdout)["lake"]["total"] == 1


def test_errors_are_one_line_on_stderr(tmp_path, cli_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("serve:\n  prot: 1\n")
    result = run(cli_env, "--config", str(bad), "status")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "serve.prot" in result.stderr
    result = run(cli_env, "ingest", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    result = run(cli_env, "delete")
    assert result.returncode == 2 and result.stderr.startswith("erroracle: error:")


def test_config_show_prints_the_effective_config(cli_env):
    env = {**cli_env, "ERRORACLE_TRAIN__LR": "3e-5"}
    result = run(env, "config", "show")
    assert result.returncode == 0
    assert (
        "lr: 3.0e-05" in result.stdout
        and f"data_root: {env['ERRORACLE_DATA_ROOT']}" in result.stdout
    )


@pytest.mark.slow
def test_ingest_killed_midway_then_rerun_stores_each_line_once(tmp_path, cli_env):
    path = tmp_path / "big.log"
    with open(path, "w") as handle:
        for i in range(100_000):
            handle.write(f"ConnectionError: request {i} to host-{i % 97} failed\n")
    proc = subprocess.Popen(
        [*ERRORACLE, "ingest", str(path)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some, not all, lines are stored
        time.sleep(0.2)
        events = Path(cli_env["ERRORACLE_DATA_ROOT"], "wal")
        if events.exists() and sum(f.stat().st_size for f in events.glob("*.wal")) > 2_000_000:
            break
    assert proc.poll() is None, "the first ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = run(cli_env, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "duplicates 0," not in result.stdout  # the rerun found lines the first run stored
    assert json.loads(run(cli_env, "status", "--json").stdout)["lake"]["total"] == 100_000


def _up_until_serving(env, port: int, *flags: str) -> str:
    """Run ``erroracle up --no-loop`` until its API answers, then stop it with Ctrl-C; returns
    stdout. (The loop, which would crawl, has its own end-to-end test.)"""
    process = subprocess.Popen([*ERRORACLE, "up", "--no-loop", "--port", str(port), *flags],
                               env=env,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving"):
                break
        assert lines and lines[-1].startswith("serving"), "".join(lines) + process.stderr.read()
        deadline = time.monotonic() + 120
        while not httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["ready"]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        # the rest through the same reader: lines after "serving" may already sit in its buffer,
        # where communicate() would not see them
        rest = process.stdout.read()
        errors = process.stderr.read()
        process.wait(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    return "".join(lines) + rest


@pytest.mark.ray
@pytest.mark.slow
def test_up_seeds_bootstraps_creates_a_key_serves_and_stops_on_ctrl_c(cli_env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    first = _up_until_serving(cli_env, port)
    assert "known errors loaded (first start)" in first
    assert "records read through Ray Data" not in first  # the lake by source: --verbose only
    assert "bootstrapped from the knowledge base (first start)" in first
    key = first.split("api key", 1)[1].split()[0]
    assert key.startswith("eo_") and "stopping    (SIGINT;" in first
    second = _up_until_serving(cli_env, port, "--verbose")
    assert "first start" not in second and "api key" not in second
    assert "records read through Ray Data" in second
    assert "champion    v0001" in second
    report = json.loads(run(cli_env, "status", "--json").stdout)
    assert report["lake"]["by_source"]["knowledge"] >= 300


@pytest.mark.parametrize("command", [["status"], ["issues", "list"], ["models", "list"],
                                     ["delete", "--id", "x"], ["issues", "resolve", "I1"]])
def test_a_command_that_finds_no_lake_says_where_it_looked_and_makes_none(tmp_path, cli_env,
                                                                          command):
    nowhere = tmp_path / "elsewhere"
    done = run(cli_env, "--data-root", str(nowhere), *command)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"erroracle: error: no error lake at {nowhere} (from --data-root)")
    assert "ERRORACLE_DATA_ROOT" in line and "erroracle up" in line
    assert not nowhere.exists()


def test_a_client_only_install_answers_every_command_with_the_line_to_run(cli_env):
    """Without the platform's packages (here made unimportable), no traceback: one line."""
    blocker = (
        "import sys, importlib.abc\n"
        "class NoPlatform(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'click', 'pyarrow', 'ray', 'pydantic', 'yaml'}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoPlatform())\n"
        "from erroracle.command import main\n"
        "main(sys.argv[1:])\n")
    for command in (["status"], ["up"], ["ingest", "x.log"], ["--help"]):
        done = subprocess.run([sys.executable, "-c", blocker, *command], env=cli_env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr == ("erroracle: error: this command needs the platform: "
                               "pip install 'erroracle[platform]'\n")
