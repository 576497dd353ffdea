"""The real ``erroracle`` command, run as a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

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
    top = report["groups"][0]
    assert top["count"] == 2 and top["error_type"] == "ValueError"


def test_delete_by_fingerprint(tmp_path, cli_env):
    path = tmp_path / "plain.log"
    path.write_text("ValueError: bad value 1\nValueError: bad value 2\nTimeoutError: slow\n")
    run(cli_env, "ingest", str(path))
    fingerprint = json.loads(run(cli_env, "status", "--json").stdout)["groups"][0]["fingerprint"]
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


@pytest.mark.ray
def test_up_seeds_the_knowledge_base_once_and_reads_the_lake_through_ray(cli_env):
    first = run(cli_env, "up")
    assert first.returncode == 0, first.stderr
    assert "known errors loaded (first start)" in first.stdout
    assert "records read through Ray Data" in first.stdout
    assert "bootstrapped from the knowledge base (first start)" in first.stdout
    second = run(cli_env, "up")
    assert "first start" not in second.stdout
    assert "champion    v0001" in second.stdout
    report = json.loads(run(cli_env, "status", "--json").stdout)
    assert report["lake"]["by_source"]["knowledge"] >= 300
