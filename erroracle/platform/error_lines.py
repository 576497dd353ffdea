"""Lines that name an error: ``KeyError: 'user'``, ``Error [ERR_X]: ...``, ``Uncaught TypeError:
...`` in a console log, ``ActionView::Template::Error (...)`` in a Rails log. What a trace ends
or starts with, and what free text falls back to when it holds no whole trace."""

from __future__ import annotations

import re

__all__ = ["ERROR_LINE", "error_named_in", "split_error_line"]

# After the class: Node's "[ERR_X]" code, or .NET's HRESULT "(0x80131904)"; NUnit writes " : ".
_CODE = r"(?: \[(?P<code>[A-Z_]+)\]| \((?:0x[0-9A-Fa-f]+|\d+)(?:, \d+)?\))?"
#: A line that is an error: a conventional class name, then an optional code and message.
ERROR_LINE = re.compile(
    r"^(?P<type>(?:[A-Za-z_$][\w$]*(?:[.:]{1,2}|\\))*[A-Za-z_$][\w$]*"
    r"(?:Error|Exception|Exit|Interrupt|Warning|Fault|Failure|Exceeded|Timeout)|Error"
    # any class of a module of exceptions: django.core.exceptions.ImproperlyConfigured
    r"|(?:[A-Za-z_]\w*\.)*(?:exceptions?|exc|errors?)\.[A-Z]\w*)"
    rf"{_CODE}(?: ?:[ \t]*(?P<message>.*))?$",
    re.S,
)
_TRACE_ERROR_LINE = re.compile(
    r"^(?P<type>(?:[A-Za-z_$][\w$]*[.:]{1,2})*[A-Za-z_$][\w$]*)"
    rf"{_CODE}(?: ?:[ \t]*(?P<message>.*))?$",
    re.S,
)
_NODE_SYSCALL = re.compile(r"^\w+ (E[A-Z]{3,})\b")

# An error named inside a line of prose or a log: "Uncaught TypeError: ...", "... got
# KeyError: 'x'", Rails' "ActionView::Template::Error (undefined method ...)".
_NAMED_IN_LINE = re.compile(
    r"(?<![\w.$\\])(?P<type>(?:(?:[A-Za-z_$][\w$]*(?:\.|::|\\))+(?:[A-Za-z_$][\w$]*)?"
    r"|[A-Za-z_$][\w$]*)(?:Error|Exception))(?: \((?:0x[0-9A-Fa-f]+|\d+)\))?"
    r"(?::[ \t]+(?P<message>.*)| \((?P<paren>.*))"
)
# Ruby's "message (NoMethodError)" without the file and line before it
_RUBY_TAIL = re.compile(r"^\s*(?P<message>\S.*) \((?P<type>[A-Z]\w*(?:::[A-Z]\w*)*"
                        r"(?:Error|Exception))\)\s*$")

# What PHP (and browsers) print for an exception nobody caught: "Uncaught Error: ...",
# PHP 5's "Uncaught exception 'PDOException' with message ..."
_UNCAUGHT = re.compile(
    r"\bUncaught (?:exception '(?P<old>[A-Za-z_\\][\w\\]*)'|(?P<type>[A-Za-z_\\][\w\\]*):)"
)


def error_named_in(text: str) -> tuple[str | None, str]:
    """The first error a free text names: a line that is an error line, else an uncaught
    exception or an error class followed by ``: message`` anywhere in a line (or by
    ``(message`` for a namespaced Ruby class). ``(None, text)`` when there is none."""
    lines = text.splitlines()
    for line in lines:
        error_type, message = split_error_line(line.strip())
        if error_type:
            return error_type, message
    for line in lines:
        ruby = _RUBY_TAIL.match(line)
        if ruby:
            return ruby.group("type"), ruby.group("message")
        uncaught = _UNCAUGHT.search(line)
        if uncaught:
            return uncaught.group("type") or uncaught.group("old"), line[uncaught.end():].strip()
        for match in _NAMED_IN_LINE.finditer(line):
            if match.group("paren") is None or "::" in match.group("type"):
                message = match.group("message") or match.group("paren") or ""
                return match.group("type"), message.strip().rstrip(")").strip()
    return None, text


def split_error_line(line: str, *, in_trace: bool = False) -> tuple[str | None, str]:
    """``"KeyError: 'user'"`` -> ``("KeyError", "'user'")``; other text -> ``(None, text)``.

    Free text must name a conventional error class (``...Error``, ``...Exception``); the line
    that closes a trace (``in_trace``) may name any class, such as ``UserNotFound``.
    """
    pattern = _TRACE_ERROR_LINE if in_trace else ERROR_LINE
    match = pattern.match(line.strip())
    if not match:
        return None, line
    error_type, message = match.group("type"), (match.group("message") or "").strip()
    if error_type == "Error" and not in_trace:
        if not message:
            return None, line  # "Error:" is a label in prose
        inner, inner_message = split_error_line(message)
        if inner and inner != "Error":
            return inner, inner_message  # "Error: TypeError: ..."
    code = match.group("code")
    syscall = _NODE_SYSCALL.match(message) if error_type == "Error" else None
    if code:
        error_type = code
    elif syscall:
        error_type = syscall.group(1)
    return error_type, message
