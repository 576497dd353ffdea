"""Issue routes: list, search and read issues and their events; people change their status,
merge and split them (admin scope).

A mixin of the ingress deployment: it uses the ingress's ``store``, ``_timed``,
``_authorize`` and ``_json``. A merge or split is one line in the lake's issue log, so every
replica (and every later regrouping) sees it at its next read.
"""

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from erroracle.errors import ConflictError, NotFoundError, UnprocessableError
from erroracle.platform.issue_list import IssueQuery
from erroracle.platform.issue_status import status_change
from erroracle.serve.api import api, bearer
from erroracle.serve.problems import ApiError
from erroracle.serve.schemas import MergeRequest, SplitRequest, StatusRequest, validated

__all__ = ["ISSUES", "IssueRoutes"]

ISSUES = "/api/v1/issues"
_STATUS = {NotFoundError: (404, "not_found"), ConflictError: (409, "conflict"),
           UnprocessableError: (422, "validation_error")}


def _refused(exc: NotFoundError | ConflictError | UnprocessableError) -> ApiError:
    status, code = _STATUS[type(exc)]
    return ApiError(status, code, exc.reason, field=exc.field)


class IssueRoutes:
    """The ``/api/v1/issues`` routes."""

    store: Any

    def _call(self, work: Any, *args: Any) -> Any:
        try:
            return work(*args)
        except (NotFoundError, ConflictError, UnprocessableError) as exc:
            raise _refused(exc) from None

    @api.get(ISSUES, tags=["issues"],
             summary="Issues by status tab, searched by text, type, service and environment")
    async def list_issues(self, request: Request) -> Response:
        return await self._timed("issues", self._list_issues, request)

    async def _list_issues(self, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        query = self._call(IssueQuery.parse, request.query_params)
        found = await run_in_threadpool(self.store.issue_list, query)
        return JSONResponse(jsonable_encoder(found))

    @api.get(ISSUES + "/{issue}", tags=["issues"],
             summary="One issue: its fingerprints, counts and the corrections made to it")
    async def read_issue(self, issue: str, request: Request) -> Response:
        return await self._timed("issue", self._read_issue, issue, request)

    async def _read_issue(self, issue: str, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        found = await run_in_threadpool(self._call, self.store.issue, issue)
        return JSONResponse(jsonable_encoder(found))

    @api.get(ISSUES + "/{issue}/events", tags=["issues"],
             summary="The newest events of an issue, with their parsed frames and tags")
    async def issue_events(self, issue: str, request: Request) -> Response:
        return await self._timed("issue-events", self._issue_events, issue, request)

    async def _issue_events(self, issue: str, request: Request) -> Response:
        self._authorize(bearer(request), "read")
        limit = self._call(IssueQuery.parse, {"limit": request.query_params.get("limit", "")})
        events = await run_in_threadpool(self._call, self.store.issue_events, issue, limit.limit)
        return JSONResponse(jsonable_encoder({"issue": issue, "events": events}))

    @api.patch(ISSUES + "/{issue}", tags=["issues"],
               summary="Resolve, ignore or reopen an issue (admin)")
    async def patch_issue(self, issue: str, request: Request) -> Response:
        return await self._timed("issue-status", self._patch, issue, request)

    async def _patch(self, issue: str, request: Request) -> Response:
        return await self._correct(request, StatusRequest, lambda body, by: self.store.issues.
                                   set_status(issue, status_change(
                                       body.status, release=body.release, until=body.until,
                                       events=body.events), by=by))

    @api.post(ISSUES + "/{issue}/merge", tags=["issues"],
              summary="Merge another issue into this one (admin)")
    async def merge_issue(self, issue: str, request: Request) -> Response:
        return await self._timed("issue-merge", self._merge, issue, request)

    async def _merge(self, issue: str, request: Request) -> Response:
        return await self._correct(request, MergeRequest, lambda body, by: self.store.issues.merge(
            issue, body.issue, by=by))

    async def _correct(self, request: Request, schema: type, apply: Any) -> Response:
        """A person's correction: admin scope, a validated body, one line in the issue log."""
        key = self._authorize(bearer(request), "admin")
        body = validated(schema, await self._json(request))
        return JSONResponse(await run_in_threadpool(self._call, apply, body, key.name))

    @api.post(ISSUES + "/{issue}/split", tags=["issues"],
              summary="Move one fingerprint out of this issue into an issue of its own (admin)")
    async def split_issue(self, issue: str, request: Request) -> Response:
        return await self._timed("issue-split", self._split, issue, request)

    async def _split(self, issue: str, request: Request) -> Response:
        return await self._correct(request, SplitRequest, lambda body, by: self.store.issues.split(
            issue, body.fingerprint, by=by))
