"""Walking skeleton through the gateway only: a POST reaches auth, which appends
UserRegistered; the outbox publishes it; billing consumes it exactly once; its projection is
visible through the gateway. Plus the gateway's failure answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from stackutil import wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "Walking-skeleton-7"


def signup(client: httpx.Client) -> tuple[dict[str, Any], str]:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    created = client.post(
        "/auth/register", json={"name": "Edsger", "email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return created.json(), login.json()["access_token"]


def test_register_flows_through_the_bus_into_billing_once(
    stack: Any, isolated_env: dict[str, str]
) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        user, token = signup(client)
        auth = {"authorization": f"Bearer {token}"}

        def active() -> dict[str, Any] | None:
            response = client.get("/billing/subscription", headers=auth)
            assert response.status_code == 200, response.text
            body = response.json()
            return body if body["status"] == "active" else None

        subscription = wait_for(active, message="billing projection visible through the gateway")
        assert subscription["plan"] == "free" and subscription["weekly_limit"] == 2

        me = client.get("/user/me", headers=auth)
        assert me.status_code == 200 and me.json()["id"] == user["id"]
        assert me.headers["x-request-id"]

    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_uri)
    try:
        prefix = isolated_env["MONGO_DB_PREFIX"]
        events = list(
            mongo[f"{prefix}mi_auth"]["events"]
            .find({"aggregate_id": user["id"]})
            .sort("aggregate_version")
        )
        # registration also asks for the address to be verified (for notifications' mail)
        assert [e["event_type"] for e in events] == ["UserRegistered", "EmailVerificationRequested"]
        inbox = list(mongo[f"{prefix}mi_billing"]["inbox"].find({"aggregate_id": user["id"]}))
        assert len(inbox) == 1 and inbox[0]["_id"].endswith(events[0]["_id"])
        assert (
            mongo[f"{prefix}mi_billing"]["subscriptions"].count_documents({"_id": user["id"]}) == 1
        )
    finally:
        mongo.close()


def test_gateway_answers_bad_requests_with_problems(stack: Any) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        unauthenticated = client.get("/billing/subscription")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"] == "application/problem+json"
        assert unauthenticated.json()["code"] == "invalid_token"
        garbage = client.get("/user/me", headers={"authorization": "Bearer abc.def.ghi"})
        assert garbage.status_code == 401 and garbage.json()["code"] == "invalid_token"
        malformed = client.post(
            "/auth/register", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_json"
        weak = client.post(
            "/auth/register", json={"name": "X", "email": "x@example.com", "password": "123"}
        )
        assert weak.status_code == 422 and weak.json()["code"] == "validation_error"
        assert client.get("/nothing-here").json()["code"] == "not_found"
        assert client.put("/user/me").json()["code"] == "method_not_allowed"


def test_a_service_down_is_a_503_problem_and_no_event_is_lost(stack: Any) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        stack.kill("billing")
        try:
            _, token = signup(client)  # billing is down; the event waits in its queue
            auth = {"authorization": f"Bearer {token}"}
            down = client.get("/billing/subscription", headers=auth)
            assert down.status_code == 503
            assert down.json()["code"] == "service_unavailable"
            assert down.headers["retry-after"]
        finally:
            stack.restart("billing")

        def active() -> bool:
            response = client.get("/billing/subscription", headers=auth)
            return response.status_code == 200 and response.json()["status"] == "active"

        wait_for(active, message="event consumed after billing came back")
