"""Replay parked (dead-lettered) events: move the messages of `<queue>.parked` back to work.

A consumer parks an event after `DELIVERY_LIMIT` failed deliveries, or at once when it cannot
read it (header `x-parked-reason`). Once the cause is fixed (a deploy, a data repair), replay:

    python scripts/replay_parked.py ai-runner.main.SessionRequested.parked --dry-run
    python scripts/replay_parked.py ai-runner.main.SessionRequested.parked
    python scripts/replay_parked.py interviews.main.SessionScored.parked --limit 10
    python scripts/replay_parked.py billing.main.UserRegistered.parked --via-exchange

By default each message goes back to the one queue it was parked from (`<queue>` without
`.parked`, through the default exchange), so only the consumer that failed sees it again.
`--via-exchange` republishes to the events exchange with the event type as routing key
instead: every queue bound to that event type gets it (consumers are idempotent, so the
ones that already handled it skip it).

Each message is published with publisher confirms and `mandatory`, and only then acked on
the parked queue: a crash in between replays it twice (harmless: idempotent consumers),
never loses it. At most the number of messages present at the start is moved, so a message
that fails again and is re-parked during the run is not looped over. Body, message id,
content type and correlation id are kept; the broker's dead-letter headers are replaced by
`x-replay-count`, `x-replayed-at`, `x-replayed-from` and `x-last-parked-reason`.

The URL comes from `--url` or RABBITMQ_URL. Exit status: 0 done, 1 a message could not be
replayed (it stays parked), 2 bad arguments or a missing queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from aio_pika.exceptions import ChannelClosed, DeliveryError

PARKED_SUFFIX = ".parked"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_EXCHANGE = "mi.events"
# Set by the broker or the consumer when a message is parked; replaced on replay.
DEAD_LETTER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-parked-reason",
    "x-parked-by",
    "x-delivery-count",
)


class ReplayError(Exception):
    """The replay could not start (missing queue, bad name) or a message was refused."""


@dataclass
class Replayed:
    queue: str
    target: str
    found: int
    moved: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)


def work_queue_of(parked: str) -> str:
    if not parked.endswith(PARKED_SUFFIX) or len(parked) == len(PARKED_SUFFIX):
        raise ReplayError(f"{parked!r} is not a parked queue (its name ends in {PARKED_SUFFIX})")
    return parked[: -len(PARKED_SUFFIX)]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parked_reason(headers: dict[str, Any]) -> str:
    if headers.get("x-parked-reason"):
        return _text(headers["x-parked-reason"])
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths[0], dict):
        return f"dead-lettered: {_text(deaths[0].get('reason', '?'))}"
    return _text(headers.get("x-first-death-reason", "unknown"))


def event_type_of(message: AbstractIncomingMessage, work_queue: str) -> str:
    """The routing key the event was first published with: from the broker's x-death
    record, else the envelope, else the queue name (`<service>.<consumer>.<EventType>`)."""
    deaths: Any = (message.headers or {}).get("x-death") or []
    if deaths and isinstance(deaths[0], dict):
        keys = deaths[0].get("routing-keys") or []
        if keys and _text(keys[0]) != work_queue:
            return _text(keys[0])
    try:
        envelope = json.loads(message.body)
        if isinstance(envelope, dict) and isinstance(envelope.get("event_type"), str):
            return str(envelope["event_type"])
    except ValueError:
        pass
    return work_queue.rsplit(".", 1)[-1]


def replay_message(message: AbstractIncomingMessage, parked: str) -> aio_pika.Message:
    headers = dict(message.headers or {})
    reason = parked_reason(headers)
    for name in DEAD_LETTER_HEADERS:
        headers.pop(name, None)
    previous = headers.get("x-replay-count", 0)
    headers.update(
        {
            "x-replay-count": (int(previous) if isinstance(previous, int) else 0) + 1,
            "x-replayed-at": datetime.now(UTC).isoformat(),
            "x-replayed-from": parked,
            "x-last-parked-reason": reason[:1000],
        }
    )
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


async def _passive_queue_count(channel: AbstractChannel, name: str) -> int:
    try:
        queue = await channel.declare_queue(name, passive=True)
    except ChannelClosed as exc:
        raise ReplayError(f"queue {name!r} does not exist") from exc
    return int(queue.declaration_result.message_count or 0)


async def replay(
    url: str,
    parked: str,
    *,
    limit: int | None = None,
    via_exchange: str | None = None,
    dry_run: bool = False,
) -> Replayed:
    """Move up to `limit` messages (default: all present now) from `parked` back to work."""
    work = work_queue_of(parked)
    connection = await aio_pika.connect(url)
    async with connection:
        # One channel per passive check: a failed one closes its channel.
        found = await _passive_queue_count(await connection.channel(), parked)
        if via_exchange:
            try:
                await (await connection.channel()).get_exchange(via_exchange)  # passive
            except ChannelClosed as exc:
                raise ReplayError(f"exchange {via_exchange!r} does not exist") from exc
            target = f"exchange {via_exchange}"
        else:
            await _passive_queue_count(await connection.channel(), work)
            target = f"queue {work}"
        # confirms + mandatory + on_return_raises: an unroutable message raises instead of
        # being acked away
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange: AbstractExchange
        if via_exchange:
            exchange = await channel.get_exchange(via_exchange, ensure=False)
        else:
            exchange = channel.default_exchange
        queue = await channel.get_queue(parked, ensure=False)
        result = Replayed(parked, target, found)
        budget = found if limit is None else min(limit, found)
        for _ in range(budget):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            routing_key = event_type_of(message, work) if via_exchange else work
            if dry_run:
                result.listed.append(
                    {
                        "message_id": message.message_id,
                        "routing_key": routing_key,
                        "reason": parked_reason(dict(message.headers or {})),
                        "replays": (message.headers or {}).get("x-replay-count", 0),
                        "bytes": len(message.body),
                    }
                )
                continue  # left unacked: back in the queue when the channel closes
            try:
                await exchange.publish(
                    replay_message(message, parked), routing_key=routing_key, mandatory=True
                )
            except DeliveryError as exc:
                await message.nack(requeue=True)
                raise ReplayError(
                    f"message {message.message_id} was not routable to {target} with routing key "
                    f"{routing_key!r}; it stays in {parked} ({result.moved} replayed before it)"
                ) from exc
            await message.ack()
            result.moved += 1
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Move parked (dead-lettered) events back to their queue.",
        epilog="Runbook: docs/runbook.md, 'Replaying parked events'.",
    )
    parser.add_argument("queues", nargs="+", help="parked queue names (<queue>.parked)")
    parser.add_argument("--url", default=os.environ.get("RABBITMQ_URL", DEFAULT_URL))
    parser.add_argument("--limit", type=int, default=None, help="at most this many per queue")
    parser.add_argument(
        "--via-exchange",
        nargs="?",
        const=os.environ.get("EVENTS_EXCHANGE", DEFAULT_EXCHANGE),
        default=None,
        metavar="EXCHANGE",
        help="republish to the events exchange (default EVENTS_EXCHANGE or mi.events) "
        "with the event type as routing key, instead of to the original queue",
    )
    parser.add_argument("--dry-run", action="store_true", help="list, move nothing")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must not be negative")

    code = 0
    for name in args.queues:
        try:
            result = asyncio.run(
                replay(
                    args.url,
                    name,
                    limit=args.limit,
                    via_exchange=args.via_exchange,
                    dry_run=args.dry_run,
                )
            )
        except ReplayError as exc:
            print(f"replay_parked: {name}: {exc}", file=sys.stderr)
            code = max(code, 1 if "not routable" in str(exc) else 2)
            continue
        if args.dry_run:
            for item in result.listed:
                print(json.dumps({"queue": name, **item}, default=str))
            print(f"replay_parked: {name}: {result.found} parked, would go to {result.target}")
        else:
            print(
                f"replay_parked: {name}: moved {result.moved} of {result.found} to {result.target}"
            )
    return code


if __name__ == "__main__":
    sys.exit(main())
