"""The edge: who is calling (client IP, verified identity), rate limits, security headers,
content-type checks. Everything here runs before a request is forwarded."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fastapi import Request
from servicekit.identity import InvalidToken, JwksVerifier, Principal, bearer_token
from servicekit.logs import bind_context, get_logger
from servicekit.problems import DomainError, problem_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.adapters.edgestore import (
    ME_CACHE,
    Decision,
    EdgeStore,
    Policy,
    RedisUnavailable,
)
from gateway.adapters.revocations import RevocationMemory
from gateway.settings import Settings

log = get_logger(__name__)

SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI at /docs loads its script and styles from jsDelivr.
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# the web app's pages: its own scripts and styles only, no inline script (Mantine writes its
# theme variables into a <style> element, hence inline styles), API calls to this origin
WEB_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
NO_STORE_PREFIXES = ("/auth/", "/user/")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class SecurityHeadersMiddleware:
    """Adds the security headers to every response: the outermost layer, so answers made
    before routing (413, 415, 400 for a bad path, 429) carry them too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path in ("/docs", "/redoc") else API_CSP
        no_store = path.startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                page_csp = csp
                if csp is API_CSP and any(
                    k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers
                ):
                    page_csp = WEB_CSP
                headers.append((b"content-security-policy", page_csp))
                if no_store:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# a path a service would read differently from the gateway: dot segments (plain or encoded),
# encoded slashes, backslashes or NULs, and double encoding
_UNSAFE_PATH = re.compile(rb"%(?:2e|2f|5c|00|25)|\\", re.IGNORECASE)


def path_problem(raw_path: bytes) -> str | None:
    """Why a request path is refused before routing, or None."""
    if _UNSAFE_PATH.search(raw_path):
        return "The path contains encoded dots, slashes, backslashes or NULs."
    if any(segment in (b".", b"..") for segment in raw_path.split(b"/")):
        return "The path contains '.' or '..' segments."
    return None


