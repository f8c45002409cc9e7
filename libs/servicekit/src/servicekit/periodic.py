"""Work a service does on a clock (lapsed plans, overdue sessions, requests a stopped process
left): started with the service, stopped with it, and never stopped by one failed tick."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from servicekit.logs import get_logger
from servicekit.mongo import set_origin
from servicekit.runtime import ServiceRuntime

log = get_logger(__name__)

Tick = Callable[[], Awaitable[object]]


def every(
    rt: ServiceRuntime, seconds: float, name: str, first_after: float | None = None
) -> Callable[[Tick], Tick]:
    """Decorator: run the tick every `seconds` while `rt` runs (the first after `first_after`,
    default `seconds`). A tick that raises is logged as `<name>.failed` and the next one runs
    on time; ticks never overlap."""

    def register(tick: Tick) -> Tick:
        tasks: list[asyncio.Task[None]] = []

        async def forever() -> None:
            set_origin(name)  # the Mongo commands it sends are counted under its name
            await asyncio.sleep(seconds if first_after is None else first_after)
            while True:
                try:
                    await tick()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - try again at the next tick
                    log.warning(f"{name}.failed", error=repr(exc))
                await asyncio.sleep(seconds)

        async def start(_: ServiceRuntime) -> None:
            if not tasks:
                tasks.append(asyncio.create_task(forever(), name=name))

        async def stop(_: ServiceRuntime) -> None:
            for task in tasks:
                task.cancel()
            tasks.clear()

        rt.on_startup(start)
        rt.on_shutdown(stop)
        return tick

    return register
