"""Access-token verification shared by the gateway and the services: JWKS fetched from auth
and cached by `kid`, algorithm pinned, `exp`/`iat`/`iss`/`aud` required."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import aiohttp
import jwt
from fastapi import Depends, Request

from servicekit.problems import DomainError
from servicekit.settings import ServiceSettings

ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 5  # clock skew allowed between auth and a verifier


class InvalidToken(DomainError):
    status = 401
    code = "invalid_token"
    title = "Invalid or expired access token"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Literal["user", "admin"]
    email: str | None = None
    session_id: str | None = None
    expires_at: int | None = None
    issued_at: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class JwksVerifier:
    def __init__(
        self,
        jwks_url: str | None,
        issuer: str,
        audience: str,
        refetch_after: float = 30.0,
        jwks: dict[str, Any] | None = None,
        max_lifetime_seconds: int = 900,
    ) -> None:
        self.jwks_url = jwks_url
        self.max_lifetime_seconds = max_lifetime_seconds
        self.issuer = issuer
        self.audience = audience
        self.refetch_after = refetch_after
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._verified: dict[str, Principal] = {}
        self.cache_size = 50_000
        if jwks is not None:
            self._load(jwks)

    def _load(self, document: dict[str, Any]) -> None:
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kid") and jwk.get("alg", ALGORITHM) == ALGORITHM:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _refresh(self, force: bool = False) -> None:
        if self.jwks_url is None:
            return
        async with self._lock:
            if not force and self._keys:
                return
            if force and time.monotonic() - self._fetched_at < self.refetch_after and self._keys:
                return
            timeout = aiohttp.ClientTimeout(total=5)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(self.jwks_url) as response:
                    response.raise_for_status()
                    document = await response.json()
            self._load(document)

    async def verify(self, token: str) -> Principal:
        """The token's principal; a token already verified is answered from memory until it
        expires (the signature cannot change; revocation is checked separately)."""
        cached = self._verified.get(token)
        if cached is not None and cached.expires_at is not None and cached.expires_at > time.time():
            return cached
        principal = await self._verify(token)
        if len(self._verified) >= self.cache_size:
            now = time.time()
            self._verified = {
                t: p
                for t, p in self._verified.items()
                if p.expires_at is not None and p.expires_at > now
            }
            if len(self._verified) >= self.cache_size:
                self._verified.clear()
        self._verified[token] = principal
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is malformed.") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("The token's algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The token has no key id.")
        try:
            await self._refresh()
            if kid not in self._keys:
                await self._refresh(force=True)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DomainError(
                "Token keys are unavailable.",
                status=503,
                code="auth_unavailable",
                title="Authentication unavailable",
            ) from exc
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("The token's key is unknown.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is not valid.") from exc
        issued_at, expires_at = claims["iat"], claims["exp"]
        if not all(isinstance(v, int | float) for v in (issued_at, expires_at)):
            raise InvalidToken("The token is not valid.")
        # a signed token is only as trustworthy as its lifetime: auth never issues one for
        # longer than the access-token TTL, nor dated in the future
        if expires_at - issued_at > self.max_lifetime_seconds + LEEWAY_SECONDS:
            raise InvalidToken("The token lives longer than any token auth issues.")
        if issued_at > time.time() + LEEWAY_SECONDS:
            raise InvalidToken("The token is issued in the future.")
        role = claims.get("role", "user")
        return Principal(
            user_id=str(claims["sub"]),
            role="admin" if role == "admin" else "user",
            email=claims.get("email"),
            session_id=claims.get("sid"),
            expires_at=int(expires_at),
            issued_at=int(issued_at),
        )


def auth_verifier(settings: ServiceSettings) -> JwksVerifier:
    """The verifier every service but auth uses: auth's JWKS over HTTP, cached by kid."""
    return JwksVerifier(
        f"{settings.auth_url.rstrip('/')}/internal/jwks.json",
        settings.jwt_issuer,
        settings.jwt_audience,
        max_lifetime_seconds=settings.jwt_access_ttl_seconds,
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    verifier: JwksVerifier = request.app.state.verifier
    return await verifier.verify(bearer_token(request))


CurrentUser = Annotated[Principal, Depends(current_principal)]
