"""Processes that embed the client: exit delivers what is queued (silently), and a forked child
(a gunicorn ``--preload`` worker) gets its own sender."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.client.platform_server import PlatformServer

PRELUDE = """
import os, sys
import erroracle.client as client
client.init(sys.argv[1], "k", service="worker", flush_interval=5)
def capture(label, count):
    for index in range(count):
        try:
            raise RuntimeError(f"{label} {index}")
        except RuntimeError:
            client.capture_exception()
"""


def run(script: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(script)
    return subprocess.run([sys.executable, "-c", code, endpoint], capture_output=True,
                          text=True, timeout=60)


def test_a_process_that_exits_delivers_every_event(platform: PlatformServer) -> None:
    done = run("capture('job', 20)\n", platform.endpoint)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    messages = sorted(event["message"] for event in platform.events())
    assert messages == sorted(f"job {index}" for index in range(20))


def test_exit_with_the_platform_down_prints_nothing_and_is_bounded(refused_endpoint: str) -> None:
    done = run("capture('lost', 3)\n", refused_endpoint)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_forked_child_delivers_its_own_events(platform: PlatformServer) -> None:
    done = run("""
        capture('parent', 3)
        pid = os.fork()
        if pid == 0:
            capture('child', 4)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        capture('parent-after', 2)
        """, platform.endpoint)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    messages = sorted(event["message"] for event in platform.events())
    expected = ([f"parent {i}" for i in range(3)] + [f"child {i}" for i in range(4)]
                + [f"parent-after {i}" for i in range(2)])
    assert messages == sorted(expected)
