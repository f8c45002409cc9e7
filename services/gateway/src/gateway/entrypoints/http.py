"""The public contract (SPEC.md section 2): each path verified and limited at the edge, then
forwarded to the service that owns it. Request bodies are validated here too, so the OpenAPI
at /docs is the real contract and junk never travels further than the edge."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from contracts.api import (
    Accepted,
    AdminStats,
    CheckoutRequest,
    CheckoutStarted,
    DraftOut,
    DraftRequest,
    EmailVerification,
    LoginRequest,
    LogoutRequest,
    Me,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    PasswordChange,
    PasswordForgot,
    PasswordReset,
    ProfileUpdate,
    Progress,
    QuestionOut,
    QuestionPage,
    RefreshRequest,
    RegisterRequest,
    RescoreAccepted,
    RunRequest,
    RunResult,
    SessionOut,
    SessionPage,
    StartInterviewRequest,
    StatusFrame,
    SubmitAccepted,
    SubmitRequest,
    SubscriptionOut,
    TokenPair,
    Transcript,
    Unsubscribe,
    Unsubscribed,
    UserOut,
    WebhookReceived,
)
from contracts.identity import canonical_email
from contracts.problem import PROBLEM_MEDIA_TYPE, Problem
from contracts.questions import Question
from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from servicekit.identity import Forbidden
from servicekit.logs import get_logger
from servicekit.problems import DomainError

from gateway.adapters.edgestore import ME_CACHE, EdgeStore
from gateway.adapters.upstream import Upstreams
from gateway.entrypoints.edge import (
    Edge,
    authenticated_reading_me,
    rate_limit_headers,
    same_origin_only,
)
from gateway.entrypoints.sse import stream_session_events
from gateway.entrypoints.web import WebApp, wants_page


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}} for s in statuses}


def _edge(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


async def limit_by_ip(request: Request) -> None:
    await _edge(request).per_ip(request)


log = get_logger(__name__)
router = APIRouter(responses=problems(413, 415, 429, 503))
READS = frozenset({"GET", "HEAD"})
ACCOUNT_CHANGED = "x-account-changed"  # set by auth on a verified address, never passed on


async def forward(service: str, request: Request) -> Response:
    upstreams: Upstreams = request.app.state.upstreams
    response = await upstreams.forward(service, request)
    response.headers.update(rate_limit_headers(request))
    principal = getattr(request.state, "principal", None)
    if principal is not None and request.method not in READS:
        # a signed-in user's write may change what /user/me shows (quota, plan, account):
        # drop the cached answer now that the service has committed it
        await _invalidate_me(request, principal.user_id)
    return response


async def _invalidate_me(request: Request, user_id: str) -> None:
    store: EdgeStore = request.app.state.store
    try:
        await store.invalidate_me(user_id)
    except Exception as exc:  # noqa: BLE001 - Redis down: it holds no answer to drop either
        log.warning("me_cache.invalidate_failed", error=repr(exc))


async def signed_in(request: Request) -> None:
    """Every authenticated route: token, per-IP and per-user limits, revocation."""
    await _edge(request).authenticate(request)


PUBLIC = [Depends(limit_by_ip)]
AUTHED = [Depends(signed_in)]


# --- accounts ---------------------------------------------------------------------------


@router.post(
    "/auth/register",
    tags=["auth"],
    status_code=201,
    dependencies=PUBLIC,
    response_model=UserOut,
    responses=problems(409, 422),
)
async def register(body: RegisterRequest, request: Request) -> Response:
    await _edge(request).per_ip(request, "register_ip")
    return await forward("auth", request)


@router.post(
    "/auth/login",
    tags=["auth"],
    response_model=TokenPair,
    dependencies=PUBLIC,
    responses=problems(401, 422),
)
async def login(body: LoginRequest, request: Request) -> Response:
    edge = _edge(request)
    await edge.per_ip(request, "login_ip")
    # the same canonical spelling auth looks the account up by: no other spelling of an
    # address gets a budget of its own
    await edge.limit(request, "login_account", canonical_email(body.email))
    return await forward("auth", request)


@router.post(
    "/auth/refresh",
    tags=["auth"],
    response_model=TokenPair,
    dependencies=PUBLIC,
    responses=problems(401, 422),
)
async def refresh(request: Request, body: RefreshRequest | None = Body(default=None)) -> Response:
    await _edge(request).per_ip(request, "refresh_ip")
    return await forward("auth", request)


@router.post(
    "/auth/logout", tags=["auth"], status_code=204, dependencies=AUTHED, responses=problems(401)
)
async def logout(request: Request, body: LogoutRequest | None = Body(default=None)) -> Response:
    return await forward("auth", request)


@router.get(
    "/user/me",
    tags=["auth"],
    response_model=Me,
    dependencies=[Depends(authenticated_reading_me)],
    responses=problems(401),
)
async def user_me(request: Request) -> Response:
    """The profile from auth with the live quota from interviews (which owns the ledger)."""
    headers = {"Cache-Control": "no-store", **rate_limit_headers(request)}
    cached: bytes | None = getattr(request.state, "me_cached", None)
    if cached is not None:
        ME_CACHE.labels("hit").inc()
        return Response(cached, media_type="application/json", headers=headers)
    ME_CACHE.labels("miss").inc()
    upstreams: Upstreams = request.app.state.upstreams
    profile, quota = await asyncio.gather(
        upstreams.forward("auth", request),
        upstreams.get_json("interviews", "/internal/quota", request),
    )
    if profile.status_code != 200 or not isinstance(quota, dict):
        # interviews unreachable: auth's own view of the plan still answers (never cached)
        profile.headers.update(rate_limit_headers(request))
        return profile
    body = json.loads(profile.body)
    body["plan"] = quota.pop("plan", body.get("plan"))
    body["quota"] = quota
    answer = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    await _remember_me(request, answer, body)
    return Response(answer, media_type="application/json", headers=headers)


async def _remember_me(request: Request, answer: bytes, body: dict[str, Any]) -> None:
    """Keep the composed answer until something it shows changes (or the week turns)."""
    generation: int | None = getattr(request.state, "me_generation", None)
    limit_seconds: int = request.app.state.edge.settings.me_cache_seconds
    if generation is None or limit_seconds <= 0:
        return
    try:
        resets_at = datetime.fromisoformat(body["quota"]["resets_at"])
        ttl = min(limit_seconds, int((resets_at - datetime.now(UTC)).total_seconds()))
        store: EdgeStore = request.app.state.store
        await store.fill_me(
            request.state.principal.user_id, generation, answer, ttl, str(body["plan"])
        )
    except Exception as exc:  # noqa: BLE001 - the answer stands; it is only not kept
        log.warning("me_cache.fill_failed", error=repr(exc))


@router.patch(
    "/user/me",
    tags=["auth"],
    response_model=UserOut,
    dependencies=AUTHED,
    responses=problems(401, 422),
)
async def update_me(body: ProfileUpdate, request: Request) -> Response:
    """Change the display name."""
    return await forward("auth", request)


@router.post(
    "/auth/password",
    tags=["auth"],
    status_code=204,
    dependencies=AUTHED,
    responses=problems(401, 422),
)
async def change_password(body: PasswordChange, request: Request) -> Response:
    """Change the password (the current one is required); every other login is signed out."""
    await _edge(request).per_ip(request, "login_ip")  # guesses of the current password
    return await forward("auth", request)


@router.post(
    "/auth/password/forgot",
    tags=["auth"],
    status_code=202,
    response_model=Accepted,
    dependencies=PUBLIC,
    responses=problems(422),
)
async def forgot_password(body: PasswordForgot, request: Request) -> Response:
    """Mail a reset link (valid 30 minutes) if an account has this address; the answer is
    the same whether or not one does."""
    edge = _edge(request)
    await edge.per_ip(request, "recovery_ip")
    # per address too (any spelling of it), whether or not an account has it
    await edge.limit(request, "recovery_account", canonical_email(body.email))
    return await forward("auth", request)


@router.post(
    "/auth/password/reset",
    tags=["auth"],
    status_code=204,
    dependencies=PUBLIC,
    responses=problems(400, 422),
)
async def reset_password(body: PasswordReset, request: Request) -> Response:
    """Set a new password with the mailed token (single use); every login is signed out."""
    await _edge(request).per_ip(request, "recovery_ip")
    return await forward("auth", request)


@router.post(
    "/auth/verify-email",
    tags=["auth"],
    status_code=204,
    dependencies=PUBLIC,
    responses=problems(400, 422),
)
async def verify_email(body: EmailVerification, request: Request) -> Response:
    """Verify the account's address with the mailed token (single use, 24 hours).
    Unverified users may practise; `/user/me` shows `email_verified`."""
    await _edge(request).per_ip(request, "recovery_ip")
    response = await forward("auth", request)
    changed = response.headers.get(ACCOUNT_CHANGED)
    if changed is not None:
        del response.headers[ACCOUNT_CHANGED]
        # the link may be opened signed out: auth names the account whose /user/me changed
        await _invalidate_me(request, changed)
    return response


@router.post(
    "/auth/verify-email/resend",
    tags=["auth"],
    status_code=204,
    dependencies=AUTHED,
    responses=problems(401),
)
async def resend_verification(request: Request) -> Response:
    """Mail a fresh verification link (at most one a minute per account)."""
    await _edge(request).per_ip(request, "recovery_ip")
    return await forward("auth", request)


@router.get(
    "/user/me/notifications",
    tags=["notifications"],
    response_model=NotificationPreferences,
    dependencies=AUTHED,
    responses=problems(401, 404),
)
async def my_notifications(request: Request) -> Response:
    """Which mail the user gets (account security mail is always sent)."""
    return await forward("notifications", request)


@router.put(
    "/user/me/notifications",
    tags=["notifications"],
    response_model=NotificationPreferences,
    dependencies=AUTHED,
    responses=problems(401, 404, 422),
)
async def change_notifications(body: NotificationPreferencesUpdate, request: Request) -> Response:
    """Turn kinds of mail on or off; kinds left out keep their setting."""
    return await forward("notifications", request)


UNSUBSCRIBE_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": Unsubscribe.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                }
            },
        },
    }
}


@router.get("/notifications/unsubscribe", include_in_schema=False, dependencies=PUBLIC)
async def unsubscribe_page(request: Request) -> Response:
    """The one-click URL opened in a browser (copied from a mail's headers): the web page,
    which asks before it unsubscribes (a GET never does: link scanners follow links)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return Response(status_code=303, headers={"Location": f"/unsubscribe{query}"})


@router.post(
    "/notifications/unsubscribe",
    tags=["notifications"],
    response_model=Unsubscribed,
    dependencies=PUBLIC,
    responses=problems(400, 422),
    openapi_extra=UNSUBSCRIBE_BODY,
)
async def unsubscribe(
    request: Request,
    token: Annotated[
        str | None, Query(max_length=400, description="The token of the mail's link.")
    ] = None,
) -> Response:
    """Signed out, with the token of a mail's unsubscribe link: a mail client's one-click
    POST (RFC 8058, the token in the query), or the web page's `{"token": ...}`."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            Unsubscribe.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
    return await forward("notifications", request)


@router.get(
    "/user/me/progress",
    tags=["interviews"],
    response_model=Progress,
    dependencies=AUTHED,
    responses=problems(401),
)
async def my_progress(request: Request) -> Response:
    """Scores per competency and rubric dimension by ISO week; best and latest per question."""
    return await forward("interviews", request)


@router.delete(
    "/user/me", tags=["auth"], status_code=204, dependencies=AUTHED, responses=problems(401)
)
async def delete_me(request: Request) -> Response:
    response = await forward("auth", request)
    if response.status_code == 204:
        # revoked here before the answer, not only when UserDeleted comes round: no request
        # with the deleted account's token gets through after the 204
        edge = _edge(request)
        user_id = request.state.principal.user_id
        edge.revocations.deleted(user_id)
        try:
            await edge.store.revoke_user(user_id)
        except Exception as exc:  # noqa: BLE001 - the event revokes it in Redis too
            log.warning("revoke.redis_failed", error=repr(exc))
    return response


# --- question bank and interviews (interviews service) ---------------------------------


@router.get(
    "/questions",
    tags=["questions"],
    response_model=QuestionPage,
    dependencies=AUTHED,
    responses=problems(401, 422),
)
async def list_questions(
    request: Request,
    type: Literal["coding", "behavioral"] | None = None,
    difficulty: Literal["easy", "medium", "hard"] | None = None,
    tags: Annotated[
        str | None,
        Query(max_length=400, pattern=r"^[a-z0-9,-]*$", description="Comma-separated tags."),
    ] = None,
    tags_mode: Literal["any", "all"] = "any",
    q: Annotated[str | None, Query(max_length=100, description="Words in the title.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    # the parameters are declared for the contract (and checked here); interviews reads them
    return await forward("interviews", request)


@router.post(
    "/questions",
    tags=["questions"],
    status_code=201,
    response_model=QuestionOut,
    dependencies=AUTHED,
    responses=problems(401, 403, 409, 422),
)
async def create_question(body: Question, request: Request) -> Response:
    """Admins: add a question (a coding question must pass its own tests in the sandbox)."""
    return await forward("interviews", request)


@router.get(
    "/questions/{question_id}",
    tags=["questions"],
    response_model=QuestionOut,
    dependencies=AUTHED,
    responses=problems(401, 404),
)
async def get_question(question_id: str, request: Request) -> Response:
    return await forward("interviews", request)


@router.put(
    "/questions/{question_id}",
    tags=["questions"],
    response_model=QuestionOut,
    dependencies=AUTHED,
    responses=problems(401, 403, 404, 422),
)
async def update_question(question_id: str, body: Question, request: Request) -> Response:
    """Admins: publish a new version of a question (the path's id wins over the body's)."""
    return await forward("interviews", request)


@router.delete(
    "/questions/{question_id}",
    tags=["questions"],
    status_code=204,
    dependencies=AUTHED,
    responses=problems(401, 403, 404),
)
async def delete_question(question_id: str, request: Request) -> Response:
    return await forward("interviews", request)


@router.post(
    "/interviews",
    tags=["interviews"],
    status_code=202,
    response_model=SessionOut,
    dependencies=AUTHED,
    responses=problems(401, 422, 429),
)
async def start_interview(body: StartInterviewRequest, request: Request) -> Response:
    """Start an interview (429 `quota_exceeded` with Retry-After when the week's are used)."""
    return await forward("interviews", request)


@router.get(
    "/interviews",
    tags=["interviews"],
    response_model=SessionPage,
    dependencies=AUTHED,
    responses=problems(401, 422),
)
async def list_interviews(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """The caller's own interviews, newest first."""
    return await forward("interviews", request)


@router.get(
    "/interviews/{session_id}",
    tags=["interviews"],
    response_model=SessionOut,
    dependencies=AUTHED,
    responses=problems(401, 404),
)
async def get_interview(session_id: str, request: Request) -> Response:
    return await forward("interviews", request)


@router.post(
    "/interviews/{session_id}/submit",
    tags=["interviews"],
    status_code=202,
    response_model=SubmitAccepted,
    dependencies=AUTHED,
    responses=problems(401, 404, 409, 422),
)
async def submit_answers(session_id: str, body: SubmitRequest, request: Request) -> Response:
    return await forward("interviews", request)


@router.put(
    "/interviews/{session_id}/draft",
    tags=["interviews"],
    response_model=DraftOut,
    dependencies=AUTHED,
    responses=problems(401, 404, 409, 412, 422, 428),
)
async def save_draft(
    session_id: str,
    body: DraftRequest,
    request: Request,
    if_match: str | None = Header(
        default=None,
        description="The draft version last read (its ETag); required once a draft exists.",
    ),
) -> Response:
    """Save work in progress while the session is `ready`; a stale version gets 412."""
    return await forward("interviews", request)


@router.post(
    "/interviews/{session_id}/run",
    tags=["interviews"],
    response_model=RunResult,
    dependencies=AUTHED,
    responses=problems(401, 404, 409, 422),
)
async def run_examples(session_id: str, body: RunRequest, request: Request) -> Response:
    """Run code against the question's visible examples only (no quota used), while the
    session is `ready`."""
    await _edge(request).limit(request, "run", request.state.principal.user_id)
    return await forward("interviews", request)


@router.get(
    "/interviews/{session_id}/events",
    tags=["interviews"],
    dependencies=AUTHED,
    response_class=Response,
    responses={
        200: {
            "description": "A `text/event-stream`; each `status` event's data is a StatusFrame.",
            "content": {"text/event-stream": {"schema": StatusFrame.model_json_schema()}},
        },
        **problems(401, 404, 422),
    },
)
async def interview_events(session_id: str, request: Request) -> Response:
    """Server-Sent Events: one `status` event per status change until a final status
    (`Last-Event-ID` resumes after the given sequence; a comment line every 15 s keeps the
    connection alive)."""
    return await stream_session_events(session_id, request)


@router.post(
    "/interviews/{session_id}/rescore",
    tags=["admin"],
    status_code=202,
    response_model=RescoreAccepted,
    dependencies=AUTHED,
    responses=problems(401, 403, 404, 409),
)
async def rescore(session_id: str, request: Request) -> Response:
    """Admins: score a completed interview again; the old result stays in its history."""
    if not request.state.principal.is_admin:
        raise Forbidden("Only administrators can re-score an interview.")
    return await forward("ai-runner", request)


@router.get(
    "/interviews/{session_id}/transcript",
    tags=["interviews"],
    response_model=Transcript,
    dependencies=AUTHED,
    responses={
        200: {"content": {"text/markdown": {"schema": {"type": "string"}}}},
        **problems(401, 404, 422),
    },
)
async def transcript(session_id: str, request: Request) -> Response:
    """The stored transcript (JSON, or `?format=markdown`), kept by the AI runner."""
    return await forward("ai-runner", request)


# --- billing ----------------------------------------------------------------------------


@router.get(
    "/billing/subscription",
    tags=["billing"],
    response_model=SubscriptionOut,
    dependencies=AUTHED,
    responses=problems(401),
)
async def subscription(request: Request) -> Response:
    return await forward("billing", request)


@router.post(
    "/billing/checkout",
    tags=["billing"],
    status_code=201,
    response_model=CheckoutStarted,
    dependencies=AUTHED,
    responses=problems(401, 409, 422),
)
async def checkout(body: CheckoutRequest, request: Request) -> Response:
    return await forward("billing", request)


@router.post(
    "/billing/webhook",
    tags=["billing"],
    response_model=WebhookReceived,
    dependencies=PUBLIC,
    responses=problems(400),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Stripe event, signed in the Stripe-Signature header; the raw "
            "bytes are what the signature covers, so they are passed on untouched.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["id", "type"],
                        "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
                    }
                }
            },
        }
    },
)
async def stripe_webhook(request: Request) -> Response:
    return await forward("billing", request)


