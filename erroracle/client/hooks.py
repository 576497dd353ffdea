"""``sys.excepthook`` and ``threading.excepthook`` that report an uncaught exception, then hand it
to the hook that was there before (the default one prints the traceback as always)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["install_excepthooks"]

_MARK = "__erroracle_hook__"


Capture = Callable[..., Any]


def _report(capture: Capture, error: BaseException | None) -> None:
    if error is not None and not isinstance(error, KeyboardInterrupt | SystemExit):
        capture(error, level="fatal")


def _sys_hook(capture: Capture, previous: Any) -> Any:
    def hook(kind: type[BaseException], error: BaseException,
             tb: TracebackType | None) -> None:
        try:
            _report(capture, error)
        finally:
            previous(kind, error, tb)

    setattr(hook, _MARK, True)
    return hook


def _thread_hook(capture: Capture, previous: Any) -> Any:
    def hook(args: threading.ExceptHookArgs) -> None:
        try:
            _report(capture, args.exc_value)
        finally:
            previous(args)

    setattr(hook, _MARK, True)
    return hook


def install_excepthooks(capture: Capture) -> None:
    """Wrap the current hooks once (installing twice does not report twice).

    Args:
        capture: called as ``capture(error, level="fatal")``; it must never raise.
    """
    if not getattr(sys.excepthook, _MARK, False):
        sys.excepthook = _sys_hook(capture, sys.excepthook)
    if not getattr(threading.excepthook, _MARK, False):
        threading.excepthook = _thread_hook(capture, threading.excepthook)
