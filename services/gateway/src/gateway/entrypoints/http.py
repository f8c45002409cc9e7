"""Public routes: each path of the contract is forwarded to the service that owns it. The
access token is verified here first (and again by the service)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from servicekit.identity import bearer_token

from gateway.adapters.upstream import Upstreams

router = APIRouter()

ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PUBLIC = frozenset(
    {
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/billing/webhook"),
    }
)


async def _forward(service: str, request: Request) -> Response:
    if (request.method, request.url.path) not in PUBLIC and not request.url.path.startswith(
        "/billing/local-checkout/"
    ):
        await request.app.state.verifier.verify(bearer_token(request))
    upstreams: Upstreams = request.app.state.upstreams
    return await upstreams.forward(service, request)


@router.api_route("/auth/{rest:path}", methods=["POST"], include_in_schema=False)
async def auth_routes(request: Request) -> Response:
    return await _forward("auth", request)


@router.get("/user/me", include_in_schema=False)
async def user_me(request: Request) -> Response:
    return await _forward("auth", request)


@router.api_route("/questions", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/questions/{rest:path}", methods=ALL, include_in_schema=False)
@router.api_route("/interviews", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/interviews/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def interview_routes(request: Request) -> Response:
    return await _forward("interviews", request)


@router.api_route("/billing/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def billing_routes(request: Request) -> Response:
    return await _forward("billing", request)
