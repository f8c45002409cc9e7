"""A circuit breaker between a service's requests and its store.

A Mongo-wire server that hangs (it takes connections and never answers: docs/secantusdb-hang.md)
costs every request MONGO_SOCKET_TIMEOUT_MS (8 s) before its 503 database_unavailable. After
`threshold` commands in a row have timed out, the breaker opens: a request that reaches for
the store is refused at once with that same 503. `open_seconds` after the last timeout it is
half-open: the next request still gets its 503 at once, and sets off one ping of the store in
the background (no user waits for the probe); the ping's answer closes the breaker, as does
any command that succeeds meanwhile (a background loop's). Only requests are refused:
consumers and background loops keep their own pace (a consumer refused at once would be
redelivered at once, and parked after `delivery-limit` tries).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pymongo.errors import ConnectionFailure

from servicekit.logs import get_logger
from servicekit.metrics import STORE_BREAKER_OPEN

log = get_logger(__name__)

State = Literal["closed", "open", "half_open"]

# Set while an HTTP request is being served (RequestContextMiddleware): only those are refused.
SERVING_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "serving_request", default=False
)


class StoreUnavailable(ConnectionFailure):
    """The breaker is open: the store was not asked (answered as 503 database_unavailable)."""


class StoreBreaker:
    """Closed -> (threshold timeouts in a row) -> open -> (open_seconds after the last
    timeout) -> half-open: one probe -> closed on an answer, open again on a timeout. The
    probe is `ping` in the background when given (the request that set it off is refused like
    the others), else that request itself. A probe whose result never comes frees its slot
    after `probe_seconds`."""

    def __init__(
        self,
        service: str,
        threshold: int = 3,
        open_seconds: float = 5.0,
        probe_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        ping: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.service = service
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.probe_seconds = probe_seconds
        self.clock = clock
        self.ping = ping
        self._pinging: asyncio.Task[None] | None = None
        self.state: State = "closed"
        self.timeouts_in_a_row = 0
        self._opened_at = 0.0
        self._probe_at: float | None = None
        STORE_BREAKER_OPEN.labels(service).set(0)

    def command_succeeded(self) -> None:
        self.timeouts_in_a_row = 0
        if self.state != "closed":
            log.warning("store.breaker_closed", service=self.service)
            self.state = "closed"
            self._probe_at = None
            STORE_BREAKER_OPEN.labels(self.service).set(0)

    def command_timed_out(self) -> None:
        """A command waited out the socket timeout. While open, this restarts the pause: a
        command still timing out (a retry, a background loop) says the store still hangs."""
        self.timeouts_in_a_row += 1
        if self.state != "closed" or self.timeouts_in_a_row >= self.threshold:
            if self.state == "closed":
                log.error(
                    "store.breaker_opened",
                    service=self.service,
                    timeouts_in_a_row=self.timeouts_in_a_row,
                    refusing_for_seconds=self.open_seconds,
                )
            self.state = "open"
            self._opened_at = self.clock()
            self._probe_at = None
            STORE_BREAKER_OPEN.labels(self.service).set(1)

    def admit(self) -> bool:
        """Whether a request may use the store now (False: answer 503 without asking it)."""
        if self.state == "closed":
            return True
        now = self.clock()
        if self.state == "open":
            if now - self._opened_at < self.open_seconds:
                return False
            self.state = "half_open"
        if self._probe_at is not None and now - self._probe_at < self.probe_seconds:
            return False  # one probe at a time
        self._probe_at = now
        if self.ping is None:
            return True  # no probe of its own: this request tries the store
        self._pinging = asyncio.get_running_loop().create_task(self._try_store())
        return False

    async def _try_store(self) -> None:
        try:
            assert self.ping is not None
            await self.ping()
        except Exception:  # noqa: BLE001 - timed out, refused: either way not answering yet
            self.command_timed_out()
        else:
            self.command_succeeded()

    def check(self) -> None:
        """Raise StoreUnavailable when serving a request the breaker refuses."""
        if self.state != "closed" and SERVING_REQUEST.get() and not self.admit():
            raise StoreUnavailable("the store timed out repeatedly; not asked (breaker open)")


def is_timeout(failure: object) -> bool:
    """Whether a command's failure (PyMongo's CommandFailedEvent.failure) is a timeout
    waiting for the server's answer, rather than an answer that says no."""
    if not isinstance(failure, dict):
        return False
    kind = str(failure.get("errtype", ""))
    return kind in ("NetworkTimeout", "TimeoutError", "timeout") or (
        "timed out" in str(failure.get("errmsg", "")) and not failure.get("code")
    )
