"""Key routes (admin scope): list, create and revoke API keys, as ``erroracle keys`` does.

A mixin of the ingress deployment; it uses the ingress's ``config``, ``_timed``, ``_authorize``,
``_json`` and ``_call``. The new key is in the answer of its creation and nowhere else.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from erroracle.serve.api import api, bearer
from erroracle.serve.key_file import KeyFile
from erroracle.serve.schemas import validated

__all__ = ["KEYS", "KeyRequest", "KeyRoutes"]

KEYS = "/api/v1/keys"


class KeyRequest(BaseModel):
    """A new key: its scopes, and optionally a name, a rate limit and an expiry."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scopes: list[str] = Field(min_length=1, max_length=4,
                              description="ingest, read, feedback, admin")
    name: str | None = Field(None, max_length=64)
    rate_limit_per_minute: int | None = None
    expires: str | None = Field(None, max_length=64, description="ISO 8601 date or time")


class KeyRoutes:
    """The ``/api/v1/keys`` routes."""

    config: Any

    @api.get(KEYS, tags=["keys"], summary="Every key's name, scopes, rate limit and expiry")
    async def list_keys(self, request: Request) -> Response:
        return await self._timed("keys", self._list_keys, request)

    async def _list_keys(self, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        return JSONResponse({"keys": await run_in_threadpool(KeyFile(self.config).entries)})

    @api.post(KEYS, status_code=201, tags=["keys"],
              summary="Create a key (admin); the key is in this answer only")
    async def create_key(self, request: Request) -> Response:
        return await self._timed("key-create", self._create_key, request)

    async def _create_key(self, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        body = validated(KeyRequest, await self._json(request))
        key, entry = await run_in_threadpool(
            self._call, lambda: KeyFile(self.config).create(
                body.scopes, name=body.name, rate_limit_per_minute=body.rate_limit_per_minute,
                expires=body.expires))
        return JSONResponse(status_code=201, content={"key": key, **entry})

    @api.delete(KEYS + "/{name}", tags=["keys"], summary="Revoke a key (admin)")
    async def revoke_key(self, name: str, request: Request) -> Response:
        return await self._timed("key-revoke", self._revoke_key, name, request)

    async def _revoke_key(self, name: str, request: Request) -> Response:
        self._authorize(bearer(request), "admin")
        await run_in_threadpool(self._call, KeyFile(self.config).revoke, name)
        return JSONResponse({"revoked": name})
