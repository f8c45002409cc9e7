"""What the edge keeps in Redis, read and written in one round trip per request.

- GCRA rate limits (generic cell rate algorithm): one key per limited subject holding its
  theoretical arrival time, computed with Redis' own clock so every gateway replica shares
  the same budget. A policy "N/S" allows bursts of N and refills one request every S/N s.
- Revoked accounts (deleted users), kept for as long as an access token can live.
- The `/user/me` read model: the composed answer (profile, plan, quota) per user, filled by
  the gateway after it asked auth and interviews, dropped whenever something it shows may
  have changed. A per-user generation counter makes the fill conditional: a fill that read
  the services before an invalidation can never store what it read after it (the invalidation
  bumps the generation, the fill stores only if the generation it started with still holds).
  A plan change announced by billing is applied by interviews on its own time, so the event
  also leaves the plan it announced: until a fill shows that plan, nothing is stored.

An authenticated request costs one script call: the per-IP limit, the revocation check, the
per-user limit and, for `/user/me`, the cached answer. Every key of a call lives on the same
Redis (a Redis Cluster would need the keys hash-tagged to one slot).
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
ME_CACHE = Counter(
    "gateway_me_cache_total",
    "GET /user/me answers by where they came from (hit, miss) and fills (stored, refused).",
    ["result"],
    registry=REGISTRY,
)

# GCRA as a Lua function: key, emission interval (µs), burst tolerance (µs), now (µs) ->
# {allowed, retry_after_µs, reset_after_µs, remaining}. Spends one cell only when allowed.
_GCRA_FUNCTION = """
local function gcra(key, interval, tolerance, now)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance - interval
  if allow_at > now then
    return {0, allow_at - now, tat - now, 0}
  end
  redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
  return {1, 0, new_tat - now, math.floor((tolerance + interval - (new_tat - now)) / interval)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS[1] key; ARGV interval, tolerance.
_SINGLE = _GCRA_FUNCTION + "return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now)\n"

# KEYS: ip limit, user limit, revoked flag, /user/me answer, generation.
# ARGV: ip interval, ip tolerance, user interval, user tolerance, read_me (0/1).
# Returns {ip decision x4, revoked, user decision x4, answer or false, generation}; a later
# step runs only when the earlier ones let the request through (a refused IP spends nothing
# of the user's budget, a revoked account spends nothing at all).
_AUTHENTICATED = (
    _GCRA_FUNCTION
    + """
local ip = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now)
if ip[1] == 0 then return {ip[1], ip[2], ip[3], ip[4], 0} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {ip[1], ip[2], ip[3], ip[4], 1} end
local user = gcra(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now)
if user[1] == 0 or ARGV[5] ~= '1' then
  return {ip[1], ip[2], ip[3], ip[4], 0, user[1], user[2], user[3], user[4]}
end
local answer = redis.call('GET', KEYS[4])
local generation = tonumber(redis.call('GET', KEYS[5]) or '0')
return {ip[1], ip[2], ip[3], ip[4], 0, user[1], user[2], user[3], user[4], answer, generation}
"""
)

# KEYS: answer, generation, expected plan. ARGV: generation read, answer, ttl s, its plan.
_FILL = """
local generation = tonumber(redis.call('GET', KEYS[2]) or '0')
if generation ~= tonumber(ARGV[1]) then return 0 end
local expected = redis.call('GET', KEYS[3])
if expected and expected ~= ARGV[4] then return 0 end
if expected then redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

# KEYS: answer, generation, expected plan. ARGV: generation ttl s, plan or '', its ttl s.
_INVALIDATE = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
return 1
"""

GENERATION_TTL_SECONDS = 86_400  # far longer than any fill takes
EXPECTED_PLAN_TTL_SECONDS = 600  # if interviews never shows the plan, cache again after this


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

    @classmethod
    def of(cls, policy: Policy, reply: list[int]) -> Decision:
        allowed, retry_us, reset_us, remaining = reply
        decision = cls(bool(allowed), policy, int(remaining), retry_us / 1e6, reset_us / 1e6)
        if not decision.allowed:
            RATE_LIMITED.labels(policy.name).inc()
        return decision

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


@dataclass(frozen=True)
class AuthenticatedCheck:
    """What one script call said about an authenticated request."""

    ip: Decision
    revoked: bool
    user: Decision | None  # None when the IP was refused or the account revoked
    me: bytes | None  # the cached /user/me answer, when asked for and present
    generation: int  # of the /user/me answer, for a conditional fill after a miss


class RedisUnavailable(Exception):
    pass


def subject_key(policy: Policy, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]  # emails never stored in clear
    return f"rl:{policy.name}:{digest}"


class EdgeStore:
    def __init__(self, client: aioredis.Redis, prefix: str = "", revoke_seconds: int = 960) -> None:
        self.client = client
        self.prefix = prefix
        self.revoke_seconds = revoke_seconds
        self._single = client.register_script(_SINGLE)
        self._authenticated = client.register_script(_AUTHENTICATED)
        self._fill = client.register_script(_FILL)
        self._invalidate = client.register_script(_INVALIDATE)

    # -- keys ---------------------------------------------------------------------------
    def _limit_key(self, policy: Policy, subject: str) -> str:
        return self.prefix + subject_key(policy, subject)

    def _revoked_key(self, user_id: str) -> str:
        return f"{self.prefix}revoked-user:{user_id}"

    def _me_keys(self, user_id: str) -> list[str]:
        base = f"{self.prefix}me:{user_id}"
        return [base, base + ":gen", base + ":plan"]

    # -- per request --------------------------------------------------------------------
    async def hit(self, policy: Policy, subject: str) -> Decision:
        """Spend one request of `subject`'s budget under `policy`."""
        try:
            reply = await self._single(
                keys=[self._limit_key(policy, subject)],
                args=[policy.interval_us, policy.tolerance_us],
            )
        except (aioredis.RedisError, OSError) as exc:
            RATE_LIMIT_ERRORS.inc()
            raise RedisUnavailable(str(exc)) from exc
        return Decision.of(policy, reply)

    async def authenticated(
        self, ip: Policy, ip_subject: str, user: Policy, user_id: str, read_me: bool = False
    ) -> AuthenticatedCheck:
        me_key, gen_key, _ = self._me_keys(user_id)
        try:
            reply = await self._authenticated(
                keys=[
                    self._limit_key(ip, ip_subject),
                    self._limit_key(user, user_id),
                    self._revoked_key(user_id),
                    me_key,
                    gen_key,
                ],
                args=[
                    ip.interval_us,
                    ip.tolerance_us,
                    user.interval_us,
                    user.tolerance_us,
                    1 if read_me else 0,
                ],
            )
        except (aioredis.RedisError, OSError) as exc:
            RATE_LIMIT_ERRORS.inc()
            raise RedisUnavailable(str(exc)) from exc
        ip_decision = Decision.of(ip, reply[0:4])
        revoked = bool(reply[4])
        user_decision = Decision.of(user, reply[5:9]) if len(reply) >= 9 else None
        me: bytes | None = None
        generation = 0
        if len(reply) > 9:
            me = reply[9] or None
            generation = int(reply[10])
        return AuthenticatedCheck(ip_decision, revoked, user_decision, me, generation)

    # -- revocations --------------------------------------------------------------------
    async def revoke_user(self, user_id: str) -> None:
        await self.client.set(self._revoked_key(user_id), "1", ex=self.revoke_seconds)

    def _demoted_key(self, user_id: str) -> str:
        return f"{self.prefix}demoted-user:{user_id}"

    async def demote_user(self, user_id: str, at: float) -> None:
        """Tokens issued up to `at` (epoch seconds) no longer carry the admin role."""
        await self.client.set(self._demoted_key(user_id), str(at), ex=self.revoke_seconds)

    async def promote_user(self, user_id: str) -> None:
        await self.client.delete(self._demoted_key(user_id))

    async def demoted_at(self, user_id: str) -> float | None:
        try:
            value = await self.client.get(self._demoted_key(user_id))
        except (aioredis.RedisError, OSError) as exc:
            RATE_LIMIT_ERRORS.inc()
            raise RedisUnavailable(str(exc)) from exc
        return float(value) if value is not None else None

    # -- the /user/me read model --------------------------------------------------------
    async def fill_me(
        self, user_id: str, generation: int, answer: bytes, ttl_seconds: int, plan: str
    ) -> bool:
        """Store `answer` unless something changed since `generation` was read, or a plan
        change was announced that `answer` does not show yet."""
        if ttl_seconds <= 0:
            return False
        stored = bool(
            await self._fill(
                keys=self._me_keys(user_id), args=[generation, answer, ttl_seconds, plan]
            )
        )
        ME_CACHE.labels("stored" if stored else "refused").inc()
        return stored

    async def invalidate_me(self, user_id: str, expect_plan: str | None = None) -> None:
        """Drop the cached answer and make any fill in flight a no-op; with `expect_plan`,
        store no answer until one shows that plan (or EXPECTED_PLAN_TTL_SECONDS pass)."""
        await self._invalidate(
            keys=self._me_keys(user_id),
            args=[GENERATION_TTL_SECONDS, expect_plan or "", EXPECTED_PLAN_TTL_SECONDS],
        )