class RequestGuard:
    """Refusals made before routing, each charged to the client's per-IP budget like any
    other request (past it, the answer is 429): a path with dot segments or encoded
    separators (400), a body that is not JSON (415)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = None
        bad_path = path_problem(scope.get("raw_path") or path.encode())
        if bad_path:
            refusal = problem_response(400, "invalid_path", "Invalid path", bad_path)
        elif (
            scope["method"] in BODY_METHODS
            and _has_body(scope)
            and not _is_json(scope)
            and not _is_one_click_unsubscribe(scope)
        ):
            refusal = problem_response(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the request body as application/json.",
                instance=path[:300],
            )
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = await charge_refusal(scope) or refusal
        await response(scope, receive, send)


async def charge_refusal(scope: Scope) -> Any:
    """Spend one request of the client's per-IP budget for an answer made before routing;
    the 429 problem to send instead when the budget is spent, else None."""
    edge: Edge = scope["app"].state.edge
    try:
        await edge.per_ip(Request(scope))
    except DomainError as exc:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, headers=exc.headers or None
        )
    return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return _header(scope, b"transfer-encoding") is not None


ONE_CLICK_UNSUBSCRIBE = "/notifications/unsubscribe"


def _is_one_click_unsubscribe(scope: Scope) -> bool:
    """RFC 8058: a mail client POSTs `List-Unsubscribe=One-Click` as a form to the mail's
    unsubscribe link; the one body that is not JSON."""
    content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    return (
        scope["path"] == ONE_CLICK_UNSUBSCRIBE
        and scope["method"] == "POST"
        and content_type == b"application/x-www-form-urlencoded"
    )


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


def client_ip(request: Request, settings: Settings) -> str:
    """The socket peer, or, behind a trusted proxy, the first untrusted X-Forwarded-For hop."""
    peer = request.client.host if request.client else "0.0.0.0"
    networks = settings.trusted_proxy_networks
    if not networks:
        return peer

    def trusted(ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in networks)

    if not trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return peer


class CrossSiteRequest(DomainError):
    status = 403
    code = "cross_site_request"
    title = "Cross-site request refused"


async def same_origin_only(request: Request) -> None:
    """For the few routes a browser reaches with a plain HTML form (the local checkout's Pay
    and Decline): a form posted from another site is refused. Browsers say where a request
    comes from in `Sec-Fetch-Site` and `Origin`; a client that sends neither (curl) is not a
    browser being tricked."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CrossSiteRequest("This form can only be sent from the checkout page itself.")
    if site == "same-origin":
        # the browser's own word; under `Referrer-Policy: no-referrer` (which every page here
        # carries) Chromium sends `Origin: null` with the page's own form
        return
    origin = request.headers.get("origin")
    if origin is None:
        return
    settings: Settings = request.app.state.edge.settings
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    forwarded_host = request.headers.get("x-forwarded-host")
    allowed = {own, *settings.cors_origin_list}
    if forwarded_host and settings.trusted_proxy_networks:
        allowed.add(f"{request.headers.get('x-forwarded-proto', 'https')}://{forwarded_host}")
    if origin not in allowed:
        raise CrossSiteRequest("This form can only be sent from the checkout page itself.")


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class Edge:
    """Per-request checks; one instance per app, holding its Redis-backed store."""

    def __init__(
        self,
        settings: Settings,
        verifier: JwksVerifier,
        store: EdgeStore,
        revocations: RevocationMemory | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self.revocations = revocations or RevocationMemory(settings.jwt_access_ttl_seconds + 60)
        self.policies = {
            name: Policy.parse(name, getattr(settings, f"rate_limit_{name}"))
            for name in (
                "ip",
                "user",
                "login_ip",
                "login_account",
                "register_ip",
                "refresh_ip",
                "recovery_ip",
                "recovery_account",
                "run",
            )
        }

    def _redis_down(self, what: str) -> None:
        """Fail open (log and go on) or closed (503), as the setting says."""
        if self.settings.rate_limit_fail_open:
            log.warning("ratelimit.redis_down_failing_open", policy=what)
            return
        raise DomainError(
            "Rate limiting is unavailable; try again shortly.",
            status=503,
            code="service_unavailable",
            title="Service unavailable",
            headers={"Retry-After": "5"},
        )

    def _enforce(self, request: Request, decision: Decision) -> None:
        _remember(request, decision)
        if not decision.allowed:
            policy = decision.policy
            raise TooManyRequests(
                f"Too many requests ({policy.limit} per {int(policy.period_seconds)}s); "
                f"retry in {decision.headers()['Retry-After']}s.",
                headers=decision.headers(),
            )

    async def limit(self, request: Request, policy_name: str, subject: str) -> None:
        try:
            decision = await self.store.hit(self.policies[policy_name], subject)
        except RedisUnavailable:
            self._redis_down(policy_name)
            return
        self._enforce(request, decision)

    async def per_ip(self, request: Request, policy_name: str = "ip") -> None:
        await self.limit(request, policy_name, client_ip(request, self.settings))

    async def authenticate(self, request: Request, read_me: bool = False) -> Principal:
        """Verify the token (locally, against the cached JWKS), then in one Redis round trip:
        the per-IP limit, the revocation check, the per-user limit and, with `read_me`, the
        cached `/user/me` answer (left in `request.state.me_cached`)."""
        try:
            principal = await self.verifier.verify(bearer_token(request))
        except InvalidToken:
            await self.per_ip(request)  # bad tokens spend the IP's budget too (429 first)
            raise
        try:
            check = await self.store.authenticated(
                self.policies["ip"],
                client_ip(request, self.settings),
                self.policies["user"],
                principal.user_id,
                read_me=read_me and self.settings.me_cache_seconds > 0,
            )
        except RedisUnavailable:
            # the signature still holds; limits are unknown for now, and revocations are
            # this replica's own copy, or, while that copy is not complete, unknown: refused
            self._redis_down("ip+user")
            if not self.revocations.complete:
                raise RevocationsUnknown() from None
            check = None
        if self.revocations.is_deleted(principal.user_id):
            raise InvalidToken("This account no longer exists.")
        if check is not None:
            self._enforce(request, check.ip)
            if check.revoked:
                raise InvalidToken("This account no longer exists.")
            assert check.user is not None
            self._enforce(request, check.user)
            me = check.me
            if me is not None and f'"role":"{principal.role}"'.encode() not in me:
                # the token was issued after a role change the cached answer predates (its
                # UserRoleChanged not here yet): the fresher token wins, the answer is composed
                me = None
            request.state.me_cached = me
            request.state.me_generation = check.generation
        if principal.is_admin:
            await self._check_still_admin(principal, redis_up=check is not None)
        bind_context(user_id=principal.user_id)
        request.state.principal = principal
        return principal

    async def _check_still_admin(self, principal: Principal, redis_up: bool) -> None:
        """A token that says admin, issued before the role was taken away, is refused: the
        client refreshes and gets a token with the role the account has now."""
        demoted_at = self.revocations.demoted_at(principal.user_id)
        if demoted_at is None and redis_up:
            try:
                demoted_at = await self.store.demoted_at(principal.user_id)
            except RedisUnavailable:
                if not self.revocations.complete:
                    raise RevocationsUnknown() from None
        if demoted_at is not None and (principal.issued_at or 0) <= demoted_at:
            raise InvalidToken("Your role has changed; refresh your session.")


class RevocationsUnknown(DomainError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Signed-in requests cannot be checked right now; try again shortly.",
            headers={"Retry-After": "5"},
        )


def _remember(request: Request, decision: Decision) -> None:
    """Keep the tightest decision so the response can carry its RateLimit-* headers."""
    current: Decision | None = getattr(request.state, "rate_limit", None)
    if current is None or decision.remaining < current.remaining:
        request.state.rate_limit = decision


def rate_limit_headers(request: Request) -> dict[str, Any]:
    decision: Decision | None = getattr(request.state, "rate_limit", None)
    return decision.headers() if decision else {}


ME_PATH = "/user/me"
EDGE_OUTCOME = "edge_outcome"  # scope["state"] key: what the fast lane found, for the route


class _RouteLabel:
    """What the request context reads of a route: its path template."""

    def __init__(self, path: str) -> None:
        self.path = path


_ME_ROUTE = _RouteLabel(ME_PATH)


class MeFastLane:
    """`GET /user/me`, the read every page of the frontend makes, answered from the edge's
    read model before routing: the same `Edge.authenticate` as every authenticated route
    (token, limits, revocation, in its one Redis call), and on a hit the cached answer,
    sent through the outer middleware (request ids, metrics, logs, CORS, security headers).

    Anything else (a miss, a refused or invalid token, Redis down) goes on to the FastAPI
    route with the outcome left in the scope, so the route neither checks again nor spends
    the budget twice, and errors become problem+json in the usual handlers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != ME_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        edge: Edge = scope["app"].state.edge
        try:
            await edge.authenticate(request, read_me=True)
        except Exception as exc:  # noqa: BLE001 - re-raised by the route, inside the handlers
            scope.setdefault("state", {})[EDGE_OUTCOME] = exc
            await self.app(scope, receive, send)
            return
        cached: bytes | None = getattr(request.state, "me_cached", None)
        if cached is None:
            scope["state"][EDGE_OUTCOME] = True
            await self.app(scope, receive, send)
            return
        ME_CACHE.labels("hit").inc()
        scope["route"] = _ME_ROUTE  # metrics and logs label it as the route it stands for
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(cached)).encode()),
            (b"cache-control", b"no-store"),
        ]
        headers += [
            (k.lower().encode(), v.encode()) for k, v in rate_limit_headers(request).items()
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached})


async def authenticated_reading_me(request: Request) -> None:
    """The `/user/me` route's check: done already by the fast lane (or its error raised
    here), or, when the route is reached without it, done now."""
    outcome = request.scope.get("state", {}).pop(EDGE_OUTCOME, None)
    if isinstance(outcome, Exception):
        raise outcome
    if outcome is None:
        edge: Edge = request.app.state.edge
        await edge.authenticate(request, read_me=True)
