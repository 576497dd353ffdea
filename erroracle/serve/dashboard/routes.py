"""The dashboard's pages and forms under ``/ui``: issues, one issue, models and sources.

A mixin of the ingress deployment, like the issue routes: it uses the ingress's ``store``,
``keys``, ``sessions``, ``registry``, ``limiter``, ``_timed``, ``_body``, ``_suggest_batch`` and
``_store_feedback``, so a page shows exactly what the API answers and a form writes exactly what
the API writes. Every page needs a session (``/ui/login`` otherwise); every form needs the
session's CSRF token (403 otherwise) and the scope its action needs (a read-only key changes
nothing).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from erroracle.errors import ModelNotReady
from erroracle.platform.issue_list import SOURCES, TABS, IssueQuery, similar_issues
from erroracle.platform.issue_status import status_change
from erroracle.platform.record_text import error_text
from erroracle.platform.round_history import RoundHistory
from erroracle.serve.api import api
from erroracle.serve.auth import ApiKey, digest
from erroracle.serve.dashboard.pages import refused_page, render
from erroracle.serve.dashboard.sessions import COOKIE, SESSION_SECONDS, Session
from erroracle.serve.problems import ApiError
from erroracle.serve.schemas import FeedbackRequest, validated

__all__ = ["UI", "DashboardRoutes"]

UI = "/ui"
Form = dict[str, list[str]]


def _first(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _back(request: Request, fallback: str) -> str:
    """Where a form came from, when that is a dashboard page (never another site)."""
    referer = request.headers.get("referer", "")
    path = referer.split(str(request.base_url).rstrip("/"), 1)[-1] if referer else ""
    return path if path.startswith(UI + "/") else fallback


def _see(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


class DashboardRoutes:
    """The ``/ui`` routes."""

    store: Any
    keys: Any
    sessions: Any
    registry: Any
    limiter: Any

    # -- sessions ---------------------------------------------------------------------------

    def _viewer(self, request: Request) -> tuple[Session, ApiKey]:
        session = self.sessions.read(request.cookies.get(COOKIE))
        api_key = self.keys.by_digest.get(session.key_digest) if session else None
        if session is None or api_key is None or api_key.expired():
            raise ApiError(401, "unauthorized", "log in with an API key")
        self.limiter.take(api_key)
        return session, api_key

    async def _form(self, request: Request, scope: str) -> tuple[Form, ApiKey]:
        """The posted form of a logged-in person, checked for its CSRF token and ``scope``."""
        session, api_key = self._viewer(request)
        raw = await self._body(request)
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if not session.accepts(_first(form, "csrf")):
            raise ApiError(403, "csrf_failed", "the form's CSRF token is missing or wrong; "
                           "reload the page and try again", field="csrf")
        if scope not in api_key.scopes and "admin" not in api_key.scopes:
            raise ApiError(403, "forbidden", f"your key has no {scope!r} scope")
        return form, api_key

    def _page(self, name: str, request: Request, **context: Any) -> HTMLResponse:
        session, api_key = self._viewer(request)
        return HTMLResponse(render(name, csrf=session.csrf, viewer=api_key, **context))

    def _set_status(self, issue: str, change: dict[str, Any], api_key: ApiKey) -> dict[str, Any]:
        return self.store.issues.set_status(issue, change, by=f"{api_key.name} (dashboard)")

    async def _ui(self, route: str, handler: Any, *args: Any) -> Response:
        return await self._timed(f"ui-{route}", handler, *args, refused=refused_page)

    @api.get(UI, include_in_schema=False)
    async def ui_root(self) -> Response:
        return _see(UI + "/")

    @api.get(UI + "/login", include_in_schema=False)
    async def ui_login_page(self, request: Request) -> Response:
        return HTMLResponse(render("login.html", csrf=self.sessions.login_token(), viewer=None,
                                   failed=request.query_params.get("failed") == "1"))

    @api.post(UI + "/login", include_in_schema=False)
    async def ui_login(self, request: Request) -> Response:
        return await self._ui("login", self._login, request)

    async def _login(self, request: Request) -> Response:
        form = parse_qs((await self._body(request)).decode("utf-8", "replace"))
        if not self.sessions.login_token_valid(_first(form, "csrf")):
            raise ApiError(403, "csrf_failed", "the login form is too old; reload it",
                           field="csrf")
        key = (_first(form, "key") or "").strip()
        api_key = self.keys.identify(key)
        if api_key is None:
            return _see(UI + "/login?failed=1")
        self.limiter.take(api_key)
        cookie, _ = self.sessions.start(digest(key))
        response = _see(UI + "/")
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, path=UI, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    @api.post(UI + "/logout", include_in_schema=False)
    async def ui_logout(self, request: Request) -> Response:
        return await self._ui("logout", self._logout, request)

    async def _logout(self, request: Request) -> Response:
        await self._form(request, "read")
        response = _see(UI + "/login")
        response.delete_cookie(COOKIE, path=UI)
        return response

    # -- issues -----------------------------------------------------------------------------

    @api.get(UI + "/", include_in_schema=False)
    async def ui_issues(self, request: Request) -> Response:
        return await self._ui("issues", self._issues_page, request)

    async def _issues_page(self, request: Request) -> Response:
        self._viewer(request)
        query = self._call(IssueQuery.parse, request.query_params)
        found = await run_in_threadpool(self.store.issue_list, query)
        params = {name: value for name, value in request.query_params.items()
                  if name not in ("status", "offset")}
        return self._page("issues.html", request, query=query, found=found, tabs=TABS,
                          sources=SOURCES,
                          tab_link=lambda tab: f"?{urlencode({**params, 'status': tab})}",
                          page_link=lambda offset: "?" + urlencode(
                              {**params, "status": query.status, "offset": offset}))

    @api.post(UI + "/issues/bulk", include_in_schema=False)
    async def ui_bulk(self, request: Request) -> Response:
        return await self._ui("bulk", self._bulk, request)

    async def _bulk(self, request: Request) -> Response:
        form, api_key = await self._form(request, "admin")
        change = self._call(status_change, _first(form, "status") or "")
        chosen = form.get("issue", [])
        if not chosen:
            raise ApiError(422, "validation_error", "choose at least one issue", field="issue")
        for issue in chosen:
            self._call(self.store.issues.resolve, issue)  # all or nothing: check every id first
        for issue in chosen:
            await run_in_threadpool(self._call, self._set_status, issue, change, api_key)
        return _see(_back(request, UI + "/"))

    @api.get(UI + "/issues/{issue}", include_in_schema=False)
    async def ui_issue(self, issue: str, request: Request) -> Response:
        return await self._ui("issue", self._issue_page, issue, request)

    async def _issue_page(self, issue: str, request: Request) -> Response:
        self._viewer(request)
        detail = await run_in_threadpool(self._call, self.store.issue, issue)
        events = await run_in_threadpool(self.store.issue_events, detail["issue"], 20)
        everything = await run_in_threadpool(self.store.issue_list,
                                             IssueQuery(status="all", limit=1000))
        suggestions: list[dict[str, Any]] = []
        model_note = None
        if events:
            try:
                answer = await self._suggest_batch({"text": error_text(events[0]), "top_k": 5,
                                                    "domain": None})
                suggestions = answer["suggestions"]
            except ApiError as exc:
                model_note = exc.message
        return self._page("issue.html", request, issue=detail, events=events,
                          latest=events[0] if events else None, suggestions=suggestions,
                          model_note=model_note,
                          request_thanks=request.query_params.get("thanks") == "1",
                          similar=similar_issues(everything["issues"], detail["issue"]))

    @api.post(UI + "/issues/{issue}/status", include_in_schema=False)
    async def ui_issue_status(self, issue: str, request: Request) -> Response:
        return await self._ui("issue-status", self._issue_status, issue, request)

    async def _issue_status(self, issue: str, request: Request) -> Response:
        form, api_key = await self._form(request, "admin")
        events = _first(form, "events") or None
        if events is not None and not events.isdigit():
            raise ApiError(422, "validation_error", "must be a whole number", field="events")
        change = self._call(lambda: status_change(_first(form, "status") or "",
                                                  release=_first(form, "release") or None,
                                                  until=_first(form, "until") or None,
                                                  events=int(events) if events else None))
        entry = await run_in_threadpool(self._call, self._set_status, issue, change, api_key)
        return _see(f"{UI}/issues/{entry['issue']}")

    @api.post(UI + "/issues/{issue}/feedback", include_in_schema=False)
    async def ui_feedback(self, issue: str, request: Request) -> Response:
        return await self._ui("feedback", self._ui_feedback, issue, request)

    async def _ui_feedback(self, issue: str, request: Request) -> Response:
        form, _ = await self._form(request, "feedback")
        body = validated(FeedbackRequest, {
            "error_id": _first(form, "error_id"), "suggestion_id": _first(form, "suggestion_id"),
            "solution_worked": _first(form, "worked") == "yes",
            "feedback": _first(form, "note") or None})
        await self._store_feedback(body)
        return _see(f"{UI}/issues/{issue}?thanks=1")

    @api.post(UI + "/issues/{issue}/merge", include_in_schema=False)
    async def ui_merge(self, issue: str, request: Request) -> Response:
        return await self._ui("merge", self._ui_merge, issue, request)

    async def _ui_merge(self, issue: str, request: Request) -> Response:
        form, api_key = await self._form(request, "admin")
        other = (_first(form, "other") or "").strip()
        entry = await run_in_threadpool(
            self._call, lambda: self.store.issues.merge(issue, other, by=api_key.name))
        return _see(f"{UI}/issues/{entry['into']}")

    @api.post(UI + "/issues/{issue}/split", include_in_schema=False)
    async def ui_split(self, issue: str, request: Request) -> Response:
        return await self._ui("split", self._ui_split, issue, request)

    async def _ui_split(self, issue: str, request: Request) -> Response:
        form, api_key = await self._form(request, "admin")
        fingerprint = _first(form, "fingerprint") or ""
        entry = await run_in_threadpool(
            self._call, lambda: self.store.issues.split(issue, fingerprint, by=api_key.name))
        return _see(f"{UI}/issues/{entry['new_issue']}")

    # -- models and sources -----------------------------------------------------------------

    @api.get(UI + "/models", include_in_schema=False)
    async def ui_models(self, request: Request) -> Response:
        return await self._ui("models", self._models_page, request)

    async def _models_page(self, request: Request) -> Response:
        self._viewer(request)
        registry = self.registry
        versions = await run_in_threadpool(lambda: [registry.info(v)
                                                    for v in registry.versions()[::-1]])
        rounds = await run_in_threadpool(RoundHistory(self.config.data_root).rounds)
        return self._page("models.html", request, champion=registry.champion(),
                          versions=versions, rounds=rounds[::-1][:50])

    @api.post(UI + "/models/promote", include_in_schema=False)
    async def ui_promote(self, request: Request) -> Response:
        return await self._ui("promote", self._promote, request)

    async def _promote(self, request: Request) -> Response:
        form, api_key = await self._form(request, "admin")
        version = _first(form, "version") or ""
        if version not in self.registry.versions():
            raise ApiError(422, "validation_error", f"no version {version!r}", field="version")
        reason = f"promoted by {api_key.name} on the dashboard"
        self.registry.promote(version, reason=reason)
        self.registry.record_decision(version, promoted=True, reason=reason)
        return _see(UI + "/models")

    @api.post(UI + "/models/rollback", include_in_schema=False)
    async def ui_rollback(self, request: Request) -> Response:
        return await self._ui("rollback", self._rollback, request)

    async def _rollback(self, request: Request) -> Response:
        await self._form(request, "admin")
        try:
            self.registry.rollback()
        except ModelNotReady as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return _see(UI + "/models")

    @api.get(UI + "/sources", include_in_schema=False)
    async def ui_sources(self, request: Request) -> Response:
        return await self._ui("sources", self._sources_page, request)

    async def _sources_page(self, request: Request) -> Response:
        self._viewer(request)
        counts = await run_in_threadpool(self.store.counts_by_source)
        rounds = await run_in_threadpool(RoundHistory(self.config.data_root).rounds)
        last_crawl: dict[str, dict[str, Any]] = {}
        for entry in rounds:  # oldest first: the newest crawl of each source wins
            for source, summary in entry.get("stages", {}).get("crawl", {}).get(
                    "sources", {}).items():
                last_crawl[source] = {**summary, "at": entry.get("started")}
        sources = self.config.sources
        configured = [name for name in type(sources).model_fields
                      if getattr(getattr(sources, name), "enabled", False)]
        names = sorted(set(counts) | set(last_crawl) | set(configured))
        return self._page("sources.html", request, names=names, counts=counts,
                          last_crawl=last_crawl, configured=set(configured))
