"""The hop from the gateway to a service: one pooled aiohttp session, timeouts, no redirects
followed, hop-by-hop headers dropped, problem+json when a service cannot be reached."""

from __future__ import annotations

from typing import Any

import aiohttp
from fastapi import Request
from fastapi.responses import Response
from servicekit.logs import get_logger
from servicekit.problems import problem_response
from servicekit.tracing import current_trace_headers
from yarl import URL

log = get_logger(__name__)

FORWARD_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "authorization",
        "content-type",
        "cookie",
        "if-match",
        "last-event-id",
        "stripe-signature",
        "user-agent",
    }
)
FORWARD_RESPONSE_HEADERS = frozenset(
    {
        "cache-control",
        "content-type",
        "etag",
        "location",
        "retry-after",
        "set-cookie",
        "www-authenticate",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        # auth names the account a signed-out verify-email changed; the route takes it off
        "x-account-changed",
    }
)


class Upstreams:
    def __init__(self, services: dict[str, str], timeout_seconds: float) -> None:
        self.services = {name: url.rstrip("/") for name, url in services.items()}
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=3)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=200, limit_per_host=100, ttl_dns_cache=300),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, service: str, path: str, request: Request) -> Any | None:
        """GET an internal JSON resource as the calling user; None if it is not a 200."""
        headers = {
            "x-request-id": request.state.request_id,
            "x-correlation-id": request.state.correlation_id,
        }
        if "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        try:
            async with self.session().get(
                self.services[service] + path, headers=headers, allow_redirects=False
            ) as upstream:
                if upstream.status != 200:
                    return None
                return await upstream.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("upstream.get_failed", service=service, path=path, error=repr(exc))
            return None

    async def forward(self, service: str, request: Request) -> Response:
        base = self.services[service]
        # the path exactly as the client sent it (RequestGuard refused dot segments and
        # encoded separators): decoding and re-encoding here could hand the service a
        # different path from the one the gateway routed and authorised
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = base + raw_path.decode("latin-1")
        if request.url.query:
            url += "?" + request.url.query
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_REQUEST_HEADERS}
        headers["x-request-id"] = request.state.request_id
        headers["x-correlation-id"] = request.state.correlation_id
        headers["x-forwarded-for"] = request.client.host if request.client else ""
        headers.update(current_trace_headers())
        body = await request.body()
        try:
            async with self.session().request(
                request.method,
                URL(url, encoded=True),
                data=body or None,
                headers=headers,
                allow_redirects=False,
            ) as upstream:
                content = await upstream.read()
                out_headers = {
                    k: v
                    for k, v in upstream.headers.items()
                    if k.lower() in FORWARD_RESPONSE_HEADERS
                }
                response = Response(content=content, status_code=upstream.status)
                response.headers.update(
                    {k: v for k, v in out_headers.items() if k.lower() != "set-cookie"}
                )
                for cookie in upstream.headers.getall("set-cookie", []):
                    response.headers.append("set-cookie", cookie)
                return response
        except (aiohttp.ClientConnectionError, ConnectionRefusedError) as exc:
            log.warning("upstream.unreachable", service=service, error=repr(exc))
            return problem_response(
                503,
                "service_unavailable",
                "Service unavailable",
                f"The {service} service cannot be reached; try again shortly.",
                headers={"Retry-After": "5"},
                instance=request.url.path,
            )
        except TimeoutError as exc:
            log.warning("upstream.timeout", service=service, error=repr(exc))
            return problem_response(
                504,
                "gateway_timeout",
                "Upstream timeout",
                f"The {service} service did not answer in time.",
                instance=request.url.path,
            )
        except aiohttp.ClientError as exc:
            log.warning("upstream.error", service=service, error=repr(exc))
            return problem_response(
                502,
                "bad_gateway",
                "Bad gateway",
                f"The {service} service gave an unusable answer.",
                instance=request.url.path,
            )
