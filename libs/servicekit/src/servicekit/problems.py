"""One mapping from errors to RFC 9457 problem+json, shared by every service."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from contracts.problem import PROBLEM_MEDIA_TYPE, Problem
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.domain import DomainError as DomainError  # the pure kernel's; re-exported
from servicekit.logs import get_logger

log = get_logger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


# pydantic's messages speak of types ("String should have at least 10 characters"); a form
# shows `msg` beside the field, so say what to do. `type` stays pydantic's, for programs.
_READABLE: dict[str, str] = {
    "missing": "This is required.",
    "extra_forbidden": "This field is not accepted here.",
    "string_too_short": "Use at least {min_length} characters.",
    "string_too_long": "Use at most {max_length} characters.",
    "too_short": "Give at least {min_length} items.",
    "too_long": "Give at most {max_length} items.",
    "greater_than_equal": "Use {ge} or more.",
    "greater_than": "Use more than {gt}.",
    "less_than_equal": "Use {le} or less.",
    "less_than": "Use less than {lt}.",
    "literal_error": "Use one of {expected}.",
    "enum": "Use one of {expected}.",
    "int_parsing": "Use a whole number.",
    "int_type": "Use a whole number.",
    "int_from_float": "Use a whole number.",
    "float_parsing": "Use a number.",
    "float_type": "Use a number.",
    "bool_parsing": "Use true or false.",
    "bool_type": "Use true or false.",
    "string_type": "Use text.",
    "list_type": "Use a list.",
    "dict_type": "Use an object.",
    "model_type": "Use an object.",
    "datetime_parsing": "Use a date and time such as 2026-01-31T09:00:00Z.",
    "uuid_parsing": "Use a UUID.",
}


def readable(error: Any) -> str:
    """One validation error as a sentence a person can act on."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "value_error":  # our own validators already speak plainly
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "This cannot be empty."
    template = _READABLE.get(kind)
    if template is None:
        return str(error.get("msg", ""))
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return str(error.get("msg", ""))


def problem_response(
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem.of(
        status,
        code,
        title or HTTPStatus(status).phrase,
        detail,
        instance=instance,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            exc.headers,
            instance=request.url.path,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route or resource at {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code, code, None, detail, dict(exc.headers or {}), instance=request.url.path
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": readable(e), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                400,
                "malformed_json",
                "Malformed JSON",
                "The request body is not valid JSON.",
                instance=request.url.path,
            )
        return problem_response(
            422,
            "validation_error",
            "Validation failed",
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)[:1000],
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(ConnectionFailure)
    async def _database_unavailable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # Mongo down, restarting or hung (server selection timed out, connection reset): the
        # caller should retry shortly, and an operator's alert should not read "bug". Found by
        # the chaos suite, where a killed Mongo-wire server made every route answer 500.
        log.warning("http.database_unavailable", path=request.url.path, error=repr(exc)[:300])
        if isinstance(exc, ServerSelectionTimeoutError):
            # the request waited out a store that is not there (killed, restarting): no command
            # was sent for the listener to see, so the breaker hears it here
            breaker = getattr(getattr(request.app.state, "runtime", None), "store_breaker", None)
            if breaker is not None:
                breaker.command_timed_out()
        return problem_response(
            503,
            "database_unavailable",
            "Service temporarily unavailable",
            "Our database cannot be reached right now; please try again in a few seconds.",
            {"Retry-After": "5"},
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path, error=repr(exc))
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged.",
            instance=request.url.path,
        )
