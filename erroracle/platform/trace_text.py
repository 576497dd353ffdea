"""Where a stack trace sits inside pasted text, and the trace as its program printed it.

Issue and forum bodies put prose, prompts, log prefixes, Markdown fences, HTML and ``>`` quotes
around a trace, and sometimes paste it from a repr (``\\n`` for newlines, doubled backslashes).
:mod:`erroracle.platform.traces` parses what this module cuts out.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["PY_FRAME", "PY_START", "console_unwrapped", "from_head", "go_region", "python_region",
           "unescaped", "without_log_prefix"]

#: The header of a Python traceback; a paste that lost its first letter still counts.
PY_START = re.compile(r"(?:T|t)?raceback \(most recent call last\)")
#: A Python frame line, also behind a code span's backticks.
PY_FRAME = re.compile(
    r'^\s*(?:`+\s*)?File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$'
)
# Markdown fences and the HTML that issue and forum bodies wrap traces in end a message like a
# blank line does.
_WRAPPER = re.compile(r"^\s*(?:```|~~~|</?(?:details|summary|pre|code|blockquote)\b[^>]*>)",
                      re.I)
_QUOTE = re.compile(r"^(?:\s*>)+ ?")
_ESCAPED_TRACE = re.compile(r"raceback \(most recent call last\):\\n")
_FLAT_TRACE = re.compile(r'raceback \(most recent call last\):? +File "')
_FLAT_FRAME = re.compile(r'(?<=\S) +(File "[^"]+", line \d+)')


def unescaped(text: str) -> str:
    """A traceback logged as a repr (``'Traceback ...:\\n  File ...'``) or flattened onto one
    line (a quote that lost its newlines) with its lines back."""
    if "raceback" not in text:
        return text
    if _ESCAPED_TRACE.search(text):
        text = text.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"')
    if _FLAT_TRACE.search(text):
        text = "\n".join(_unflattened(line) for line in text.split("\n"))
    return text


def _unflattened(line: str) -> str:
    if not _FLAT_TRACE.search(line):
        return line
    frames = _FLAT_FRAME.sub(r"\n  \1", line).split("\n")
    errors = list(_NAMED_ERROR_COLON.finditer(frames[-1]))
    if errors:  # the exception line follows the last frame's source on the same line
        frames[-1] = frames[-1][: errors[-1].start()] + "\n" + frames[-1][errors[-1].start():]
    return "\n".join(frames)


def python_region(lines: list[str]) -> list[str]:
    """The lines from the first traceback on, as Python printed them: without the prose,
    prompt or command line before it, the ``>`` of a quote, the fences and tags around it, and
    doubled backslashes in its paths (a traceback pasted from a JSON string or a repr)."""
    start = next((i for i, line in enumerate(lines) if PY_START.search(line)), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if PY_FRAME.match(line)), 0)
    quoted = bool(_QUOTE.match(lines[start]))
    region = []
    for line in lines[start:]:
        if quoted:
            line = _QUOTE.sub("", line, count=1)
        if _WRAPPER.match(line):
            line = ""
        if 'File "' in line and "\\\\" in line:
            line = line.replace("\\\\", "\\")
        region.append(line)
    header = PY_START.search(region[0])
    if header:  # a prompt or a log prefix on its line goes; an indent stays
        prefix = region[0][: header.start()]
        region[0] = (prefix if not prefix.strip() else "") + "Traceback (most recent call last)" \
            + region[0][header.end():]
    return region


# A line that names an error: a class (dotted or not) ending in Error/Exception/... followed by
# ": message" or the end of the line, after whatever prefix (a timestamp, "Unhandled exception.").
_ERROR_NAME = (r"(?<![\w.$\\])(?:[A-Za-z_$][\w$]*[.\\])*[A-Za-z_$][\w$]*"
               r"(?:Error|Exception|Throwable|Exit|Interrupt|Fault|Failure|Timeout)")
_NAMED_ERROR = re.compile(
    _ERROR_NAME + r"(?=(?: \((?:0x[0-9A-Fa-f]+|\d+)\))?(?::\s|:$|\s*$))")  # .NET's HRESULT
_NAMED_ERROR_COLON = re.compile(_ERROR_NAME + r"(?=: )")
_KEEP_PREFIX = re.compile(
    r'^\s*(?:Exception in thread "[^"]*" |Caused by: |Unhandled [Ee]xception)'
)
_CHAINED = re.compile(r"^\s*(?:--->|Caused by: )")
_GLUED_FRAME = re.compile(r"(?<=[a-z])at (?=[\w$.]+\([\w$.-]+\.\w+:\d+\)\s*$)")


def from_head(lines: list[str], is_frame: re.Pattern[str]) -> list[str]:
    """The lines from the error line that heads the first run of frames on: prose, log lines
    and prompts before it go, and so does a prefix on the error line itself."""
    first = next((i for i, line in enumerate(lines) if is_frame.match(line)), None)
    if first is None:
        return lines
    for index in range(first - 1 if first else 0, -1, -1):
        line = _GLUED_FRAME.sub("\n\tat ", lines[index]) if index == first - 1 else lines[index]
        named = _NAMED_ERROR.search(line.split("\n", 1)[0])
        if named is None or _CHAINED.match(line) and index and _NAMED_ERROR.search(
                lines[index - 1]):
            continue  # an inner exception or a cause: the head is above it
        if not _KEEP_PREFIX.match(line):
            line = line[named.start():]
        return line.split("\n") + lines[index + 1:]
    return lines[first - 1:] if first else lines


_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[")
_GO_HEAD = re.compile(r"(?:panic|fatal error|runtime error): ")


def go_region(lines: list[str]) -> list[str]:
    """The lines from a Go program's panic line on (the line nearest above its first goroutine
    that says ``panic:``, ``fatal error:`` or ``runtime error:``), cut to where that starts."""
    goroutine = next((i for i, line in enumerate(lines) if _GO_GOROUTINE.match(line)), None)
    if goroutine is None:
        return lines
    for index in range(goroutine, -1, -1):
        head = _GO_HEAD.search(lines[index])
        if head:
            return [lines[index][head.start():]] + lines[index + 1:]
    return lines


_CONSOLE_WIDTHS = (80, 100, 120, 132)


def console_unwrapped(lines: list[str]) -> list[str]:
    """Lines a console wrapped at its width (a Windows prompt's 80 columns) joined again: at
    least three lines exactly as wide as a console, each continued on the next line."""
    if len(lines) < 3:
        return lines
    widths = Counter(len(line) for line in lines if len(line) in _CONSOLE_WIDTHS)
    if not widths or widths.most_common(1)[0][1] < 3:
        return lines
    width = widths.most_common(1)[0][0]
    joined, pending = [], ""
    for line in lines:
        pending += line
        if len(line) != width:
            joined.append(pending)
            pending = ""
    return joined + ([pending] if pending else [])


# What process managers, docker compose, torchrun, journald and loggers put before each line:
# "3|worker | ", "api-1    | ", "[rank0]: ", "May 31 13:41:54 host app[96]: ", a timestamp, and
# the "> " of a quote
_LOG_PREFIX = re.compile(
    r"^(?:[\w.:/@|-]{1,40}\s*\| |\[[\w.:-]{1,40}\]: |> "
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} [\w.-]+ [\w./-]+(?:\[\d+\])?: "
    r"|[A-Z]?\d{4}-?\d{2}-?\d{2}[T -]?\d{2}:\d{2}:\d{2}[\d.,:()?+-]*Z?(?: \(\w+\))? )"
)


def without_log_prefix(lines: list[str]) -> list[str]:
    """The lines without the prefix a process manager, a container runtime or a logger put
    before each of them: one shape of prefix (its digits aside) on at least three lines and on
    half of them."""
    if len(lines) < 3:
        return lines
    shapes = Counter(re.sub(r"\d", "0", m.group(0)) for line in lines
                     if (m := _LOG_PREFIX.match(line)))
    if not shapes:
        return lines
    shape, count = shapes.most_common(1)[0]
    if count < 3 or count * 2 < len(lines):
        return lines
    stripped = []
    for line in lines:
        match = _LOG_PREFIX.match(line)
        same = match is not None and re.sub(r"\d", "0", match.group(0)) == shape
        stripped.append(line[match.end():] if same else line)
    return stripped
