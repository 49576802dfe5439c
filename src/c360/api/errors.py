"""Every error leaves the API as JSON ``{"code": ..., "message": ...}`` with the right status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from c360.errors import AuthError, C360Error, Overloaded, StoreBusy


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(C360Error)
    async def c360_error(_request: Request, exc: C360Error) -> JSONResponse:
        headers = {}
        if isinstance(exc, AuthError) and exc.http_status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, Overloaded | StoreBusy):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        return JSONResponse({"code": exc.code, "message": exc.message}, exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return JSONResponse({"code": "invalid_input", "message": message, "errors": errors}, 422)
