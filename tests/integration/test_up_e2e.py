"""``erroracle up`` end to end with the shipped configuration: only the loop's intervals, the
number of training steps and where the sources are change (never a CPU, worker or replica
setting). It prints its resource plan, bootstraps, serves, and runs rounds by itself (crawling a
local Stack Exchange server, with Reddit failing for lack of credentials); errors are reported,
predicted and given feedback; a round promotes a candidate and predictions name it; crawled
solutions are suggested with their attribution; ``status`` shows the rounds; Ctrl-C stops it
cleanly, leaving no process of its own behind, and a second ``up`` carries on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from erroracle.platform.registry import Registry
from tests.conftest import ERRORACLE
from tests.crawlers.servers import ServerThread, StackExchange
from tests.crawlers.test_stackoverflow import questions
from tests.integration.serving import free_port

pytestmark = [pytest.mark.ray, pytest.mark.slow]
LEARNING = "/api/v1/learning"
KEY = "e2e-admin-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (Ray's raylet, GCS and workers, HAProxy, ...)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> dict[int, str]:
    """Those of ``pids`` still running (zombies count as gone), with their command lines."""
    running = {}
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if state != "Z":
            running[pid] = command.decode(errors="replace")[:200]
    return running


class Up:
    """One ``erroracle up`` process in a process group of its own, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path, *, command: list[str] | None = None,
                 args: tuple[str, ...] = (), cwd: Path | None = None) -> None:
        self.log = log
        self.process = subprocess.Popen([*(command or ERRORACLE), "up", *args], env=env,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT,
                                        cwd=cwd, start_new_session=True)
        self.seen: set[int] = set()

    def watch(self) -> set[int]:
        """Note the processes ``up`` runs now, to check later that none outlived it."""
        self.seen |= descendants(self.process.pid)
        return self.seen

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"up exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(180)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group (a no-op once it has ended)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(60)

    def leftovers(self, grace: float = 30) -> dict[int, str]:
        """Processes seen under ``up`` that are still running ``grace`` seconds after it ended."""
        deadline = time.monotonic() + grace
        while (left := alive(self.seen)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left


def rounds(env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run([*ERRORACLE, "status", "--json", "--rounds", "50"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["rounds"]


def _ready(port: int) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    deadline = time.monotonic() + 180
    while not client.get("/healthz").json().get("ready"):
        assert time.monotonic() < deadline, "the model never became ready"
        time.sleep(0.5)
    return client


def _version(client: httpx.Client) -> str:
    answer = client.post(f"{LEARNING}/predict", headers=AUTH,
                         json={"error_message": "KeyError: 'user'"})
    assert answer.status_code == 200, answer.text
    return answer.json()["model_version"]


@pytest.mark.timeout(1500)
def test_up_serves_learns_by_itself_and_carries_on(cli_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    port = free_port()
    site = StackExchange(*questions())
    with ServerThread(site.app) as server:
        # The shipped config; only times (intervals, steps) and the sources' places change.
        env = {**cli_env, "ERRORACLE_ADMIN_KEY": KEY, "ERRORACLE_SERVE__PORT": str(port),
               "ERRORACLE_SERVE__RELOAD_POLL_SECONDS": "1",
               "ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL": f"{server.url}/2.3",
               "ERRORACLE_SOURCES__STACKOVERFLOW__TAGS": '["python"]',
               "ERRORACLE_SOURCES__GITHUB__ENABLED": "false",
               "ERRORACLE_LOOP__CRAWL_EVERY": "1h", "ERRORACLE_LOOP__TRAIN_EVERY": "0s",
               "ERRORACLE_LOOP__MIN_NEW_RECORDS": "1", "ERRORACLE_LOOP__CHECK_EVERY": "1s",
               "ERRORACLE_TRAIN__MAX_STEPS": "2"}
        for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"):
            env.pop(name, None)

        # First start: bootstrap a (barely trained) model, serve, run the first round at once.
        up = Up(env, tmp_path / "up.log")
        try:
            up.wait_for("resources   ", 600)
            assert "resources   4 CPUs on 2 cores" in up.output() or os.cpu_count() != 2
            block = [line.split()[0] for line in up.output().splitlines()
                     if line[:12].rstrip() in ("serving", "docs", "dashboard", "data root",
                                               "champion", "api key", "keys", "resources")]
            assert block == ["serving", "docs", "dashboard", "data", "champion", "keys",
                             "resources"]  # the key comes from ERRORACLE_ADMIN_KEY here
            for chatter in ("Started Serve", "streaming_executor", "Loading weights"):
                assert chatter not in up.output()  # Ray's INFO lines and progress bars stay out
            client = _ready(port)
            up.watch()
            first_version = _version(client)
            reported = client.post(f"{LEARNING}/errors", headers=AUTH, json={"errors": [
                {"error_id": f"e2e-{n}", "error_message": f"ConnectionRefusedError: [Errno 111] "
                 f"redis at 10.0.0.{n}:6379", "solution": "Start redis first."}
                for n in range(5)]})
            assert reported.status_code == 202, reported.text
            predicted = client.post(f"{LEARNING}/predict", headers=AUTH, json={
                "error_message": "ConnectionRefusedError: [Errno 111] redis at 10.0.0.9:6379"})
            assert predicted.status_code == 200, predicted.text
            feedback = client.post(f"{LEARNING}/feedback", headers=AUTH, json={
                "prediction_id": predicted.json()["prediction_id"], "solution_worked": True,
                "suggestion_id": predicted.json()["suggestions"][0]["id"],
                "correct_category": "network"})
            assert feedback.status_code == 202, feedback.text
            up.wait_for("round 1 ended", 600)
            running = alive(up.watch()).values()
            assert any("haproxy" in c for c in running) and any("raylet" in c for c in running)
            # Reddit has no credentials and failed; the service kept answering all along.
            assert _version(client) in (first_version, rounds(env)[0].get("candidate"))
            client.close()
        finally:
            code = up.stop()
        assert code == 0 and "stopped" in up.output(), up.output()[-3000:]
        assert up.leftovers() == {}, "a clean stop left processes behind"
        [first] = rounds(env)
        crawled = first["stages"]["crawl"]["sources"]
        assert crawled["stackoverflow"]["new"] == 7 and first["records_seen"]["stackoverflow"] == 7
        assert crawled["reddit"]["error"].startswith("reddit: no credentials")
        assert first["decision"] in ("promoted", "kept") and first["stages"]["train"]["seconds"]

        # Second start carries on: no new bootstrap, rounds go on by themselves every 5 s, and
        # with longer training one is promoted; predictions then name the new version.
        env.update({"ERRORACLE_LOOP__CRAWL_EVERY": "5s", "ERRORACLE_LOOP__MIN_NEW_RECORDS": "0",
                    "ERRORACLE_TRAIN__MAX_STEPS": "60", "ERRORACLE_TRAIN__MAX_EPOCHS": "8"})
        again = Up(env, tmp_path / "again.log")
        try:
            again.wait_for("serving", 600)
            client = _ready(port)
            before = _version(client)
            again.wait_for("promoted", 900)
            promoted = next(r for r in rounds(env) if r["decision"] == "promoted"
                            and r["round"] > 1)
            deadline = time.monotonic() + 120
            while _version(client) == before:
                assert time.monotonic() < deadline, "Serve never loaded the promoted model"
                time.sleep(1)
            assert _version(client) == promoted["candidate"]
            # the "worked" above is a training pair of the rounds after it
            lineage = Registry(env["ERRORACLE_DATA_ROOT"]).info(promoted["candidate"]).lineage
            assert lineage["records_per_source"].get("feedback") == 1, lineage
            assert promoted["why"].startswith("better") and "reload" in promoted["stages"]
            # A crawled solution is suggested with its author and link.
            fixes = client.get(f"{LEARNING}/suggest-fix", headers=AUTH, params={
                "error_message": "KeyError: 'user' when reading a dict", "top_k": 5}).json()
            from_so = [s for s in fixes["suggestions"] if s["source"] == "stackoverflow"]
            assert from_so and from_so[0]["author"].startswith("helper")
            assert from_so[0]["url"].startswith("https://stackoverflow.com/questions/")
            assert from_so[0]["license"].startswith("CC BY-SA")
            client.close()
        finally:
            assert again.stop() == 0
        assert "bootstrapped" not in again.output()
        history = rounds(env)
        assert [r["round"] for r in history] == list(range(1, len(history) + 1))
        status = subprocess.run([*ERRORACLE, "status"], env=env, capture_output=True,
                                text=True, timeout=300)
        newest = [r for r in history if r["decision"] == "promoted"][-1]
        assert f"champion    {newest['candidate']}" in status.stdout
        assert "last rounds" in status.stdout and "promoted: better" in status.stdout
