"""The FastAPI app every route hangs on, and the one shape of its error answers.

The routes are methods of the ingress deployment (and of the mixins it inherits); this module
holds what they share so that route modules do not import each other.
"""

import logging
import uuid

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from erroracle import __version__
from erroracle.serve.openapi import document
from erroracle.serve.problems import ApiError

__all__ = ["LEARNING", "api", "bearer", "error_response", "unexpected_response"]

log = logging.getLogger("erroracle.serve")

LEARNING = "/api/v1/learning"

# The docs pages (/docs, /redoc) serve Swagger UI and ReDoc from the installed fastapi-offline
# package, never from a CDN: erroracle runs where there is no internet.
api = FastAPIOffline(
    title="erroracle",
    version=__version__,
    description="Learns from software errors: report errors, predict their category, severity "
    "and novelty, suggest fixes, and take feedback. Authenticate with `Authorization: Bearer "
    "<key>`.",
)
api.openapi = lambda: document(api)  # schemas of the raw-read bodies, answers and keys


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


@api.exception_handler(ApiError)
async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc)


@api.exception_handler(RequestValidationError)
async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"][1:]) or None
    return error_response(ApiError(422, "validation_error", first["msg"], field=field))


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = "no such route" if exc.status_code == 404 else str(exc.detail)
    return error_response(ApiError(exc.status_code, code, message))


@api.exception_handler(Exception)
async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_response(f"{request.method} {request.url.path}", exc)


def unexpected_response(where: str, exc: Exception) -> JSONResponse:
    """A 500 that names an incident id and nothing else; the trace goes to the server log."""
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error in %s (incident %s)", where, incident, exc_info=exc)
    return error_response(ApiError(
        500, "internal", f"internal error; the server log has the details (incident {incident})"
    ))


def bearer(request: Request) -> str | None:
    """The key of ``Authorization: Bearer <key>``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
