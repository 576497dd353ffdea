"""Ruby and PHP traces, for :func:`erroracle.platform.traces.parse_trace`.

Each parser returns the error type, the message and the frames (innermost last); the caller wraps
them, so this module needs nothing from it.
"""

from __future__ import annotations

import re

from erroracle.platform.records import Frame

__all__ = ["PHP_HEAD_LINE", "RUBY_HEAD", "parse_php", "parse_ruby"]

Parsed = tuple[str | None, str, list[Frame]]
#: A line that opens a PHP error report.
PHP_HEAD_LINE = re.compile(
    r"^(?:\[[^\]\n]*\] ?|\( ! \) |`)?(?:PHP )?"
    r"(?:Fatal error|Warning|Notice|Deprecated|Parse error):",
    re.M,
)

_RUBY_FRAME = re.compile(
    r"^\s*(?:\d+: )?(?:from )?(?P<file>(?:[A-Za-z]:)?[^\s:][^:]*):(?P<line>\d+)"
    r":in [`'](?P<func>[^']+)'"
)
RUBY_HEAD = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^\s:][^:]*):(?P<line>\d+):in [`'](?P<func>[^']+)': (?P<message>.*) "
    r"\((?P<type>[A-Z][\w:]*)\)$"
)
_RUBY_LIBRARY = re.compile(r"/gems/|/rubygems/|/lib/ruby/|<internal:")


def _ruby_frame(match: re.Match[str]) -> Frame:
    path = match.group("file")
    function = match.group("func").rsplit("#", 1)[-1].rsplit(".", 1)[-1]
    return Frame(file=path, function=function, line=int(match.group("line")),
                 module=re.sub(r"\.rb$", "", path.rsplit("/", 1)[-1]),
                 in_app=not _RUBY_LIBRARY.search(path))


def parse_ruby(lines: list[str]) -> Parsed:
    """``file:line:in `method': message (Type)`` then ``from file:line:in ...`` lines."""
    head = next(m for line in lines if (m := RUBY_HEAD.match(line.strip())))
    frames = [_ruby_frame(m) for line in lines if (m := _RUBY_FRAME.match(line))]
    frames.reverse()  # Ruby prints the innermost first
    return head.group("type"), head.group("message"), frames


_PHP_HEAD = re.compile(
    r"^(?:\[[^\]]*\] ?|\( ! \) )?(?:PHP )?(?P<level>Fatal error|Warning|Notice|Deprecated"
    r"|Parse error):\s+"
    # PHP 7+: "Uncaught Type: message"; PHP 5: "Uncaught exception 'Type' with message '...'"
    r"(?:Uncaught (?:exception '(?P<old_type>[A-Za-z_\\][\w\\]*)' with message )?"
    r"(?:(?P<type>[A-Za-z_\\][\w\\]*):)?\s*)?(?P<message>.*?)"
    r"(?: in (?P<file>\S+?)(?::\d+| on line \d+))?$"
)
# Xdebug's table puts the exception on its own line: "( ! ) PDOException: in ... on line 116"
_XDEBUG_EXCEPTION = re.compile(r"^\( ! \) (?P<type>[A-Za-z_\\][\w\\]*(?:Exception|Error)):")
_PHP_FRAME = re.compile(r"^#\d+ (?P<file>[^(]+)\((?P<line>\d+)\): (?P<func>[^(]+)\(")
_PHP_LIBRARY = re.compile(r"/vendor/")


def _php_frame(match: re.Match[str]) -> Frame:
    owner, _, function = match.group("func").rpartition("->")
    if not owner:
        owner, _, function = match.group("func").rpartition("::")
    return Frame(file=match.group("file"), function=function, line=int(match.group("line")),
                 module=owner or None, in_app=not _PHP_LIBRARY.search(match.group("file")))


def parse_php(lines: list[str]) -> Parsed:
    """``PHP Fatal error:  Uncaught Type: message in file:line``, ``Stack trace:``, ``#0 ...``;
    a warning or notice without an exception is typed by its level (``Warning``)."""
    head = next(m for line in lines if (m := _PHP_HEAD.match(line.strip().strip("`"))))
    xdebug = next((m for line in lines if (m := _XDEBUG_EXCEPTION.match(line.strip()))), None)
    error_type = (head.group("old_type") or head.group("type")
                  or (xdebug.group("type") if xdebug else None)
                  or head.group("level").title().replace(" ", ""))
    frames = [_php_frame(m) for line in lines
              if (m := _PHP_FRAME.match(line.strip().strip("`")))]
    frames.reverse()
    return error_type, head.group("message").strip(), frames
