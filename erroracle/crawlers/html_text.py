"""Community HTML as plain text that keeps code, and the error a question is about."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

from erroracle.platform.error_lines import error_named_in, split_error_line
from erroracle.platform.traces import parse_trace

__all__ = ["QuestionError", "code_blocks", "error_in_blocks", "html_to_text",
           "markdown_code_blocks", "question_error"]

_BLOCKS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "hr"}


def html_to_text(markup: str) -> str:
    """Text of ``markup``: code blocks fenced with ```, inline code in backticks, links as their
    text, paragraphs apart."""
    if not markup:
        return ""
    soup = BeautifulSoup(markup, "html.parser")
    parts: list[str] = []
    _walk(soup, parts)
    lines = "".join(parts).splitlines()
    text, blank = [], False
    for line in lines:
        line = line.rstrip()
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip()


def _walk(node: Tag, parts: list[str]) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            parts.append(str(child))
        elif isinstance(child, Tag):
            if child.name == "pre":
                parts.append(f"\n```\n{child.get_text().strip(chr(10))}\n```\n")
            elif child.name == "code":
                parts.append(f"`{child.get_text()}`")
            else:
                block = child.name in _BLOCKS
                if block:
                    parts.append("\n")
                _walk(child, parts)
                if block:
                    parts.append("\n")


def code_blocks(markup: str) -> list[str]:
    """The ``<pre>`` blocks of ``markup``, as text."""
    if not markup:
        return []
    return [pre.get_text() for pre in BeautifulSoup(markup, "html.parser").find_all("pre")]


@dataclass(frozen=True)
class QuestionError:
    error_type: str | None
    message: str
    stack_trace: str | None


_FENCE = re.compile(r"^ {0,3}(```|~~~)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.M | re.S)
_INDENTED = re.compile(r"(?:^(?: {4}|\t).*(?:\n|$))+", re.M)


def markdown_code_blocks(text: str) -> list[str]:
    """The fenced (```) and indented code blocks of Markdown ``text``, fenced ones first."""
    if not text:
        return []
    fenced = [match.group(2) for match in _FENCE.finditer(text)]
    rest = _FENCE.sub("", text)
    indented = [re.sub(r"^(?: {4}|\t)", "", block, flags=re.M)
                for block in (m.group(0) for m in _INDENTED.finditer(rest))]
    return fenced + [block for block in indented if block.strip()]


def question_error(title: str, markup: str) -> QuestionError:
    """The error an HTML question shows (see :func:`error_in_blocks`)."""
    return error_in_blocks(title, code_blocks(markup), html_to_text(markup))


def error_in_blocks(title: str, blocks: list[str], text: str = "") -> QuestionError:
    """The error a post shows: a stack trace from its code blocks, else one anywhere in its
    ``text`` (people paste traces without fences), else an error line (``TypeError: ...``) of
    the blocks or the text, else its title."""
    title = html.unescape(title or "").strip()
    for block in [*blocks, text]:
        parsed = parse_trace(block)
        if parsed.language is not None and parsed.error_type:
            return QuestionError(parsed.error_type, parsed.message or title, block.strip())
    for block in [*blocks, text]:
        error_type, message = error_named_in(block)
        if error_type:
            return QuestionError(error_type, message, None)
    error_type, message = split_error_line(title)
    return QuestionError(error_type, message if error_type else title, None)
