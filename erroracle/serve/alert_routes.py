"""Alert routes (admin scope): the rules, and the outbox with every delivery.

A mixin of the ingress deployment; it uses the ingress's ``alerts`` (``platform.alerts``),
``config``, ``_timed``, ``_authorize``, ``_json`` and ``_call``. A rule set here is kept in the
lake's state and replaces a config rule of the same name.
"""

from __future__ import annotations

from typing import Any

import pydantic
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from erroracle.platform.alert_rules import AlertRule, check_destination
from erroracle.platform.records import validation_error
from erroracle.serve.api import api, bearer
from erroracle.serve.problems import ApiError

__all__ = ["ALERTS", "AlertRoutes"]

ALERTS = "/api/v1/alerts"


class AlertRoutes:
    """The ``/api/v1/alerts`` routes."""

    alerts: Any
    config: Any

    @api.get(ALERTS + "/rules", tags=["alerts"], summary="The alert rules in force (admin)")
    async def list_rules(self, request: Request) -> Response:
        return await self._timed("alert-rules", self._list_rules, request)

    async def _list_rules(self, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        book = self.alerts.rules
        rules, from_api = await run_in_threadpool(lambda: (book.rules(), book.api_names()))
        return JSONResponse(jsonable_encoder({"rules": [
            {**rule.model_dump(), "from": "api" if rule.name in from_api else "config"}
            for rule in rules]}))

    @api.put(ALERTS + "/rules/{name}", tags=["alerts"],
             summary="Create or replace an alert rule (admin)")
    async def put_rule(self, name: str, request: Request) -> Response:
        return await self._timed("alert-rule-put", self._put_rule, name, request)

    async def _put_rule(self, name: str, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        body = await self._json(request)
        if not isinstance(body, dict):
            raise ApiError(422, "validation_error", "expected a JSON object")
        try:
            rule = AlertRule.model_validate({**body, "name": name})
        except pydantic.ValidationError as exc:
            error = validation_error(exc)
            raise ApiError(422, "validation_error", error.reason, field=error.field) from None
        self._call(check_destination, rule, self.config.serve.host, self.config.serve.port)
        await run_in_threadpool(self.alerts.rules.put, rule)
        return JSONResponse(rule.model_dump())

    @api.delete(ALERTS + "/rules/{name}", tags=["alerts"],
                summary="Remove an alert rule set over the API (admin)")
    async def delete_rule(self, name: str, request: Request) -> Response:
        return await self._timed("alert-rule-delete", self._delete_rule, name, request)

    async def _delete_rule(self, name: str, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        if not await run_in_threadpool(self.alerts.rules.remove, name):
            raise ApiError(404, "not_found", f"no alert rule {name!r} was set over the API",
                           field="name")
        return JSONResponse({"removed": name})

    @api.get(ALERTS, tags=["alerts"],
             summary="The outbox: counts, and the newest alerts with their deliveries (admin)")
    async def list_alerts(self, request: Request) -> Response:
        return await self._timed("alerts", self._list_alerts, request)

    async def _list_alerts(self, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        limit = request.query_params.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise ApiError(422, "validation_error", "must be an integer from 1 to 1000",
                           field="limit")
        outbox = self.alerts.outbox
        await run_in_threadpool(outbox.refresh)
        return JSONResponse(jsonable_encoder({"summary": outbox.summary(),
                                              "alerts": outbox.recent(int(limit))}))
