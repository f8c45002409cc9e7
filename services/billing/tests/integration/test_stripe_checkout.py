"""With STRIPE_API_KEY: the real `stripe` library against a local server that speaks
Stripe's wire format (form-encoded requests, JSON objects back, Idempotency-Key honoured)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from billing.settings import Settings
from billingtest import FakeStripe, Harness, checkout_completed, invoice


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
    assert harness.app.state.billing.ctx.settings.local_checkout_enabled is False
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