@router.post(
    "/billing/subscription/cancel",
    tags=["billing"],
    response_model=SubscriptionOut,
    dependencies=AUTHED,
    responses=problems(401, 409),
)
async def cancel_subscription(request: Request) -> Response:
    """Cancel at the end of the paid period: premium stays until then."""
    return await forward("billing", request)


# The local checkout (no STRIPE_API_KEY): public pages, reachable only by their unguessable id.
@router.get(
    "/billing/local-checkout/{checkout_id}",
    tags=["billing"],
    dependencies=PUBLIC,
    response_class=Response,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problems(404),
    },
)
async def local_checkout_page(checkout_id: str, request: Request) -> Response:
    return await forward("billing", request)


@router.post(
    "/billing/local-checkout/{checkout_id}/pay",
    tags=["billing"],
    status_code=303,
    dependencies=[*PUBLIC, Depends(same_origin_only)],
    responses=problems(403, 404, 409),
)
async def local_checkout_pay(checkout_id: str, request: Request) -> Response:
    return await forward("billing", request)


@router.post(
    "/billing/local-checkout/{checkout_id}/decline",
    tags=["billing"],
    status_code=303,
    dependencies=[*PUBLIC, Depends(same_origin_only)],
    responses=problems(403, 404, 409),
)
async def local_checkout_decline(checkout_id: str, request: Request) -> Response:
    return await forward("billing", request)


