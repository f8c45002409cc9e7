"""billing's use cases: open a subscription, start a checkout, take Stripe's webhooks (once
each, in Stripe's order rather than arrival order), cancel at period end, cancel at once and
expire open checkouts when the user deletes their account (and cancel at once whatever
subscription still turns up for the closed account), let lapsed plans drop, the local
checkout that stands in for Stripe, and the figures for /admin/stats.
Ports (runtime, Stripe API, clock) are passed in; no HTTP here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import stripe
from contracts import EventEnvelope
from pymongo.errors import DuplicateKeyError
from servicekit.eventstore import Repository
from servicekit.logs import get_logger
from servicekit.mongo import AsyncClientSession, Document
from servicekit.problems import DomainError
from servicekit.runtime import ServiceRuntime

from billing.adapters import local_stripe
from billing.adapters.checkouts import LOCAL_ID, Checkouts, new_local_id
from billing.adapters.payments import PaymentsLedger, ProcessedStripeEvents
from billing.adapters.stripe_api import EndedCheckout, StripeApi
from billing.adapters.stripe_events import MalformedEvent, parse, subscription_facts
from billing.adapters.subscriptions import SubscriptionsView
from billing.domain.plans import Catalog, Plan, PlanNotPurchasable
from billing.domain.subscription import (
    NoActiveSubscription,
    StripeSubscription,
    Subscription,
    SubscriptionFacts,
)
from billing.settings import Settings

log = get_logger(__name__)

Clock = Callable[[], datetime]
WebhookOutcome = Literal[
    "applied", "no_change", "duplicate", "ignored", "unmatched", "account_closed"
]


class InvalidWebhook(DomainError):
    status = 400
    code = "invalid_webhook"
    title = "Invalid webhook"


class CheckoutNotFound(DomainError):
    status = 404
    code = "checkout_not_found"
    title = "Checkout not found"


class CheckoutClosed(DomainError):
    status = 409
    code = "checkout_closed"
    title = "Checkout already closed"


class PaymentsUnavailable(DomainError):
    status = 503
    code = "payments_unavailable"
    title = "Payments unavailable"


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    outcome: WebhookOutcome


class _AlreadyProcessed(Exception):
    pass


def catalog_from(settings: Settings) -> Catalog:
    return Catalog(
        free=Plan("free", settings.free_weekly_limit, 0, settings.currency.lower()),
        premium=Plan(
            "premium",
            settings.premium_weekly_limit,
            settings.premium_monthly_price,
            settings.currency.lower(),
            settings.stripe_price_premium,
        ),
    )


class Billing:
    def __init__(
        self,
        rt: ServiceRuntime,
        settings: Settings,
        webhook_secret: str,
        stripe_api: StripeApi | None,
        clock: Clock,
    ) -> None:
        self.rt = rt
        self.settings = settings
        self.catalog = catalog_from(settings)
        self.webhook_secret = webhook_secret
        self.stripe_api = stripe_api
        self.clock = clock

    # -- ports -----------------------------------------------------------------------------
    @property
    def repo(self) -> Repository[Subscription]:
        return Repository(self.rt.store, Subscription)

    @property
    def view(self) -> SubscriptionsView:
        return SubscriptionsView(self.rt.db)

    @property
    def ledger(self) -> PaymentsLedger:
        return PaymentsLedger(self.rt.db)

    @property
    def processed(self) -> ProcessedStripeEvents:
        return ProcessedStripeEvents(self.rt.db)

    @property
    def checkouts(self) -> Checkouts:
        return Checkouts(self.rt.db)

    async def ensure_indexes(self) -> None:
        await self.view.ensure_indexes()
        await self.ledger.ensure_indexes()
        await self.checkouts.ensure_indexes()

    async def _save(
        self,
        subscription: Subscription,
        session: AsyncClientSession,
        correlation_id: str | None,
        causation_id: str | None = None,
    ) -> bool:
        if not subscription.pending:
            return False
        await self.repo.save(
            subscription, session, correlation_id=correlation_id, causation_id=causation_id
        )
        await self.view.apply(subscription, session)
        return True

    # -- subscription ----------------------------------------------------------------------
    async def open_subscription(
        self, user_id: str, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        """On UserRegistered (in the consumer's transaction): the user starts on free."""
        subscription = await self.repo.get(user_id, session=session) or Subscription(user_id)
        subscription.open(self.catalog, self.clock())
        await self._save(
            subscription, session, envelope.correlation_id, causation_id=str(envelope.event_id)
        )

    async def subscription(self, user_id: str) -> dict[str, Any]:
        doc = await self.view.get(user_id)
        if doc is None:
            # UserRegistered not consumed yet: the user is on the free plan all the same
            doc = {
                "plan": "free",
                "status": "pending",
                "weekly_limit": self.catalog.free.weekly_limit,
            }
        plan = self.catalog.get(doc["plan"])
        period_end = doc.get("current_period_end")
        cancel = bool(doc.get("cancel_at_period_end"))
        failure = doc.get("last_payment_failure")
        return {
            "plan": plan.name,
            "status": doc["status"],
            "weekly_limit": doc["weekly_limit"],
            "monthly_price": plan.monthly_price,
            "currency": plan.currency,
            "subscription_id": doc.get("subscription_id"),
            "current_period_end": period_end,
            "next_billing_date": period_end if plan.name == "premium" and not cancel else None,
            "cancel_at_period_end": cancel,
            "grace_until": doc.get("grace_until"),
            "last_payment_failure": failure,
            "downgrade_reason": doc.get("downgrade_reason"),
            "plans": [p.public() for p in self.catalog.all()],
        }

    # -- checkout --------------------------------------------------------------------------
    async def start_checkout(
        self, user_id: str, email: str | None, plan_name: str
    ) -> dict[str, str]:
        plan = self.catalog.get(plan_name)
        subscription = await self.repo.get(user_id)
        (subscription or Subscription(user_id)).ensure_can_buy(plan.name)
        if not plan.purchasable:
            raise PlanNotPurchasable(
                "The free plan is not bought: cancel the subscription to return to it."
            )
        now = self.clock()
        # the same user, plan and state give the same key: a double click makes one session
        key = f"checkout:{user_id}:{plan.name}:v{subscription.version if subscription else 0}"
        customer_id = subscription.customer_id if subscription else None
        base = {
            "user_id": user_id,
            "email": email,
            "plan": plan.name,
            "amount": plan.monthly_price,
            "currency": plan.currency,
            "idempotency_key": key,
            "status": "open",
            "created_at": now,
        }
        if self.stripe_api is not None:
            assert plan.stripe_price is not None
            session = await self.stripe_api.create_checkout(
                user_id=user_id,
                email=email,
                customer_id=customer_id,
                price=plan.stripe_price,
                plan=plan.name,
                success_url=self.settings.checkout_success_url,
                cancel_url=self.settings.checkout_cancel_url,
                idempotency_key=key,
            )
            expires = (
                datetime.fromtimestamp(session.expires_at, UTC)
                if session.expires_at
                else now + timedelta(hours=24)
            )
            await self.checkouts.save(
                base
                | {
                    "_id": session.id,
                    "provider": "stripe",
                    "url": session.url,
                    "expires_at": expires,
                }
            )
            return {"checkout_url": session.url, "session_id": session.id}
        if not self.settings.local_checkout_enabled:
            raise PaymentsUnavailable("Payments are not configured (STRIPE_API_KEY is unset).")
        existing = await self.checkouts.open_for(key, now)
        if existing is not None:
            return {"checkout_url": existing["url"], "session_id": existing["_id"]}
        checkout_id = new_local_id()
        url = f"/billing/local-checkout/{checkout_id}"
        if self.settings.public_url:
            url = self.settings.public_url.rstrip("/") + url
        await self.checkouts.save(
            base
            | {
                "_id": checkout_id,
                "provider": "local",
                "url": url,
                "customer_id": customer_id or local_stripe.customer_id_for(user_id),
                "success_url": self.settings.checkout_success_url,
                "expires_at": now + timedelta(seconds=self.settings.local_checkout_ttl_seconds),
            }
        )
        return {"checkout_url": url, "session_id": checkout_id}

    # -- cancel ----------------------------------------------------------------------------
    async def cancel(self, user_id: str, correlation_id: str | None) -> dict[str, Any]:
        """Cancel at the end of the paid period: premium stays until then."""
        subscription = await self.repo.get(user_id)
        if subscription is None:
            raise NoActiveSubscription("You have no paid subscription to cancel.")
        stripe_sub = subscription.cancellable()
        if stripe_sub.cancel_at_period_end:
            return await self.subscription(user_id)
        now = self.clock()
        if self.stripe_api is not None:
            answer = await self.stripe_api.cancel_at_period_end(stripe_sub.id)
            # Stripe's answer has no time of its own: stamp it with this second, as Stripe's
            # own webhook for the change will be
            facts = subscription_facts(
                answer, now.replace(microsecond=0), "api.subscriptions.update", None
            )

            async def work(session: AsyncClientSession) -> None:
                current = await self.repo.get(user_id, session=session)
                assert current is not None
                current.observe(facts, self.catalog, self.clock())
                await self._save(current, session, correlation_id)

            await self.rt.command(work)
        else:
            self._require_local()
            start = stripe_sub.current_period_start or now
            event = local_stripe.cancel_event(
                user_id=user_id,
                plan="premium",
                subscription_id=stripe_sub.id,
                customer_id=stripe_sub.customer_id or local_stripe.customer_id_for(user_id),
                amount=self.catalog.premium.monthly_price,
                currency=self.catalog.premium.currency,
                period_start=start,
                period_end=stripe_sub.current_period_end or local_stripe.add_month(start),
                now=now,
            )
            await self._deliver(event, correlation_id)
        return await self.subscription(user_id)

    # -- account deletion ------------------------------------------------------------------
    async def close_account(
        self, user_id: str, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        """On UserDeleted (in the consumer's transaction, with its inbox row): expire the
        checkouts the user left open, end at once every Stripe subscription that could still
        charge them (with any that a checkout paid just before started), drop premium (reason
        "deleted") and close. Nothing to do for a user billing never knew (no subscription,
        no checkout).

        Stripe is called inside the transaction, so a failure (raised: the broker redelivers,
        then parks) leaves nothing behind; if Stripe acted but the commit failed, the
        redelivery asks again and Stripe's answers for what is already done count as done."""
        subscription = await self.repo.get(user_id, session=session)
        if subscription is not None and subscription.closed:
            return
        if subscription is None:
            if not await self.checkouts.any_for(user_id, session):
                return
            # a checkout, but UserRegistered not taken in yet: close all the same, so that
            # paying that checkout later finds the account closed rather than a new one
            subscription = Subscription(user_id)
        now = self.clock()
        subscription.open(self.catalog, now)
        to_end = {s.id: s for s in subscription.live_stripe_subscriptions()}
        expired: list[str] = []
        for checkout in await self.checkouts.open_of(user_id, now, session):
            ended = await self._end_checkout(checkout, now, session)
            if ended is None:
                continue
            expired.append(ended.id)
            started = ended.subscription_id
            if started and started not in subscription.stripe:
                # paid just before the deletion, its webhooks not here yet: end it now too
                to_end[started] = StripeSubscription(id=started, status="incomplete", as_of=now)
        ended_subscriptions = [
            await self._end_now(user_id, stripe_sub, now) for stripe_sub in to_end.values()
        ]
        subscription.close_for_deleted_account(ended_subscriptions, self.catalog, now)
        await self._save(
            subscription, session, envelope.correlation_id, causation_id=str(envelope.event_id)
        )
        log.info(
            "billing.account_closed",
            user_id=user_id,
            canceled=[facts.subscription_id for facts in ended_subscriptions],
            checkouts_ended=expired,
        )

    async def _end_checkout(
        self, checkout: Document, now: datetime, session: AsyncClientSession
    ) -> EndedCheckout | None:
        """Make one open checkout unpayable: Stripe's expired at Stripe, a local one here.
        None when there was nothing to ask Stripe."""
        checkout_id = str(checkout["_id"])
        if checkout.get("provider") == "local":
            await self.checkouts.end(checkout_id, "expired", "account_deleted", now, session)
            return None
        if self.stripe_api is None:
            # no key to expire it with; it expires by itself within a day, and should it be
            # paid first, the webhook finds the account closed and cancels what it started
            log.warning(
                "billing.checkout_left_open", checkout=checkout_id, user_id=checkout.get("user_id")
            )
            return None
        ended = await self.stripe_api.expire_checkout(checkout_id)
        status = "complete" if ended.status == "complete" else "expired"
        await self.checkouts.end(checkout_id, status, "account_deleted", now, session)
        return ended

    async def _end_now(
        self, user_id: str, stripe_sub: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        """Cancel one Stripe subscription now; what Stripe (or its local stand-in) answered."""
        # stamped with this second on billing's clock, like the cancel at period end; the
        # aggregate makes sure the end is not taken for older news than what it knew
        stamp = now.replace(microsecond=0)
        if self.stripe_api is not None:
            answer = await self.stripe_api.cancel_now(stripe_sub.id)
            if answer is None:  # Stripe no longer has it live: it charges no more
                return SubscriptionFacts(
                    subscription_id=stripe_sub.id,
                    as_of=stamp,
                    source="api.subscriptions.cancel",
                    status="canceled",
                )
            return subscription_facts(answer, stamp, "api.subscriptions.cancel", None)
        if not local_stripe.is_local(stripe_sub.id):
            # a real Stripe subscription and no key to cancel it with: retry, then park, so an
            # operator sees it rather than the user being charged on
            raise PaymentsUnavailable(
                f"Cannot cancel Stripe subscription {stripe_sub.id}: STRIPE_API_KEY is unset."
            )
        start = stripe_sub.current_period_start or now
        answer = local_stripe.canceled_subscription(
            user_id=user_id,
            plan="premium",
            subscription_id=stripe_sub.id,
            customer_id=stripe_sub.customer_id or local_stripe.customer_id_for(user_id),
            amount=self.catalog.premium.monthly_price,
            currency=self.catalog.premium.currency,
            period_start=start,
            period_end=stripe_sub.current_period_end or local_stripe.add_month(start),
            now=stamp,
        )
        return subscription_facts(answer, stamp, "local.subscriptions.cancel", None)

    # -- webhooks --------------------------------------------------------------------------
    def _verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Stripe's own check of the raw body: signature, secret and timestamp tolerance."""
        try:
            stripe.Webhook.construct_event(
                payload,
                signature,
                self.webhook_secret,
                tolerance=self.settings.stripe_webhook_tolerance_seconds,
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(
                "The Stripe-Signature header does not match this body, this endpoint's "
                "secret, or a recent time.",
                code="invalid_signature",
                title="Invalid webhook signature",
            ) from exc
        except Exception as exc:  # any unreadable body is the sender's error
            raise InvalidWebhook(
                "The webhook body is not a Stripe event (JSON).",
                code="invalid_payload",
                title="Invalid webhook payload",
            ) from exc
        # Stripe's library bounds the age of a signature, not how far it is ahead: a
        # timestamp from the future (a signature made to be replayed later) is refused too
        signed_at = _signed_at(signature)
        if (
            signed_at is None
            or signed_at > time.time() + self.settings.stripe_webhook_tolerance_seconds
        ):
            raise InvalidWebhook(
                "The Stripe-Signature header is dated in the future.",
                code="invalid_signature",
                title="Invalid webhook signature",
            )
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise InvalidWebhook(
                "The webhook body is not a Stripe event object.",
                code="invalid_payload",
                title="Invalid webhook payload",
            )
        return data

    async def receive_webhook(
        self, payload: bytes, signature: str | None, correlation_id: str | None
    ) -> WebhookResult:
        data = self._verify(payload, signature)
        try:
            notice = parse(data)
        except MalformedEvent as exc:
            raise InvalidWebhook(
                str(exc), code="invalid_payload", title="Invalid webhook payload"
            ) from exc
        event_id, event_type = str(data["id"]), str(data["type"])
        if notice is None:
            return WebhookResult(event_id, event_type, "ignored")
        user_id = notice.user_id or await self.view.user_for(
            notice.customer_id, notice.subscription_id
        )
        now = self.clock()
        grace = timedelta(seconds=self.settings.payment_grace_seconds)

        async def work(session: AsyncClientSession) -> WebhookOutcome:
            try:
                await self.processed.claim(event_id, event_type, notice.created, now, session)
            except DuplicateKeyError as exc:
                raise _AlreadyProcessed from exc
            if notice.invoice is not None:
                await self.ledger.record(
                    user_id, notice.invoice, notice.ledger, event_id, notice.livemode, now, session
                )
            if user_id is None:
                log.warning("stripe.event_unmatched", stripe_event=event_id, type=event_type)
                await self.processed.settle(event_id, None, "unmatched", session)
                return "unmatched"
            subscription = await self.repo.get(user_id, session=session) or Subscription(user_id)
            subscription.open(self.catalog, now)
            if notice.invoice is not None and notice.invoice.paid:
                subscription.invoice_paid(notice.invoice, self.catalog, now)
            elif notice.invoice is not None:
                subscription.payment_failed(notice.invoice, self.catalog, now, grace)
            elif notice.subscription is not None:
                subscription.observe(notice.subscription, self.catalog, now)
            canceled = await self._end_late(subscription, event_id, now)
            changed = await self._save(subscription, session, correlation_id, event_id)
            outcome: WebhookOutcome = (
                "account_closed" if canceled else "applied" if changed else "no_change"
            )
            await self.processed.settle(event_id, user_id, outcome, session)
            return outcome

        try:
            outcome = await self.rt.command(work)
        except _AlreadyProcessed:
            outcome = "duplicate"
        log.info("stripe.event", stripe_event=event_id, type=event_type, outcome=outcome)
        return WebhookResult(event_id, event_type, outcome)

    async def _end_late(self, subscription: Subscription, event_id: str, now: datetime) -> bool:
        """A closed account with a live Stripe subscription (a checkout opened before the
        deletion, paid after it): cancel it at once, as the deletion did the others.

        Called inside the webhook's transaction, so if Stripe fails (after the library's own
        retries) nothing is kept, not even the event's id: the webhook answers 5xx and Stripe
        sends the same event again later, which asks again. A 2xx now would make Stripe
        forget the event while the subscription still charges, with nothing left here to
        retry it."""
        if not subscription.closed:
            return False
        late = subscription.live_stripe_subscriptions()
        if not late:
            return False
        ended = [await self._end_now(subscription.user_id, s, now) for s in late]
        subscription.ended_at_request(ended)
        log.warning(
            "billing.late_subscription_canceled",
            user_id=subscription.user_id,
            stripe_event=event_id,
            canceled=[facts.subscription_id for facts in ended],
        )
        return True

    async def _deliver(self, event: dict[str, Any], correlation_id: str | None) -> None:
        """Hand a local Stripe-format event to the webhook handler, signed like Stripe."""
        payload = local_stripe.dumps(event)
        signature = local_stripe.sign(payload, self.webhook_secret)
        await self.receive_webhook(payload.encode(), signature, correlation_id)

    # -- local checkout --------------------------------------------------------------------
    def _require_local(self) -> None:
        if not self.settings.local_checkout_enabled:
            raise CheckoutNotFound("There is no local checkout here.")

    async def local_checkout(self, checkout_id: str) -> Document:
        self._require_local()
        doc = await self.checkouts.get(checkout_id) if LOCAL_ID.match(checkout_id) else None
        if doc is None or doc.get("provider") != "local":
            raise CheckoutNotFound("There is no such checkout.")
        if doc["status"] == "open" and doc["expires_at"] <= self.clock():
            doc["status"] = "expired"
        return doc

    async def _close_local(self, checkout_id: str, status: str, field: str) -> Document:
        doc = await self.local_checkout(checkout_id)
        closed = await self.checkouts.close(checkout_id, status, field, self.clock())
        if closed is not None:
            return closed
        doc = await self.local_checkout(checkout_id)
        if doc["status"] == status:
            return doc  # a repeat (double click, retry): its events are delivered again
        raise CheckoutClosed(f"This checkout is already {doc['status']}.")

    async def _refuse_closed_account(self, checkout_id: str) -> None:
        """A checkout of a deleted account is neither paid nor declined: nothing is charged
        and nothing is delivered."""
        doc = await self.local_checkout(checkout_id)
        subscription = await self.repo.get(str(doc["user_id"]))
        if subscription is not None:
            subscription.ensure_open()

    async def pay_local(self, checkout_id: str, correlation_id: str | None) -> Document:
        await self._refuse_closed_account(checkout_id)
        doc = await self._close_local(checkout_id, "paid", "paid_at")
        for event in local_stripe.payment_events(doc, doc["customer_id"]):
            await self._deliver(event, correlation_id)
        return doc

    async def decline_local(self, checkout_id: str, correlation_id: str | None) -> Document:
        await self._refuse_closed_account(checkout_id)
        doc = await self._close_local(checkout_id, "declined", "declined_at")
        for event in local_stripe.decline_events(doc, doc["customer_id"]):
            await self._deliver(event, correlation_id)
        return doc

    # -- lapses ----------------------------------------------------------------------------
    async def check_plans(self) -> int:
        """Drop plans whose paid period ended after a cancel, or whose grace window after a
        failed renewal ran out (Stripe's own webhook may come later, or never locally)."""
        now = self.clock()
        changed = 0
        for user_id in await self.view.due(now):

            async def work(session: AsyncClientSession, user_id: str = user_id) -> bool:
                subscription = await self.repo.get(user_id, session=session)
                if subscription is None:
                    return False
                subscription.reconcile(self.catalog, now)
                return await self._save(subscription, session, None)

            if await self.rt.command(work):
                changed += 1
        return changed

    # -- figures ---------------------------------------------------------------------------
    async def stats(self) -> dict[str, Any]:
        subscriptions = self.view.collection
        premium = await subscriptions.count_documents({"plan": "premium"})
        return {
            "active_subscriptions": premium,
            "subscriptions": {
                "premium": premium,
                "past_due": await subscriptions.count_documents(
                    {"plan": "premium", "status": "past_due"}
                ),
                "canceling": await subscriptions.count_documents(
                    {"plan": "premium", "cancel_at_period_end": True}
                ),
                "free": await subscriptions.count_documents({"plan": "free"}),
            },
            "revenue": await self.ledger.revenue(),
            "payments": {
                "paid": await self.ledger.count("paid"),
                "failed": await self.ledger.count("failed"),
            },
        }


def _signed_at(signature: str | None) -> int | None:
    """The `t=` of a Stripe-Signature header."""
    for part in (signature or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None
