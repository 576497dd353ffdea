"""Parse stack traces of Python, JVM, JavaScript/Node, Go, .NET, Ruby and PHP into type, message
and frames.

:func:`parse_trace` never raises: text that is not a trace comes back unchanged as the message,
with no frames. The error a trace is about is the exception that reached the top: the last one of
a chained Python traceback, the first line of a JVM or .NET trace (its causes are kept in
``causes``), the panic of a Go program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from erroracle.platform.error_lines import ERROR_LINE, error_named_in, split_error_line
from erroracle.platform.records import Frame
from erroracle.platform.trace_text import (
    PY_FRAME,
    PY_START,
    console_unwrapped,
    from_head,
    go_region,
    python_region,
    unescaped,
    without_log_prefix,
)
from erroracle.platform.traces_ruby_php import PHP_HEAD_LINE, RUBY_HEAD, parse_php, parse_ruby

__all__ = ["ParsedTrace", "error_named_in", "parse_trace", "split_error_line"]


@dataclass
class ParsedTrace:
    """What a trace says: its language, the error type and message, frames innermost last."""

    language: str | None
    error_type: str | None
    message: str
    frames: list[Frame] = field(default_factory=list)
    causes: list[tuple[str, str]] = field(default_factory=list)


_LIBRARY_PATH = re.compile(
    r"(site-packages|dist-packages|/lib/python\d|<frozen |node_modules|^node:|"
    r"^internal/|/usr/lib/|/usr/local/lib/|\\Microsoft\.NET\\|/go/pkg/mod/|/usr/local/go/src/)"
)
_JVM_LIBRARY = re.compile(
    r"^(java|javax|jdk|sun|com\.sun|kotlin|scala|org\.springframework|"
    r"org\.apache|org\.hibernate|io\.netty|reactor)\."
)
_DOTNET_LIBRARY = re.compile(r"^(System|Microsoft)\.")


def _python_module(path: str) -> str | None:
    """``.../site-packages/flask/app.py`` -> ``flask.app``; an app file -> its last two parts."""
    path = path.replace("\\", "/")
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = "/".join(path.rsplit("/", 2)[-2:])
    if not path.endswith(".py"):
        return None
    return path[:-3].replace("/", ".").removesuffix(".__init__")


# -- Python --------------------------------------------------------------------------------------

_GROUP_SEPARATOR = re.compile(r"^[-+]*-{4,}(?: \d+ -+| \.\.\.)?.*$")
_PY_CHAIN = re.compile(r"^(During handling of the above exception|The above exception was)")


def _dedent_to(lines: list[str], marker: str) -> list[str]:
    """Strip the indentation of the line holding ``marker`` (a trace quoted in a code block)."""
    indent = next((line[: line.index(marker)] for line in lines if marker in line), "")
    if indent.strip() or not indent:
        return lines
    return [line[len(indent) :] if line.startswith(indent) else line for line in lines]


def _python_frame(match: re.Match[str]) -> Frame:
    path = match.group("file")
    return Frame(
        file=path,
        function=match.group("func"),
        line=int(match.group("line")),
        module=_python_module(path),
        in_app=not _LIBRARY_PATH.search(path),
    )


def _python_error(tail: list[str]) -> tuple[str | None, str]:
    """The exception line that ends a traceback, past source lines pasted without their indent."""
    text = "\n".join(tail).strip()
    first = text.split("\n", 1)[0].strip()
    if ":" not in first and split_error_line(first, in_trace=True)[0]:
        return first, ""  # a bare "KeyboardInterrupt"; prose may follow without a blank line
    if split_error_line(first, in_trace=True)[0] is None:
        start = next((i for i, line in enumerate(tail) if ERROR_LINE.match(line.strip())), None)
        if start is not None:
            text = "\n".join(tail[start:]).strip()
    return split_error_line(text, in_trace=True)


def _parse_python(lines: list[str]) -> ParsedTrace:
    blocks: list[tuple[list[Frame], list[str]]] = [([], [])]
    in_frames = closed = False
    group_causes: list[tuple[str | None, str]] = []
    lines = _dedent_to(python_region(lines), "Traceback (most recent call last)")
    for index, raw in enumerate(lines):
        line = re.sub(r"^\s*[|+]\s?", "", raw) if raw.lstrip().startswith(("|", "+")) else raw
        if _GROUP_SEPARATOR.match(line.strip()):
            # "+---- 1 ----": the group's own traceback has ended; what follows are its members
            members = [split_error_line(m.strip(), in_trace=True) for m in
                       (re.sub(r"^\s*[|+]\s?", "", rest) for rest in lines[index + 1:])
                       if ERROR_LINE.match(m.strip())]
            group_causes = [m for m in members if m[0]]
            break
        if _PY_CHAIN.match(line.strip()):
            blocks.append(([], []))
            in_frames = closed = False
            continue
        if line.startswith("Traceback (most recent call last)") or "Exception Group" in line:
            if blocks[-1][0] and blocks[-1][1] and not raw.lstrip().startswith(("|", "+")):
                break  # another, separate traceback: the first one is the error reported
            in_frames, closed = True, False
            continue
        frame = PY_FRAME.match(line)
        if frame:
            blocks[-1][0].append(_python_frame(frame))
            blocks[-1][1].clear()  # text between frames (a truncation marker) is no message
            in_frames, closed = True, False
            continue
        followed_by_frame = index + 1 < len(lines) and PY_FRAME.match(lines[index + 1])
        if in_frames and (
            line.startswith("    ")
            or followed_by_frame
            or not line.strip()
            or set(line.strip()) <= set("^~ ")
        ):
            continue  # source lines and caret markers under a frame
        in_frames = False
        if not line.strip() and blocks[-1][1]:
            closed = True  # the exception's message ends at the first blank line
        if closed and ERROR_LINE.match(line.strip()) and not ERROR_LINE.match(
                blocks[-1][1][0].strip()):
            blocks[-1][1][:], closed = [line], False  # the tail was debris; this names the error
        elif not closed:
            blocks[-1][1].append(line)
    frames, tail = next(((f, t) for f, t in reversed(blocks) if t), blocks[-1])
    causes = [_python_error(t) for _, t in blocks[:-1] if t] + group_causes
    error_type, message = _python_error(tail)
    return ParsedTrace("python", error_type, message, frames, [c for c in causes if c[0]])


# -- JVM and .NET --------------------------------------------------------------------------------

_JVM_FRAME = re.compile(r"^\s*at (?P<func>[\w$.<>/]+)\((?P<where>[^)]*)\)")
_DOTNET_FRAME = re.compile(
    r"^\s*at (?P<func>[^(]+)\((?P<args>[^)]*)\)(?: in (?P<file>.+):line (?P<line>\d+))?"
)
_JVM_HEADER = re.compile(
    r'^\s*(?:Exception in thread "[^"]*" |Caused by: |Suppressed: |---> '
    r"|Unhandled [Ee]xception\.? )"
)


def _jvm_frame(match: re.Match[str]) -> Frame:
    function, where = match.group("func"), match.group("where")
    file, _, line = where.partition(":")
    module = function.rsplit(".", 1)[0] if "." in function else None
    return Frame(
        file=file or None,
        function=function.rsplit(".", 1)[-1],
        line=int(line) if line.isdigit() else None,
        module=module,
        in_app=not (module and _JVM_LIBRARY.match(module)),
    )


def _dotnet_frame(match: re.Match[str]) -> Frame:
    function = match.group("func").strip()
    module = function.rsplit(".", 1)[0] if "." in function else None
    return Frame(
        file=match.group("file"),
        function=function.rsplit(".", 1)[-1],
        line=int(match.group("line")) if match.group("line") else None,
        module=module,
        in_app=not (module and _DOTNET_LIBRARY.match(module)),
    )


def _parse_exception_chain(lines: list[str], language: str) -> ParsedTrace:
    frame_re, make = (
        (_JVM_FRAME, _jvm_frame) if language == "jvm" else (_DOTNET_FRAME, _dotnet_frame)
    )
    headers: list[tuple[str | None, str]] = []
    first_frames: list[Frame] = []
    for line in lines:
        match = frame_re.match(line)
        if match:
            if len(headers) <= 1:
                first_frames.append(make(match))
            continue
        stripped = line.strip()
        if not stripped or re.match(r"^\.\.\. \d+ (more|common frames omitted)", stripped):
            continue
        if stripped.startswith("--- End of"):
            continue
        header = _JVM_HEADER.sub("", line).strip()
        error_type, message = split_error_line(header, in_trace=not headers or header != stripped)
        if error_type:
            headers.append((error_type, message))
        elif headers:
            headers[-1] = (headers[-1][0], (headers[-1][1] + "\n" + stripped).strip())
    error_type, message = headers[0]
    first_frames.reverse()  # innermost last, like Python
    return ParsedTrace(language, error_type, message, first_frames, headers[1:])


# -- JavaScript / Node ---------------------------------------------------------------------------

_JS_FRAME = re.compile(r"^\s+at (?:(?P<func>.+?) \()?(?P<file>[^()\s]+?):(?P<line>\d+):\d+\)?$")


def _parse_js(lines: list[str]) -> ParsedTrace:
    frames, head = [], []
    for line in lines:
        match = _JS_FRAME.match(line)
        if match:
            path = match.group("file")
            frames.append(
                Frame(
                    file=path,
                    function=match.group("func") or "<anonymous>",
                    line=int(match.group("line")),
                    module=re.sub(r"\.[cm]?[jt]sx?$", "", path.rsplit("/", 1)[-1]),
                    in_app=not _LIBRARY_PATH.search(path),
                )
            )
        elif not frames:
            head.append(line)
    text = "\n".join(head).strip()
    error_line = next((h for h in head if ERROR_LINE.match(h.strip())), text)
    error_type, message = split_error_line(error_line)
    frames.reverse()  # innermost last, like Python
    return ParsedTrace("javascript", error_type, message, frames)


# -- Go ------------------------------------------------------------------------------------------

_GO_FILE = re.compile(r"^\s+(?P<file>\S+\.go):(?P<line>\d+)")


def _parse_go(lines: list[str]) -> ParsedTrace:
    first = lines[0]
    kind, _, message = first.partition(": ")
    error_type = kind
    if kind == "runtime error":
        error_type = "runtime.Error"
    elif message.startswith("runtime error: "):
        error_type, message = "runtime.Error", message[len("runtime error: ") :]
    frames: list[Frame] = []
    function: str | None = None
    for line in lines[1:]:
        file_match = _GO_FILE.match(line)
        if file_match and function:
            path = file_match.group("file")
            module, _, name = function.rpartition(".")
            frames.append(
                Frame(
                    file=path,
                    function=name,
                    line=int(file_match.group("line")),
                    module=module or None,
                    in_app=not _LIBRARY_PATH.search(path) and not module.startswith("runtime"),
                )
            )
            function = None
        elif line.startswith("created by "):
            function = line[len("created by ") :].split(" in goroutine")[0].strip()
        elif re.match(r"^[\w./*()-]+(?:\(.*\))?$", line.strip()) and "." in line:
            function = re.sub(r"\(.*\)$", "", line.strip())
    frames.reverse()
    return ParsedTrace("go", error_type, message.strip(), frames)


# -- dispatch ------------------------------------------------------------------------------------


def _language(lines: list[str]) -> str | None:
    text = "\n".join(lines)
    if any(PY_FRAME.match(line) for line in lines):
        return "python"
    if any(RUBY_HEAD.match(line.strip()) for line in lines):
        return "ruby"  # Ruby 2.5+ prints "Traceback (most recent call last):" too
    if PY_START.search(text):
        return "python"
    if re.search(r"^goroutine \d+ \[", text, re.M) and re.search(
        r"(?:panic|fatal error|runtime error): ", text
    ):
        return "go"
    if PHP_HEAD_LINE.search(text) and ("Stack trace:" in text or " on line " in text):
        return "php"
    if (
        re.search(r"^\s*at .+ in .+:line \d+\s*$", text, re.M)
        or "--- End of inner exception" in text
    ):
        return "dotnet"
    if re.search(
        r"^\s*at [\w$.<>/]+\([\w$.-]+\.(java|kt|scala|groovy|clj):\d+\)", text, re.M
    ) or re.search(r"^\s*at [\w$.<>/]+\((Native Method|Unknown Source)\)", text, re.M):
        return "jvm"
    if re.search(r"^\s+at (?:.+ \()?[^()\s]+:\d+:\d+\)?$", text, re.M):
        return "javascript"
    if re.search(r"^\s+at [\w.<>`]+\([^)]*\)\s*$", text, re.M) and any(
        ERROR_LINE.match(line.strip()) for line in lines
    ):
        return "dotnet"
    return None


def _one_line_language(line: str) -> str | None:
    if RUBY_HEAD.match(line):
        return "ruby"
    return "php" if PHP_HEAD_LINE.match(line) and " on line " in line else None


_PARSERS = {
    "python": _parse_python,
    "go": lambda lines: _parse_go(go_region(lines)),
    "ruby": lambda lines: ParsedTrace("ruby", *parse_ruby(lines)),
    "php": lambda lines: ParsedTrace("php", *parse_php(lines)),
    "javascript": lambda lines: _parse_js(from_head(lines, _JS_FRAME)),
    "jvm": lambda lines: _parse_exception_chain(from_head(lines, _JVM_FRAME), "jvm"),
    "dotnet": lambda lines: _parse_exception_chain(from_head(lines, _DOTNET_FRAME), "dotnet"),
}


_GUTTER = re.compile(r"^\s*\| ")


def parse_trace(text: str) -> ParsedTrace:
    """Parse ``text`` as a stack trace; anything else comes back unchanged as the message."""
    if not text or not text.strip():
        return ParsedTrace(None, None, text or "")
    lines = console_unwrapped(without_log_prefix(
        unescaped(text).replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")))
    # one line is a trace only as Ruby's head line or a PHP report; the other checks need more
    language = _language(lines) if len(lines) > 1 else _one_line_language(lines[0].strip())
    if language is None and len(lines) > 1 and _GUTTER.match(lines[-1]):
        lines = [_GUTTER.sub("    ", line, count=1) for line in lines]  # a log viewer's "  | "
        language = _language(lines)
    if language is None:
        error_type, message = split_error_line(text.strip()) if len(lines) == 1 else (None, text)
        return ParsedTrace(None, error_type, message if error_type else text)
    try:
        parsed = _PARSERS[language](lines)
    except (IndexError, ValueError, StopIteration, AttributeError):
        return ParsedTrace(None, None, text)
    if parsed.error_type is None and not parsed.frames:
        return ParsedTrace(None, None, text)
    return parsed
