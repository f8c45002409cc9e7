"""billing's HTTP API (through the gateway): subscription, checkout, cancel, Stripe's
webhook, the local checkout pages, and internal figures for /admin/stats."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from servicekit.identity import CurrentUser, Forbidden

from billing.app.billing import Billing
from billing.domain.plans import Plan

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}
CheckoutId = Annotated[str, Path(min_length=1, max_length=100)]


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Annotated[str, Field(min_length=1, max_length=40, examples=["premium"])]


def _billing(request: Request) -> Billing:
    billing: Billing = request.app.state.billing
    return billing


@router.get("/billing/subscription")
async def subscription(principal: CurrentUser, request: Request) -> JSONResponse:
    body = await _billing(request).subscriptions.of(principal.user_id)
    return JSONResponse(_json(body), headers=NO_STORE)


@router.post("/billing/checkout", status_code=201)
async def checkout(
    body: CheckoutRequest, principal: CurrentUser, request: Request
) -> dict[str, str]:
    return await _billing(request).checkout.start(principal.user_id, principal.email, body.plan)


@router.post("/billing/subscription/cancel")
async def cancel(principal: CurrentUser, request: Request) -> JSONResponse:
    body = await _billing(request).subscriptions.cancel(
        principal.user_id, request.state.correlation_id
    )
    return JSONResponse(_json(body), headers=NO_STORE)


@router.post("/billing/webhook")
async def stripe_webhook(request: Request) -> dict[str, Any]:
    """Stripe's webhook: the raw body is what the signature covers, so it is read as bytes."""
    result = await _billing(request).webhooks.receive(
        await request.body(),
        request.headers.get("stripe-signature"),
        request.state.correlation_id,
    )
    return {"received": True, "event_id": result.event_id, "outcome": result.outcome}


@router.get("/internal/stats", include_in_schema=False)
async def stats(principal: CurrentUser, request: Request) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Only administrators can see billing figures.")
    return await _billing(request).subscriptions.stats()


# --- local checkout (no STRIPE_API_KEY): a page with Pay and Decline -------------------


@router.get("/billing/local-checkout/{checkout_id}", response_class=HTMLResponse)
async def local_checkout_page(checkout_id: CheckoutId, request: Request) -> HTMLResponse:
    billing = _billing(request)
    doc = await billing.checkout.local(checkout_id)
    return _page(doc, billing.catalog.get(doc["plan"]))


@router.post("/billing/local-checkout/{checkout_id}/pay")
async def local_checkout_pay(checkout_id: CheckoutId, request: Request) -> Response:
    await _billing(request).checkout.pay_local(checkout_id, request.state.correlation_id)
    return _see_page(checkout_id)


@router.post("/billing/local-checkout/{checkout_id}/decline")
async def local_checkout_decline(checkout_id: CheckoutId, request: Request) -> Response:
    await _billing(request).checkout.decline_local(checkout_id, request.state.correlation_id)
    return _see_page(checkout_id)


def _see_page(checkout_id: str) -> Response:
    # Post/Redirect/Get: reloading the result page does not post the payment again
    return RedirectResponse(
        f"/billing/local-checkout/{checkout_id}", status_code=303, headers=NO_STORE
    )


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def _page(doc: dict[str, Any], plan: Plan) -> HTMLResponse:
    checkout_id = escape(doc["_id"])
    price = escape(_money(doc["amount"], doc["currency"]))
    title = escape(plan.name.capitalize())
    status = doc["status"]
    if status == "open":
        body = f"""<h1>Upgrade to {title}</h1>
<p>{plan.weekly_limit} interviews a week for {price} a month.</p>
<p>This is the local checkout that stands in for Stripe on this machine: no card is charged.</p>
<form method="post" action="/billing/local-checkout/{checkout_id}/pay">
<button type="submit">Pay {price}</button>
</form>
<form method="post" action="/billing/local-checkout/{checkout_id}/decline">
<button type="submit">Decline</button>
</form>"""
    elif status == "paid":
        back = escape(str(doc.get("success_url") or "/"))
        body = f"""<h1>Payment received</h1>
<p>You are on {title}: {plan.weekly_limit} interviews a week.</p>
<p><a href="{back}">Back to practising</a></p>"""
    elif status == "declined":
        body = """<h1>Payment declined</h1>
<p>Nothing was charged and your plan has not changed. You can start a new checkout.</p>"""
    elif doc.get("ended_reason") == "account_deleted":
        body = """<h1>This account has been closed</h1>
<p>The account was deleted, so this checkout can no longer be paid. Nothing was charged.</p>"""
    else:
        body = """<h1>This checkout has expired</h1>
<p>Start a new checkout to upgrade.</p>"""
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Checkout - {title}</title>
</head>
<body>
<main data-checkout-status="{escape(status)}">
{body}
</main>
</body>
</html>
"""
    return HTMLResponse(html, headers=NO_STORE | {"Referrer-Policy": "no-referrer"})


def _json(value: Any) -> Any:
    """Datetimes as ISO 8601 for a JSONResponse built by hand."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
