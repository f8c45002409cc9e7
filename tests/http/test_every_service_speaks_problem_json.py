"""Every service answers unknown routes, wrong methods, oversized and malformed bodies with
RFC 9457 problem+json and a stable code, never a bare 500 or an HTML page."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

SERVICES = ["auth", "interviews", "ai_runner", "billing", "gateway"]


def build(module: str, isolation: dict[str, Any]) -> Any:
    main = importlib.import_module(f"{module}.main")
    settings_cls = importlib.import_module(f"{module}.settings").Settings
    return main.create_app(settings_cls(**isolation | {"max_body_bytes": 4096}))


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].startswith("https://") and body["title"]
    assert response.headers["x-request-id"]
    return body


@pytest.mark.parametrize("module", SERVICES)
async def test_unknown_route_is_a_404_problem(module: str, isolation: dict[str, Any]) -> None:
    async with client_for(build(module, isolation)) as client:
        assert_problem(await client.get("/no/such/thing"), 404, "not_found")


@pytest.mark.parametrize("module", SERVICES)
async def test_wrong_method_is_a_405_problem(module: str, isolation: dict[str, Any]) -> None:
    async with client_for(build(module, isolation)) as client:
        assert_problem(await client.post("/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize("module", SERVICES)
async def test_oversized_body_is_a_413_problem(module: str, isolation: dict[str, Any]) -> None:
    async with client_for(build(module, isolation)) as client:
        body = b"x" * 10_000
        response = await client.post(
            "/healthz", content=body, headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload_too_large")


async def test_chunked_oversized_body_is_refused_while_streaming(isolation: dict[str, Any]) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1000

    async with client_for(build("auth", isolation)) as client:
        response = await client.post(
            "/auth/register", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload_too_large")


async def test_malformed_json_is_a_400_problem(isolation: dict[str, Any]) -> None:
    async with client_for(build("auth", isolation)) as client:
        response = await client.post(
            "/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
        )
        assert_problem(response, 400, "malformed_json")


async def test_request_id_is_propagated_when_well_formed_and_replaced_otherwise(
    isolation: dict[str, Any],
) -> None:
    async with client_for(build("gateway", isolation)) as client:
        kept = await client.get("/healthz", headers={"x-request-id": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        replaced = await client.get("/healthz", headers={"x-request-id": "bad id\twith junk"})
        assert replaced.headers["x-request-id"] != "bad id\twith junk"
        assert len(replaced.headers["x-request-id"]) == 32
