"""``erroracle up`` as a package and after any stop: a wheel, installed (not editable) and started
from another directory, serves with its bundled config; two installations run side by side with
HAProxy's listeners on loopback; after SIGKILL of the whole process group the next ``up`` serves
again within 120 s with the lake and registry intact; a second Ctrl-C ends with one line and
status 130; nothing of either is left running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ERRORACLE, REPO
from tests.integration.serving import free_port
from tests.integration.test_up_e2e import AUTH, KEY, LEARNING, Up, _ready, alive

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel_erroracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``erroracle`` command of a fresh virtualenv holding only the built wheel; the
    dependencies come from this environment's site-packages (a ``.pth`` line)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    [wheel] = out.glob("erroracle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("configs/platform.yaml", "configs/taxonomy.yaml", "configs/tune.yaml",
                 "knowledge/python.yaml", "serve/haproxy_launcher.py"):
        assert f"erroracle/{data}" in names, data
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "erroracle-haproxy" in zipfile.ZipFile(wheel).read(entry_points).decode()
    venv = out / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True,
                   timeout=600)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    Path(site.stdout.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
    return venv / "bin" / "erroracle"


def _listeners(pids: set[int]) -> set[tuple[str, int]]:
    """The TCP addresses the processes ``pids`` listen on (from /proc/net/tcp)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
            address, port = fields[1].split(":")
            ip = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            found.add((ip, int(port, 16)))
    return found


def _status(env: dict[str, str]) -> dict:
    done = subprocess.run([*ERRORACLE, "status", "--json", "--top", "0"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _env(cli_env: dict[str, str], root: Path, port: int) -> dict[str, str]:
    env = {**cli_env, "ERRORACLE_DATA_ROOT": str(root), "ERRORACLE_ADMIN_KEY": KEY,
           "ERRORACLE_SERVE__PORT": str(port)}
    env.pop("ERRORACLE_CONFIG", None)  # the bundled default
    return env


@pytest.mark.timeout(1500)
def test_up_from_a_wheel_restarts_after_sigkill_beside_another(
        wheel_erroracle: Path, cli_env: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first_port, other_port = free_port(), free_port()
    first_env = _env(cli_env, tmp_path / "first", first_port)
    other_env = _env(cli_env, tmp_path / "other", other_port)
    wheel = [str(wheel_erroracle)]
    first = Up(first_env, tmp_path / "first.log", command=wheel, args=("--no-loop",),
               cwd=elsewhere)
    other = Up(other_env, tmp_path / "other.log", args=("--no-loop",))
    ups = [first, other]
    try:
        for up, port in ((first, first_port), (other, other_port)):
            up.wait_for("serving", 600)
            _ready(port).close()
        assert not (elsewhere / ".erroracle").exists() and not (elsewhere / "configs").exists()
        with httpx.Client(base_url=f"http://127.0.0.1:{first_port}", timeout=60) as client:
            stored = client.post(f"{LEARNING}/errors", headers=AUTH, json={"errors": [
                {"error_id": f"kill-{n}", "error_message": f"TimeoutError: job {n} hung"}
                for n in range(5)]})
            assert stored.status_code == 202, stored.text
        for up in ups:
            running = alive(up.watch())
            haproxy = {pid for pid, command in running.items() if "haproxy" in command}
            assert haproxy, running
            addresses = _listeners(haproxy)
            assert addresses and {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses
        deadline = time.monotonic() + 60  # the ingress's log becomes Parquet within seconds
        while (before := _status(first_env))["lake"]["total"] < 308 + 5:
            assert time.monotonic() < deadline, before["lake"]
            time.sleep(1)

        # SIGKILL of the whole process group, then of `up` alone: nothing of it survives, and
        # each time it serves again within 120 s with the lake and registry as they were.
        first.kill()
        assert first.leftovers() == {}, "a killed process group left processes behind"
        for number in (1, 2):
            started = time.monotonic()
            again = Up(first_env, tmp_path / f"again{number}.log", command=wheel,
                       args=("--no-loop",), cwd=elsewhere)
            ups.append(again)
            again.wait_for("serving", 120)
            client = _ready(first_port)
            assert time.monotonic() - started < 120
            assert (client.get("/healthz").json()["model_version"]
                    == before["champion"]["version"])
            client.close()
            after = _status(first_env)
            assert after["lake"]["total"] == before["lake"]["total"]
            assert after["champion"] == before["champion"]
            assert "bootstrapped" not in again.output()
            if number == 1:
                again.watch()
                again.process.kill()  # SIGKILL of `up` only
                again.process.wait(60)
                # HAProxy, the raylet and the workers go at once; Ray's dashboard and runtime-env
                # agents first try to flush their logs to the dead GCS, which takes them a minute
                assert again.leftovers(grace=120) == {}, "a killed up left processes behind"

        # A second Ctrl-C: one line, status 130, and still nothing left behind.
        again.watch()
        again.process.send_signal(signal.SIGINT)
        again.wait_for("stopping", 60)  # two signals sent at once arrive as one
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(120) == 130
        lines = [line for line in again.output().splitlines() if line.startswith("erroracle:")]
        assert lines == ["erroracle: interrupted: the round in progress was abandoned; the "
                         "champion and the lake are unchanged"], again.output()[-2000:]
        assert "Traceback" not in again.output() and "internal_kv" not in again.output()
        assert again.leftovers() == {}

        _ready(other_port).close()  # the other installation never noticed
        assert other.stop() == 0
        assert other.leftovers() == {}
    finally:
        for up in ups:
            up.kill()