# --- admin ------------------------------------------------------------------------------


@router.get(
    "/admin/stats",
    tags=["admin"],
    response_model=AdminStats,
    dependencies=AUTHED,
    responses=problems(401, 403),
)
async def admin_stats(request: Request) -> Response:
    """Platform figures composed from each service's internal stats (admins only)."""
    if not request.state.principal.is_admin:
        raise Forbidden("Only administrators can see platform statistics.")
    upstreams: Upstreams = request.app.state.upstreams
    names = ("auth", "interviews", "billing", "ai-runner")
    parts = await asyncio.gather(
        *(upstreams.get_json(n, "/internal/stats", request) for n in names)
    )
    body: dict[str, Any] = {
        "unavailable": [n for n, p in zip(names, parts, strict=True) if p is None]
    }
    for part in parts:
        if isinstance(part, dict):
            body.update(part)
    response = JSONResponse(body, headers={"Cache-Control": "no-store"})
    response.headers.update(rate_limit_headers(request))
    return response


# --- everything else ---------------------------------------------------------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _routes(routes: Any) -> Any:
    """Every path route of the app, through included routers."""
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if inner is not None and not hasattr(route, "path_regex"):
            yield from _routes(getattr(inner, "routes", inner))
        elif hasattr(route, "path_regex") and getattr(route, "methods", None):
            yield route


