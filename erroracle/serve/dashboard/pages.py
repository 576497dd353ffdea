"""Rendering the dashboard's pages: one Jinja2 environment over the bundled templates.

Autoescaping is on for every template, so an error message or a stack frame taken from the lake
is shown as text, never run as markup. Pages use no external URL (no CDN, no web font): the
dashboard works on a machine with no internet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from erroracle.serve.problems import ApiError

__all__ = ["ago", "refused_page", "render", "sparkline"]

_SPARK_WIDTH, _SPARK_HEIGHT = 96, 20


def sparkline(counts: list[int]) -> str:
    """The points of an SVG polyline for hourly counts, scaled to the busiest hour."""
    if not counts:
        return ""
    top = max(counts) or 1
    step = _SPARK_WIDTH / max(len(counts) - 1, 1)
    return " ".join(f"{i * step:.1f},{_SPARK_HEIGHT - 1 - count / top * (_SPARK_HEIGHT - 2):.1f}"
                    for i, count in enumerate(counts))


def ago(when: datetime | str | None, now: datetime | None = None) -> str:
    """'3 min ago', '2 h ago', '5 d ago'."""
    if when is None:
        return "-"
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    seconds = max(((now or datetime.now(UTC)) - moment).total_seconds(), 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


_templates = Environment(
    loader=PackageLoader("erroracle.serve.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
_templates.filters.update(sparkline=sparkline, ago=ago)


def render(name: str, **context: Any) -> str:
    return _templates.get_template(name).render(**context)


def refused_page(error: ApiError) -> Response:
    """A refusal as a page: to the login form without a session, else the reason and a way
    back."""
    if error.status == 401:
        return RedirectResponse("/ui/login", status_code=303)
    page = render("refused.html", viewer=None, csrf="", error=error)
    return HTMLResponse(page, status_code=error.status, headers=error.headers)
