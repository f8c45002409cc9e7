"""A client that goes away before its request is read is not a server error: the request
ends quietly with 499 in metrics and the access log, not an ERROR traceback and a 500."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from servicekit.metrics import REGISTRY
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings


async def test_a_vanished_client_is_a_499_not_an_error(
    isolation: dict[str, Any], capsys: Any
) -> None:
    router = APIRouter()

    @router.get("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body())  # reads the request: meets the disconnect

    settings = ServiceSettings(**isolation | {"service_name": "disconnects"})
    app = ServiceRuntime(settings, uses_mongo=False).create_app([router])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"svc")],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)  # raises nothing

    assert sent == []  # nobody to answer
    count = REGISTRY.get_sample_value(
        "http_requests_total",
        {"service": "disconnects", "method": "GET", "route": "/echo", "status": "499"},
    )
    assert count == 1.0
    out = capsys.readouterr().out
    assert '"status": 499' in out and '"level": "error"' not in out and "Traceback" not in out
