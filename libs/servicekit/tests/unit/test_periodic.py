"""servicekit.periodic: a tick that fails does not stop the next; stopping the service stops
the ticks."""

from __future__ import annotations

import asyncio
from typing import Any

from servicekit.periodic import every
from servicekit.testing import eventually


class _Runtime:
    """What `every` uses of a ServiceRuntime: its start and stop hooks."""

    def __init__(self) -> None:
        self.startup: list[Any] = []
        self.shutdown: list[Any] = []

    def on_startup(self, hook: Any) -> Any:
        self.startup.append(hook)
        return hook

    def on_shutdown(self, hook: Any) -> Any:
        self.shutdown.append(hook)
        return hook


async def test_ticks_go_on_after_a_failure_and_stop_with_the_service() -> None:
    rt = _Runtime()
    ticks: list[int] = []

    @every(rt, 0.01, "test.tick", first_after=0)  # type: ignore[arg-type]
    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 2:
            raise RuntimeError("the store was away")

    for hook in rt.startup:
        await hook(rt)
        await hook(rt)  # started twice (a second lifespan): still one loop

    async def past_the_failure() -> bool:
        return len(ticks) >= 5

    await eventually(past_the_failure, message="ticks after the failed one")
    for hook in rt.shutdown:
        await hook(rt)
    stopped_at = len(ticks)
    await asyncio.sleep(0.05)  # several periods: none may run after the stop
    assert len(ticks) == stopped_at
    assert ticks == list(range(stopped_at))  # one at a time, in order
