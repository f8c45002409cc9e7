"""Stripe's API through the `stripe` library (async, on aiohttp): Checkout Sessions for
upgrades, cancel-at-period-end, and, when a user deletes their account, cancel-now and the
expiry of the checkouts they left open. Used only when STRIPE_API_KEY is set."""

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


@dataclass(frozen=True)
class EndedCheckout:
    """A Checkout Session that can no longer be paid, and how it ended."""

    id: str
    status: str
    """"expired" (by us just now, or before), "complete" (paid: `subscription_id` is what
    it started) or "missing" (Stripe has no such session)."""
    subscription_id: str | None = None


def _id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _resource_missing(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"


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
            if _resource_missing(exc):
                log.info("stripe.cancel_missing", subscription=subscription_id)
                return None
            log.warning("stripe.cancel_now_failed", subscription=subscription_id, error=repr(exc))
            raise PaymentProviderError("Stripe could not cancel the subscription.") from exc
        result: dict[str, Any] = subscription.to_dict()
        return result

    async def expire_checkout(self, session_id: str) -> EndedCheckout:
        """Expire an open Checkout Session (POST /v1/checkout/sessions/{id}/expire) so that
        nobody can pay it any more.

        Stripe refuses to expire a session that is not open (an invalid_request_error whose
        message, not a code, says why): the session is then read back, and "expired" or
        "complete" (with the subscription it started, for the caller to end) are answers. A
        session Stripe does not know counts as ended. Anything else is raised for the caller
        to retry: a session still open, network errors and 5xx (retried here first), 429s.

        No idempotency key of ours: expiring twice is answered by reading the session back,
        and a key of ours would replay a saved 500 to every retry for a day."""
        client = self.client()
        try:
            session = await client.v1.checkout.sessions.expire_async(session_id)
        except stripe.StripeError as exc:
            if _resource_missing(exc):
                log.info("stripe.checkout_missing", checkout=session_id)
                return EndedCheckout(session_id, "missing")
            if not isinstance(exc, stripe.InvalidRequestError):
                log.warning("stripe.expire_failed", checkout=session_id, error=repr(exc))
                raise PaymentProviderError("Stripe could not expire the checkout.") from exc
            try:
                session = await client.v1.checkout.sessions.retrieve_async(session_id)
            except stripe.StripeError as again:
                if _resource_missing(again):
                    return EndedCheckout(session_id, "missing")
                log.warning("stripe.expire_failed", checkout=session_id, error=repr(again))
                raise PaymentProviderError("Stripe could not expire the checkout.") from again
            if session.status not in ("expired", "complete"):
                log.warning("stripe.expire_refused", checkout=session_id, error=repr(exc))
                raise PaymentProviderError("Stripe could not expire the checkout.") from exc
        body = session.to_dict()
        return EndedCheckout(
            id=session_id,
            status=str(body.get("status")),
            subscription_id=_id(body.get("subscription")),
        )
