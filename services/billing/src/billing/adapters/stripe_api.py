"""Stripe's API through the `stripe` library (async, on aiohttp): Checkout Sessions for
upgrades, cancel-at-period-end, and cancel-now when a user deletes their account. Used only
when STRIPE_API_KEY is set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
from servicekit.logs import get_logger
from servicekit.problems import DomainError

log = get_logger(__name__)


class PaymentProviderError(DomainError):
    status = 502
    code = "payment_provider_error"
    title = "Payment provider error"


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: int | None


class StripeApi:
    def __init__(
        self, api_key: str, api_base: str, max_network_retries: int, timeout: float
    ) -> None:
        self.api_key = api_key
        self.api_base = api_base.rstrip("/")
        self.max_network_retries = max_network_retries
        self.timeout = timeout
        self._http: Any = None
        self._client: stripe.StripeClient | None = None

    def client(self) -> stripe.StripeClient:
        # created on first use, inside the running loop (aiohttp sessions are loop-bound)
        if self._client is None:
            self._http = stripe.AIOHTTPClient(timeout=self.timeout)
            self._client = stripe.StripeClient(
                self.api_key,
                base_addresses={"api": self.api_base},
                http_client=self._http,
                max_network_retries=self.max_network_retries,
            )
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()
            self._http = None
            self._client = None

    async def create_checkout(
        self,
        *,
        user_id: str,
        email: str | None,
        customer_id: str | None,
        price: str,
        plan: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        metadata = {"user_id": user_id, "plan": plan}
        params: dict[str, Any] = {
            "mode": "subscription",
            "client_reference_id": user_id,
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            # the subscription and its invoices carry the user too, whatever arrives first
            "subscription_data": {"metadata": metadata},
        }
        if customer_id:
            params["customer"] = customer_id
        elif email:
            params["customer_email"] = email
        try:
            session = await self.client().v1.checkout.sessions.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            log.warning("stripe.checkout_failed", error=repr(exc))
            raise PaymentProviderError("Stripe could not start the checkout; try again.") from exc
        if not session.url:
            raise PaymentProviderError("Stripe returned a checkout session without a URL.")
        return CheckoutSession(id=session.id, url=session.url, expires_at=session.expires_at)

    async def cancel_at_period_end(self, subscription_id: str) -> dict[str, Any]:
        try:
            subscription = await self.client().v1.subscriptions.update_async(
                subscription_id,
                params={"cancel_at_period_end": True},
                options={"idempotency_key": f"cancel-at-period-end:{subscription_id}"},
            )
        except stripe.StripeError as exc:
            log.warning("stripe.cancel_failed", error=repr(exc))
            raise PaymentProviderError("Stripe could not cancel the subscription.") from exc
        result: dict[str, Any] = subscription.to_dict()
        return result

    async def cancel_now(self, subscription_id: str) -> dict[str, Any] | None:
        """Cancel at once (DELETE /v1/subscriptions/{id}): Stripe charges it no more. None
        when Stripe answers resource_missing, as it does for a subscription already canceled
        or deleted: done all the same. Any other error is raised, for the caller to retry:
        network errors and 5xx are retried here first (`max_network_retries`), a 429 is not.

        No idempotency key: Stripe ignores them on DELETE (cancelling is idempotent by
        itself), and a v1 key would replay a saved 500 to every retry for a day."""
        try:
            subscription = await self.client().v1.subscriptions.cancel_async(
                subscription_id,
                params={
                    # no final invoice (charge nothing more) and no proration credit (it
                    # would sit on the balance of a customer nobody uses any more)
                    "invoice_now": False,
                    "prorate": False,
                    "cancellation_details": {"comment": "The user deleted their account."},
                },
            )
        except stripe.StripeError as exc:
            if isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing":
                log.info("stripe.cancel_missing", subscription=subscription_id)
                return None
            log.warning("stripe.cancel_now_failed", subscription=subscription_id, error=repr(exc))
            raise PaymentProviderError("Stripe could not cancel the subscription.") from exc
        result: dict[str, Any] = subscription.to_dict()
        return result