def _web(request: Request) -> WebApp | None:
    web: WebApp | None = getattr(request.app.state, "web", None)
    return web if web is not None and web.built else None


@router.get(
    "/",
    tags=["web"],
    dependencies=PUBLIC,
    response_class=Response,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **problems(404)},
)
async def web_app(request: Request) -> Response:
    """The web app (when this gateway serves it; it may run as its own static container)."""
    web = _web(request)
    if web is None:
        raise DomainError(
            "The web app is not served here.", status=404, code="not_found", title="Not found"
        )
    return web.page()


@router.get("/assets/{name:path}", include_in_schema=False, dependencies=PUBLIC)
async def web_asset(name: str, request: Request) -> Response:
    web = _web(request)
    found = web.asset(name) if web is not None else None
    if found is None:
        raise DomainError("No such file.", status=404, code="not_found", title="Not found")
    return found


@router.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
async def no_such_route(path: str, request: Request) -> Response:
    """A path or method no route has: charged to the client's per-IP budget like any other
    request (so a flood of made-up paths is throttled) and answered as problem+json; a
    browser navigating to one of the web app's own pages gets the app."""
    await _edge(request).per_ip(request)
    web = _web(request)
    if web is not None and wants_page(request):
        return web.page()
    allowed = sorted(
        {
            method
            for route in _routes(request.app.routes)
            if route.path != "/{path:path}" and route.path_regex.match(request.url.path)
            for method in route.methods or ()
        }
    )
    if allowed:
        raise DomainError(
            f"{request.method} is not allowed here; use {', '.join(allowed)}.",
            status=405,
            code="method_not_allowed",
            title="Method not allowed",
            headers={"Allow": ", ".join(allowed)},
        )
    raise DomainError("No such resource.", status=404, code="not_found", title="Not found")
