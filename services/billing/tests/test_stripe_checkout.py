"""With STRIPE_API_KEY: the real `stripe` library against a local server that speaks
Stripe's wire format (form-encoded requests, JSON objects back, Idempotency-Key honoured)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from billing.settings import Settings
from billingtest import Harness, checkout_completed, invoice


@dataclass
class FakeStripe:
    """Enough of api.stripe.com: Checkout Sessions and subscription updates."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: int = 0

    def record(self, request: web.Request, form: dict[str, str]) -> None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "content_type": request.headers.get("Content-Type"),
                "form": form,
            }
        )

    async def create_session(self, request: web.Request) -> web.Response:
        form = dict(await request.post())  # type: ignore[arg-type]
        self.record(request, form)  # type: ignore[arg-type]
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response(
                {"error": {"type": "api_error", "message": "try again"}}, status=500
            )
        key = request.headers.get("Idempotency-Key", "")
        if key in self.by_key:  # Stripe answers a repeated key with the first response
            return web.json_response(self.by_key[key], headers={"Idempotent-Replayed": "true"})
        session_id = "cs_test_" + uuid.uuid4().hex
        body = {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": form.get("client_reference_id"),
            "customer": form.get("customer"),
            "customer_email": form.get("customer_email"),
            "expires_at": int(time.time()) + 86400,
            "metadata": {"user_id": form.get("metadata[user_id]")},
            "mode": form.get("mode"),
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.by_key[key] = body
        return web.json_response(body)

    async def update_subscription(self, request: web.Request) -> web.Response:
        form = dict(await request.post())  # type: ignore[arg-type]
        self.record(request, form)  # type: ignore[arg-type]
        now = int(time.time())
        return web.json_response(
            {
                "id": request.match_info["sub"],
                "object": "subscription",
                "cancel_at_period_end": form.get("cancel_at_period_end") == "true",
                "customer": "cus_fake",
                "status": "active",
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_fake",
                            "current_period_start": now - 86400,
                            "current_period_end": now + 29 * 86400,
                        }
                    ],
                },
                "metadata": {},
            }
        )


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", fake.create_session)
    app.router.add_post("/v1/subscriptions/{sub}", fake.update_subscription)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
def settings_overrides(fake_stripe: FakeStripe) -> dict[str, Any]:
    return {
        "stripe_api_key": "sk_test_fake_key",
        "stripe_price_premium": "price_premium_monthly",
        "stripe_api_base": fake_stripe.url,
        "checkout_success_url": "https://app.example.com/billing/done",
        "checkout_cancel_url": "https://app.example.com/billing/cancelled",
    }


async def test_checkout_creates_a_stripe_session_with_an_idempotency_key(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user = str(uuid.uuid4())
    headers = harness.mint.headers(user)
    fake_stripe.fail_next = 1  # the library retries a 500 with the same key
    response = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["session_id"].startswith("cs_test_")
    assert body["checkout_url"] == f"https://checkout.stripe.com/c/pay/{body['session_id']}"

    assert len(fake_stripe.requests) == 2
    first, retried = fake_stripe.requests
    assert first["idempotency_key"] and retried["idempotency_key"] == first["idempotency_key"]
    assert first["path"] == "/v1/checkout/sessions"
    assert first["authorization"] == "Bearer sk_test_fake_key"
    assert first["content_type"].startswith("application/x-www-form-urlencoded")
    form = first["form"]
    assert form["mode"] == "subscription"
    assert form["client_reference_id"] == user
    assert form["line_items[0][price]"] == "price_premium_monthly"
    assert form["line_items[0][quantity]"] == "1"
    assert form["subscription_data[metadata][user_id]"] == user
    assert form["success_url"] == "https://app.example.com/billing/done"

    # a double click: same key, Stripe replays the same session
    again = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=headers
    )
    assert again.json() == body
    assert fake_stripe.requests[-1]["idempotency_key"] == first["idempotency_key"]
    assert await harness.db["checkouts"].count_documents({"user_id": user}) == 1
    assert harness.app.state.billing.settings.local_checkout_enabled is False
    page = await harness.client.get(f"/billing/local-checkout/cs_local_{'a' * 43}")
    assert page.status_code == 404


async def test_stripe_says_paid_then_cancel_goes_through_stripes_api(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user, sub, cus = str(uuid.uuid4()), "sub_" + uuid.uuid4().hex[:14], "cus_real"
    now = harness.clock.now
    for event in (
        checkout_completed(user, sub, cus, now),
        invoice("invoice.paid", user, sub, cus, now, billing_reason="subscription_create"),
    ):
        assert (await harness.deliver(event)).status_code == 200
    await harness.published("PlanUpgraded", user)

    canceled = await harness.client.post(
        "/billing/subscription/cancel", headers=harness.mint.headers(user)
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["cancel_at_period_end"] is True
    assert canceled.json()["plan"] == "premium"
    call = fake_stripe.requests[-1]
    assert call["path"] == f"/v1/subscriptions/{sub}"
    assert call["form"] == {"cancel_at_period_end": "true"}
    assert call["idempotency_key"]


def test_production_refuses_to_start_without_a_webhook_secret() -> None:
    with pytest.raises(ValueError, match="STRIPE_WEBHOOK_SECRET"):
        Settings(environment="production", rabbitmq_url="amqp://u:p@rabbit:5672/")
    with pytest.raises(ValueError, match="STRIPE_PRICE_PREMIUM"):
        Settings(stripe_api_key="sk_test_x")
    ok = Settings(
        environment="production",
        rabbitmq_url="amqp://u:p@rabbit:5672/",
        stripe_webhook_secret="whsec_x",
    )
    assert ok.local_checkout_enabled is False  # no free premium in production without Stripe
    demo = Settings(
        environment="production",
        rabbitmq_url="amqp://u:p@rabbit:5672/",
        stripe_webhook_secret="whsec_x",
        local_checkout=True,
    )
    assert demo.local_checkout_enabled is True  # an operator's explicit choice (a demo)
    assert Settings(local_checkout=False).local_checkout_enabled is False
