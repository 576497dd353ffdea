"""Turning an exception or a message into an event, cheaply, on the app's own thread.

Only strings leave this module: no frame, local variable or exception object is kept, so a queued
event holds no reference into the app. Source lines are not read (that would touch the disk on the
caller's thread); the platform parses the trace text and the frames as any other stack trace.
"""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
import traceback
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

__all__ = ["EventBuilder", "exc_info_error"]

MESSAGE_LIMIT = 8_192
TRACE_LIMIT = 65_536
FRAME_LIMIT = 200
CHAIN_LIMIT = 10
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _library_roots() -> tuple[str, ...]:
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    paths = {sysconfig.get_paths().get(name) for name in names}
    return tuple(sorted(os.path.join(os.path.realpath(p), "") for p in paths if p))


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - an app's __str__ may raise anything; the event must go on.
        return f"<unprintable {type(value).__name__}>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " [...truncated]"


def _chain(error: BaseException) -> list[tuple[BaseException, str]]:
    """The exceptions as Python prints them (first cause first), each with the text after it."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    joint = ""
    while current is not None and id(current) not in seen and len(chain) < CHAIN_LIMIT:
        seen.add(id(current))
        chain.append((current, joint))
        if current.__cause__ is not None:
            current, joint = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, joint = current.__context__, _CONTEXT
        else:
            current = None
    chain.reverse()
    return chain


class EventBuilder:
    """Builds events with the app's identity (service, environment, release, host).

    Args:
        service, environment, release: where the app runs, sent with every event.
        in_app_include: module prefixes that are the app's own code even when installed as a
            library; everything outside the standard library and site-packages is in-app too.
        in_app_exclude: module prefixes that are never in-app.
    """

    def __init__(self, *, service: str | None, environment: str | None, release: str | None,
                 in_app_include: Iterable[str] = (), in_app_exclude: Iterable[str] = ()) -> None:
        self._base = {
            "service": service, "environment": environment, "release": release,
            "host": _host(),
        }
        self._include = tuple(in_app_include)
        self._exclude = tuple(in_app_exclude)
        self._roots = _library_roots()
        self._in_app_cache: dict[tuple[str, str], bool] = {}

    def exception(self, error: BaseException, *, level: str, message: str | None = None,
                  tags: Iterable[str] = (), body: str | None = None) -> dict[str, Any]:
        """An event for ``error`` (its whole ``__cause__``/``__context__`` chain in the trace)."""
        frames = self._frames(error.__traceback__)
        trace = "".join(self._trace_part(exc, joint) for exc, joint in _chain(error))
        text = _text(error)
        if message and message != text:
            text = f"{message}: {text}" if text else message
        return self._event(error_type=type(error).__qualname__, message=text, level=level,
                           stack_trace=_cut(trace, TRACE_LIMIT), frames=frames, tags=tags,
                           body=body)

    def message(self, message: str, *, level: str, tags: Iterable[str] = ()) -> dict[str, Any]:
        """An event for a message that carries no exception (``capture_message``, a log line)."""
        return self._event(error_type=None, message=_text(message), level=level,
                           stack_trace=None, frames=[], tags=tags, body=None)

    def _event(self, *, error_type: str | None, message: str, level: str,
               stack_trace: str | None, frames: list[dict[str, Any]], tags: Iterable[str],
               body: str | None) -> dict[str, Any]:
        event = {
            "id": uuid.uuid4().hex,
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "error_type": error_type,
            "message": _cut(message, MESSAGE_LIMIT),
            "level": level,
            "stack_trace": stack_trace,
            "frames": frames,
            "tags": list(tags),
            "body": body,
            **self._base,
        }
        return {key: value for key, value in event.items() if value not in (None, [], "")}

    def _frames(self, tb: TracebackType | None) -> list[dict[str, Any]]:
        frames = []
        for frame, line in traceback.walk_tb(tb):
            code = frame.f_code
            module = frame.f_globals.get("__name__") or ""
            frames.append({
                "file": code.co_filename, "function": code.co_name, "line": line,
                "module": module, "in_app": self._in_app(module, code.co_filename),
            })
        if len(frames) > FRAME_LIMIT:
            half = FRAME_LIMIT // 2
            frames = frames[:half] + frames[-half:]
        return frames

    def _trace_part(self, error: BaseException, joint: str) -> str:
        lines = ["Traceback (most recent call last):\n"] if error.__traceback__ else []
        for frame, line in traceback.walk_tb(error.__traceback__):
            lines.append(f'  File "{frame.f_code.co_filename}", line {line}, '
                         f"in {frame.f_code.co_name}\n")
        if len(lines) > FRAME_LIMIT:
            lines = lines[: FRAME_LIMIT // 2] + ["  ...\n"] + lines[-FRAME_LIMIT // 2:]
        name = type(error).__qualname__
        module = type(error).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        text = _text(error)
        lines.append(f"{name}: {text}\n" if text else f"{name}\n")
        return "".join(lines) + joint

    def _in_app(self, module: str, filename: str) -> bool:
        key = (module, filename)
        known = self._in_app_cache.get(key)
        if known is None:
            known = self._decide_in_app(module, filename)
            if len(self._in_app_cache) < 10_000:
                self._in_app_cache[key] = known
        return known

    def _decide_in_app(self, module: str, filename: str) -> bool:
        def under(prefixes: tuple[str, ...]) -> bool:
            return any(module == p or module.startswith(p + ".") for p in prefixes)

        if under(self._exclude):
            return False
        if under(self._include):
            return True
        if filename.startswith("<") or "site-packages" in filename or "dist-packages" in filename:
            return False
        path = os.path.realpath(filename) if os.path.isabs(filename) else filename
        return not path.startswith(self._roots)


def _host() -> str | None:
    try:
        return socket.gethostname() or None
    except OSError:
        return None


def exc_info_error(exc_info: Any) -> BaseException | None:
    """The exception in ``exc_info`` (``True``, a tuple, or an exception), else the current one."""
    if exc_info is True or exc_info is None:
        return sys.exc_info()[1]
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    return None
