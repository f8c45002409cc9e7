"""Helpers for billing's tests: an adjustable clock, Stripe-format webhook events signed
with Stripe's scheme, a local server that speaks Stripe's API wire format, a listener on the
bus, and the harness around the in-process app."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiohttp import web
from contracts import DomainEvent, EventEnvelope
from servicekit.testing import FakeClock, TokenMint, eventually, put_on_bus

SECRET = "whsec_test_" + "s3cr3t" * 4


def signature(payload: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<unix>,v1=hex(HMAC-SHA256(secret, f"{t}.{payload}"))."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def stripe_event(event_type: str, obj: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {
        "id": "evt_" + uuid.uuid4().hex[:24],
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": ts(created),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_completed(
    user_id: str, subscription: str, customer: str, created: datetime, paid: bool = True
) -> dict[str, Any]:
    return stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_test_" + uuid.uuid4().hex[:24],
            "object": "checkout.session",
            "client_reference_id": user_id,
            "customer": customer,
            "subscription": subscription,
            "mode": "subscription",
            "payment_status": "paid" if paid else "unpaid",
            "status": "complete",
            "amount_total": 1500,
            "currency": "usd",
            "created": ts(created) - 60,
            "metadata": {"user_id": user_id, "plan": "premium"},
        },
        created,
    )


def subscription_changed(
    event_type: str,
    user_id: str | None,
    subscription: str,
    customer: str,
    status: str,
    created: datetime,
    period_start: datetime,
    period_end: datetime,
    cancel_at_period_end: bool = False,
    legacy_period: bool = False,
) -> dict[str, Any]:
    """A `customer.subscription.*` event; the period on the item (API 2025+) or, with
    `legacy_period`, on the subscription itself as older API versions put it."""
    item: dict[str, Any] = {"id": "si_" + subscription[4:], "object": "subscription_item"}
    obj: dict[str, Any] = {
        "id": subscription,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "created": ts(period_start),
        "metadata": {"user_id": user_id} if user_id else {},
        "items": {"object": "list", "data": [item]},
    }
    period = {"current_period_start": ts(period_start), "current_period_end": ts(period_end)}
    (obj if legacy_period else item).update(period)
    return stripe_event(event_type, obj, created)


def invoice(
    event_type: str,
    user_id: str | None,
    subscription: str,
    customer: str,
    created: datetime,
    amount: int = 1500,
    attempt: int = 1,
    billing_reason: str = "subscription_cycle",
    invoice_id: str | None = None,
    period_end: datetime | None = None,
    legacy: bool = False,
) -> dict[str, Any]:
    paid = event_type == "invoice.paid"
    obj: dict[str, Any] = {
        "id": invoice_id or "in_" + uuid.uuid4().hex[:24],
        "object": "invoice",
        "customer": customer,
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "attempt_count": attempt,
        "billing_reason": billing_reason,
        "currency": "usd",
        "status": "paid" if paid else "open",
        "created": ts(created),
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_" + uuid.uuid4().hex[:20],
                    "amount": amount,
                    "period": {
                        "start": ts(created),
                        "end": ts(period_end or created + timedelta(days=30)),
                    },
                }
            ],
        },
    }
    metadata = {"user_id": user_id} if user_id else {}
    if legacy:  # API versions before 2025-03-31
        obj |= {
            "subscription": subscription,
            "subscription_details": {"metadata": metadata},
            "payment_intent": "pi_" + uuid.uuid4().hex[:20],
            "charge": "ch_" + uuid.uuid4().hex[:20],
        }
    else:
        obj["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": metadata},
        }
    return stripe_event(event_type, obj, created)


@dataclass
class FakeStripe:
    """Enough of api.stripe.com: Checkout Sessions (created, read, expired, and paid by a
    customer with `pay`), subscription updates and cancels."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: int = 0
    fail_status: int = 500
    canceled: set[str] = field(default_factory=set)
    """Subscriptions canceled here: Stripe answers resource_missing to cancelling them again."""
    missing: set[str] = field(default_factory=set)
    """Subscriptions Stripe does not have (deleted, or never made)."""
    canceling: set[str] = field(default_factory=set)
    """Subscriptions set to cancel at the end of their period."""
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Checkout Sessions by id, as Stripe holds them now."""

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def failure(self) -> web.Response | None:
        """While `fail_next` lasts: a 500 (api_error) or a 429 (rate limit), as Stripe sends."""
        if not self.fail_next:
            return None
        self.fail_next -= 1
        if self.fail_status == 429:
            error = {"type": "invalid_request_error", "code": "rate_limit", "message": "slow"}
        else:
            error = {"type": "api_error", "message": "try again"}
        return web.json_response({"error": error}, status=self.fail_status)

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
        if (failed := self.failure()) is not None:
            return failed
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
        self.sessions[session_id] = body
        return web.json_response(body)

    def pay(self, session_id: str) -> str:
        """The customer pays an open session on Stripe's page: it completes and starts a
        subscription (whose webhooks billing has not received yet). Returns its id."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise AssertionError(f"Stripe's page would not take a session {session['status']}")
        subscription = "sub_" + uuid.uuid4().hex[:14]
        session |= {"status": "complete", "payment_status": "paid", "subscription": subscription}
        return subscription

    def _missing_session(self, session_id: str) -> web.Response:
        error = {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "session",
            "message": f"No such checkout.session: '{session_id}'",
        }
        return web.json_response({"error": error}, status=404)

    async def retrieve_session(self, request: web.Request) -> web.Response:
        self.record(request, dict(request.query))
        if (failed := self.failure()) is not None:
            return failed
        session = self.sessions.get(request.match_info["session"])
        if session is None:
            return self._missing_session(request.match_info["session"])
        return web.json_response(session)

    async def expire_session(self, request: web.Request) -> web.Response:
        """POST /v1/checkout/sessions/{id}/expire: only an open session can be expired; any
        other is refused with a message and no error code, as Stripe does."""
        form = dict(await request.post())  # type: ignore[arg-type]
        self.record(request, form)  # type: ignore[arg-type]
        if (failed := self.failure()) is not None:
            return failed
        session_id = request.match_info["session"]
        session = self.sessions.get(session_id)
        if session is None:
            return self._missing_session(session_id)
        if session["status"] != "open":
            message = (
                'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f"Checkout Session has a status of `{session['status']}`."
            )
            error = {"type": "invalid_request_error", "message": message}
            return web.json_response({"error": error}, status=400)
        session["status"] = "expired"
        return web.json_response(session)

    async def update_subscription(self, request: web.Request) -> web.Response:
        form = dict(await request.post())  # type: ignore[arg-type]
        self.record(request, form)  # type: ignore[arg-type]
        now = int(time.time())
        sub = request.match_info["sub"]
        if form.get("cancel_at_period_end") == "true":
            self.canceling.add(sub)
        return web.json_response(
            {
                "id": sub,
                "object": "subscription",
                "cancel_at_period_end": sub in self.canceling,
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

    async def cancel_subscription(self, request: web.Request) -> web.Response:
        """DELETE /v1/subscriptions/{id}: parameters in the query string, as for any DELETE."""
        self.record(request, dict(request.query))
        if (failed := self.failure()) is not None:
            return failed
        sub = request.match_info["sub"]
        if sub in self.missing or sub in self.canceled:
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "id",
                        "message": f"No such subscription: '{sub}'",
                    }
                },
                status=404,
            )
        self.canceled.add(sub)
        now = int(time.time())
        return web.json_response(
            {
                "id": sub,
                "object": "subscription",
                "cancel_at_period_end": sub in self.canceling,  # kept as it was
                "canceled_at": now,
                "ended_at": now,
                "customer": "cus_fake",
                "status": "canceled",
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


class BusListener:
    """An exclusive queue on the test's exchange: what billing really published."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def of(self, event_type: str, user_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m["payload"]
            for m in self.messages
            if m["event_type"] == event_type
            and (user_id is None or m["payload"].get("user_id") == user_id)
        ]


@dataclass
class Harness:
    app: Any
    client: httpx.AsyncClient
    mint: TokenMint
    clock: FakeClock
    bus: BusListener

    @property
    def rt(self) -> Any:
        return self.app.state.runtime

    @property
    def billing(self) -> Any:
        return self.app.state.billing

    @property
    def db(self) -> Any:
        return self.rt.db

    def auth(self, user_id: str, role: str = "user") -> dict[str, str]:
        return self.mint.headers(user_id, role)

    async def deliver(
        self,
        event: dict[str, Any] | str,
        secret: str = SECRET,
        timestamp: int | None = None,
        header: str | None = None,
    ) -> httpx.Response:
        payload = event if isinstance(event, str) else json.dumps(event)
        return await self.client.post(
            "/billing/webhook",
            content=payload.encode(),
            headers={
                "content-type": "application/json; charset=utf-8",
                "stripe-signature": header or signature(payload, secret, timestamp),
            },
        )

    async def view(self, user_id: str) -> dict[str, Any]:
        response = await self.client.get("/billing/subscription", headers=self.auth(user_id))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def published(self, event_type: str, user_id: str, count: int = 1) -> list[Any]:
        async def seen() -> list[Any]:
            found = self.bus.of(event_type, user_id)
            return found if len(found) >= count else []

        return await eventually(seen, message=f"{count} {event_type} published for {user_id}")

    async def state(self) -> dict[str, Any]:
        """Everything billing stores, to show that a rejected request changed nothing."""
        out = {}
        for name in ("events", "outbox", "subscriptions", "payments", "stripe_events"):
            docs = (
                await self.db[name].find({}, {"updated_at": 0, "sent": 0, "sent_at": 0}).to_list()
            )
            out[name] = sorted(docs, key=lambda d: str(d["_id"]))
        return out

    async def publish(self, event: DomainEvent, aggregate_id: str) -> EventEnvelope:
        """Put an event on the test's exchange as its producer's relay would."""
        envelope = EventEnvelope.wrap(
            event, producer="auth", aggregate_type="user", aggregate_id=aggregate_id,
            aggregate_version=1,
        )  # fmt: skip
        await self.republish(envelope)
        return envelope

    async def republish(self, envelope: EventEnvelope) -> None:
        """The same event again (a redelivery after a relay crash, a replay)."""
        await put_on_bus(self.rt, envelope)

    async def handled(self, envelope: EventEnvelope) -> dict[str, Any]:
        """Wait until billing's consumer committed this event (its inbox row)."""
        key = f"main.{envelope.event_type}:{envelope.event_id}"

        async def committed() -> Any:
            return await self.db["inbox"].find_one({"_id": key})

        row: dict[str, Any] = await eventually(committed, message=f"{key} handled")
        return row
