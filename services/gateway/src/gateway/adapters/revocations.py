"""Accounts whose tokens must stop working before they expire (deleted users). Kept in Redis
by the gateway's UserDeleted consumer for as long as any access token can live."""

from __future__ import annotations

import redis.asyncio as aioredis


class Revocations:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int, prefix: str = "") -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}revoked-user:{user_id}"

    async def revoke_user(self, user_id: str) -> None:
        await self.client.set(self._key(user_id), "1", ex=self.ttl_seconds)

    async def is_revoked(self, user_id: str) -> bool:
        return bool(await self.client.exists(self._key(user_id)))
