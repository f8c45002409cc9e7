"""ASGI middleware every service runs: request/correlation ids, logs, metrics, body limit."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.breaker import SERVING_REQUEST
from servicekit.logs import bind_context, clear_context, get_logger
from servicekit.metrics import HTTP_LATENCY, HTTP_REQUESTS
from servicekit.problems import problem_response

log = get_logger("http")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
CLIENT_CLOSED_REQUEST = 499  # nginx's status for it, in metrics and the access log
# metric labels come from a closed set: anything a client can spell freely (a path that
# matched no route, an invented method) would make /metrics grow without bound
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
LOGGED_PATH_CHARS = 300
DRAIN_LIMIT_BYTES = 16 << 20  # read (and drop) at most this much of a refused body

RefusalGate = Callable[[Scope], Awaitable[Any]]
"""Called before the middleware answers a refusal of its own (413): may return a response to
send instead (the gateway answers 429 once the client's budget is spent)."""


def new_request_id() -> str:
    return os.urandom(16).hex()  # as unique as uuid4().hex, without building a UUID


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = bytes(value).decode("latin-1")
            return decoded
    return None


class RequestContextMiddleware:
    """Accepts a well-formed `X-Request-ID` / `X-Correlation-ID` or makes one, echoes it,
    binds both to every log line, records latency per route template, and refuses bodies
    over `max_body_bytes` with 413 before the app reads them."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        max_body_bytes: int,
        refusal_gate: RefusalGate | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.refusal_gate = refusal_gate
        self._metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _children(self, method: str, template: str, status: int) -> tuple[Any, Any]:
        """The labelled counter and histogram, looked up once per (method, route, status)."""
        key = (method, template, status)
        children = self._metric_children.get(key)
        if children is None:
            if len(self._metric_children) > 2_000:  # unmatched paths: keep the dict bounded
                self._metric_children.clear()
            children = (
                HTTP_REQUESTS.labels(self.service, method, template, str(status)),
                HTTP_LATENCY.labels(self.service, method, template),
            )
            self._metric_children[key] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else new_request_id()
        incoming_corr = _header(scope, b"x-correlation-id")
        correlation_id = (
            incoming_corr if incoming_corr and _SAFE_ID.match(incoming_corr) else request_id
        )
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        clear_context()
        bind_context(request_id=request_id, correlation_id=correlation_id)
        method = scope["method"]
        path = scope["path"]
        started = time.perf_counter()
        status_holder = {"status": 500}
        extra_headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-correlation-id", correlation_id.encode()),
        ]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [
                    h
                    for h in message.get("headers", [])
                    if h[0].lower() not in (b"x-request-id", b"x-correlation-id")
                ]
                message = {**message, "headers": headers + extra_headers}
            await send(message)

        declared = _header(scope, b"content-length")
        too_large = False
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = False
        if too_large:
            response = await self._refusal(scope, path)
            await _drain(receive, DRAIN_LIMIT_BYTES)
            await response(scope, receive, send_wrapper)
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge(self.max_body_bytes)
                return message

            # the store breaker refuses requests only (servicekit.breaker), not consumers
            serving = SERVING_REQUEST.set(True)
            try:
                await self.app(scope, limited_receive, send_wrapper)
            except ClientDisconnect:
                # the client went away before its request was read: nobody to answer, nothing
                # wrong here (load balancers' probes and impatient clients do it all day)
                if status_holder["status"] == 500:
                    status_holder["status"] = CLIENT_CLOSED_REQUEST
            except _BodyTooLarge:
                response = await self._refusal(scope, path)
                await _drain(receive, DRAIN_LIMIT_BYTES)
                await response(scope, receive, send_wrapper)
            finally:
                SERVING_REQUEST.reset(serving)
        elapsed = time.perf_counter() - started
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        status = status_holder["status"]
        counter, histogram = self._children(
            method if method in METHODS else "OTHER", template, status
        )
        counter.inc()
        histogram.observe(elapsed)
        if path not in QUIET_PATHS:
            log.info(
                "http.request",
                method=method[:16],
                path=path[:LOGGED_PATH_CHARS],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )

    async def _refusal(self, scope: Scope, path: str) -> Any:
        if self.refusal_gate is not None:
            instead = await self.refusal_gate(scope)
            if instead is not None:
                return instead
        return problem_response(
            413,
            "payload_too_large",
            "Payload too large",
            f"Request bodies are limited to {self.max_body_bytes} bytes.",
            instance=path[:LOGGED_PATH_CHARS],
        )


async def _drain(receive: Receive, limit: int) -> None:
    """Read what is left of a refused body, up to `limit`: a client still sending its body
    when the answer comes and the connection closes sees "connection reset", not the 413."""
    drained = 0
    while drained <= limit:
        try:
            message = await receive()
        except Exception:  # noqa: BLE001 - a client that went away: nothing left to read
            return
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing re-raises it instead of turning it into 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request bodies are limited to {limit} bytes.")
