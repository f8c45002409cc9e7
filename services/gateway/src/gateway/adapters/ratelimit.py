"""Rate limits in Redis with GCRA (generic cell rate algorithm): one key per limited
subject holding its theoretical arrival time, updated atomically by a Lua script that uses
Redis' own clock, so every gateway replica shares the same budget.

A policy "N/S" allows bursts of N and refills one request every S/N seconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis
from prometheus_client import Counter
from servicekit.metrics import REGISTRY

RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused by a rate limit.", ["policy"], registry=REGISTRY
)
RATE_LIMIT_ERRORS = Counter(
    "gateway_rate_limit_errors_total",
    "Rate-limit checks that could not reach Redis.",
    registry=REGISTRY,
)

# KEYS[1] key; ARGV: emission interval (µs), burst tolerance (µs). Returns
# {allowed, retry_after_µs, reset_after_µs, remaining}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance - interval
if allow_at > now then
  return {0, allow_at - now, tat - now, 0}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((tolerance + interval - (new_tat - now)) / interval)
return {1, 0, new_tat - now, remaining}
"""


@dataclass(frozen=True)
class Policy:
    name: str
    limit: int
    period_seconds: float

    @classmethod
    def parse(cls, name: str, spec: str) -> Policy:
        count, _, seconds = spec.partition("/")
        return cls(name, int(count), float(seconds or 60))

    @property
    def interval_us(self) -> int:
        return max(1, int(self.period_seconds * 1_000_000 / self.limit))

    @property
    def tolerance_us(self) -> int:
        return self.interval_us * (self.limit - 1)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: Policy
    remaining: int
    retry_after: float
    reset_after: float

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Limit": str(self.policy.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(max(1, round(self.reset_after))),
            "RateLimit-Policy": f"{self.policy.limit};w={int(self.policy.period_seconds)}",
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, int(self.retry_after + 0.999)))
        return out


class RedisUnavailable(Exception):
    pass


def subject_key(policy: Policy, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]  # emails never stored in clear
    return f"rl:{policy.name}:{digest}"


class RateLimiter:
    def __init__(self, client: aioredis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_GCRA)

    async def hit(self, policy: Policy, subject: str) -> Decision:
        try:
            allowed, retry_us, reset_us, remaining = await self._script(
                keys=[self.prefix + subject_key(policy, subject)],
                args=[policy.interval_us, policy.tolerance_us],
            )
        except (aioredis.RedisError, OSError) as exc:
            RATE_LIMIT_ERRORS.inc()
            raise RedisUnavailable(str(exc)) from exc
        decision = Decision(bool(allowed), policy, int(remaining), retry_us / 1e6, reset_us / 1e6)
        if not decision.allowed:
            RATE_LIMITED.labels(policy.name).inc()
        return decision
