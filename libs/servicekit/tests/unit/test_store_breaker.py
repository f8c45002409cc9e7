"""The store's circuit breaker as a request sees it: after repeated timeouts the request is
refused at once (503 database_unavailable) instead of waiting for yet another timeout; one
request at a time tries again after a while; the first answer from the store closes it."""

from __future__ import annotations

import asyncio

import pytest
from servicekit.breaker import SERVING_REQUEST, StoreBreaker, StoreUnavailable, is_timeout


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> StoreBreaker:
    return StoreBreaker("test", threshold=3, open_seconds=5.0, probe_seconds=10.0, clock=clock)


def test_opens_only_after_timeouts_in_a_row(breaker: StoreBreaker) -> None:
    breaker.command_timed_out()
    breaker.command_timed_out()
    breaker.command_succeeded()  # the store answered in between: not hung
    breaker.command_timed_out()
    breaker.command_timed_out()
    assert breaker.state == "closed" and breaker.admit()
    breaker.command_timed_out()
    assert breaker.state == "open"
    assert not breaker.admit()


def test_one_probe_after_the_pause_then_closed_by_a_success(
    breaker: StoreBreaker, clock: Clock
) -> None:
    for _ in range(3):
        breaker.command_timed_out()
    clock.now += 4.9
    assert not breaker.admit()
    clock.now += 0.2
    assert breaker.admit()  # the probe
    assert not breaker.admit()  # the others still refused while it tries
    breaker.command_succeeded()
    assert breaker.state == "closed"
    assert all(breaker.admit() for _ in range(5))


def test_a_probe_that_times_out_opens_it_again(breaker: StoreBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.command_timed_out()
    clock.now += 5
    assert breaker.admit()
    breaker.command_timed_out()  # one timeout is enough when half-open
    assert breaker.state == "open"
    clock.now += 4
    assert not breaker.admit()
    clock.now += 1
    assert breaker.admit()


def test_timeouts_while_open_restart_the_pause(breaker: StoreBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.command_timed_out()
    clock.now += 4
    breaker.command_timed_out()  # a retry or a background loop: the store still hangs
    clock.now += 4
    assert not breaker.admit()
    clock.now += 1
    assert breaker.admit()


def test_a_probe_that_never_reports_frees_its_slot(breaker: StoreBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.command_timed_out()
    clock.now += 5
    assert breaker.admit()
    clock.now += 9
    assert not breaker.admit()
    clock.now += 1
    assert breaker.admit()


def test_only_requests_are_refused(breaker: StoreBreaker) -> None:
    for _ in range(3):
        breaker.command_timed_out()
    breaker.check()  # a consumer or a background loop: goes on to the store
    token = SERVING_REQUEST.set(True)
    try:
        with pytest.raises(StoreUnavailable):
            breaker.check()
    finally:
        SERVING_REQUEST.reset(token)


async def test_with_a_ping_no_request_waits_for_the_probe(clock: Clock) -> None:
    answers = [TimeoutError("still hung"), None]
    pings = 0

    async def ping() -> None:
        nonlocal pings
        pings += 1
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    breaker = StoreBreaker("test", threshold=1, open_seconds=5.0, clock=clock, ping=ping)
    breaker.command_timed_out()
    clock.now += 5
    assert not breaker.admit()  # refused, and the store is pinged in the background
    assert not breaker.admit()  # one ping at a time
    await asyncio.sleep(0)
    assert pings == 1 and breaker.state == "open"  # it timed out: open again
    clock.now += 5
    assert not breaker.admit()
    await asyncio.sleep(0)
    assert pings == 2 and breaker.state == "closed"
    assert breaker.admit()


def test_timeouts_are_told_from_answers() -> None:
    assert is_timeout({"errtype": "NetworkTimeout", "errmsg": "127.0.0.1:1: timed out"})
    assert not is_timeout({"errtype": "AutoReconnect", "errmsg": "connection refused"})
    assert not is_timeout({"ok": 0, "code": 50, "errmsg": "operation exceeded time limit"})
