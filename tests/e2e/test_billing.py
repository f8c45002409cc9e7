"""Billing through the gateway with the local checkout (no Stripe key): a free user pays on
the checkout page and is premium within seconds everywhere (auth's /user/me, the
interviews quota); a declined payment leaves the plan free and shows the failure; Stripe's
webhook path rejects what is not signed."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from stackutil import signup, wait_for

pytestmark = pytest.mark.e2e

# what a browser sends for a <form method="post"> without fields
FORM_POST = {"content-type": "application/x-www-form-urlencoded"}


def subscription_ready(client: httpx.Client, auth: dict[str, str]) -> dict[str, Any]:
    def opened() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get("/billing/subscription", headers=auth).json()
        return body if body["status"] == "active" else None

    result: dict[str, Any] = wait_for(opened, message="free subscription opened")
    return result


def test_local_checkout_makes_a_free_user_premium_within_seconds(stack: Any) -> None:
    _, auth = signup(stack, "127.0.5.1")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        free = subscription_ready(client, auth)
        assert free["plan"] == "free" and free["weekly_limit"] == 2
        me = client.get("/user/me", headers=auth).json()
        assert me["plan"] == "free" and me["quota"]["weekly_limit"] == 2

        # the free plan's two interviews this week, then the limit
        for _ in range(2):
            started = client.post("/interviews", json={"type": "behavioral"}, headers=auth)
            assert started.status_code == 202, started.text
        refused = client.post("/interviews", json={"type": "behavioral"}, headers=auth)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "quota_exceeded"

        created = client.post("/billing/checkout", json={"plan": "premium"}, headers=auth)
        assert created.status_code == 201, created.text
        checkout = created.json()
        url = checkout["checkout_url"]
        assert url == f"/billing/local-checkout/{checkout['session_id']}"

        # the page is public (the id is the key) and served through the gateway
        page = client.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f'action="{url}/pay"' in page.text and f'action="{url}/decline"' in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get(url[:-2] + "xx").status_code == 404

        paid = client.post(url + "/pay", headers=FORM_POST)
        assert paid.status_code == 303 and paid.headers["location"] == url
        paid_at = time.monotonic()

        def premium() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get("/user/me", headers=auth).json()
            return body if body["plan"] == "premium" else None

        me = wait_for(premium, timeout=10, message="/user/me shows premium")
        assert me["quota"]["weekly_limit"] == 20
        assert time.monotonic() - paid_at < 10

        subscription = client.get("/billing/subscription", headers=auth).json()
        assert subscription["plan"] == "premium" and subscription["weekly_limit"] == 20
        assert subscription["next_billing_date"] and subscription["cancel_at_period_end"] is False
        assert 'data-checkout-status="paid"' in client.get(url).text

        # the third interview this week now goes through
        def third() -> httpx.Response | None:
            response = client.post("/interviews", json={"type": "behavioral"}, headers=auth)
            assert response.status_code in (202, 429), response.text
            return response if response.status_code == 202 else None

        wait_for(third, timeout=10, message="a third interview accepted on premium")

        again = client.post("/billing/checkout", json={"plan": "premium"}, headers=auth)
        assert again.status_code == 409 and again.json()["code"] == "already_subscribed"


def test_declined_payment_keeps_free_and_shows_the_failure(stack: Any) -> None:
    _, auth = signup(stack, "127.0.5.2")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        subscription_ready(client, auth)
        checkout = client.post("/billing/checkout", json={"plan": "premium"}, headers=auth).json()
        declined = client.post(checkout["checkout_url"] + "/decline", headers=FORM_POST)
        assert declined.status_code == 303

        def failure_shown() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get("/billing/subscription", headers=auth).json()
            return body if body["last_payment_failure"] else None

        subscription = wait_for(failure_shown, message="the failed payment in the view")
        assert subscription["plan"] == "free" and subscription["weekly_limit"] == 2
        assert subscription["last_payment_failure"]["amount"] == 1500
        me = client.get("/user/me", headers=auth).json()
        assert me["plan"] == "free" and me["quota"]["weekly_limit"] == 2
        cancel = client.post("/billing/subscription/cancel", headers=auth)
        assert cancel.status_code == 409 and cancel.json()["code"] == "no_active_subscription"


def test_the_webhook_refuses_unsigned_events_through_the_gateway(stack: Any) -> None:
    event = {
        "id": "evt_" + uuid.uuid4().hex[:20],
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": {"id": "cs_x", "mode": "subscription", "client_reference_id": "x"}},
    }
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        forged = client.post(
            "/billing/webhook",
            content=json.dumps(event),
            headers={
                "content-type": "application/json; charset=utf-8",
                "stripe-signature": f"t={int(time.time())},v1={'ab' * 32}",
            },
        )
        assert forged.status_code == 400
        assert forged.headers["content-type"] == "application/problem+json"
        assert forged.json()["code"] == "invalid_signature"
