"""One relay per service publishes at a time: the outbox lease, on a real Mongo-wire server.
Two replicas' relays on one database; the second waits until the first's lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.mongo import connect
from servicekit.outbox import OutboxRelay


async def test_one_relay_holds_the_lease_until_it_runs_out(mongo_uri: str, unique: str) -> None:
    client = connect(mongo_uri, f"lease-{unique}")
    db = client[f"lease_{unique}"]
    none: Any = None  # acquire_lease touches neither the broker nor the exchange
    first = OutboxRelay(db, none, none, "svc", lease_seconds=10)
    second = OutboxRelay(db, none, none, "svc", lease_seconds=10)
    try:
        assert await first.acquire_lease()
        assert not await second.acquire_lease()
        first._lease_until = None  # renew now rather than from memory: still ours
        assert await first.acquire_lease()
        assert not await second.acquire_lease()
        lease = await db["outbox_lease"].find_one({"_id": "relay"})
        assert lease is not None and lease["owner"] == first.owner

        # the first replica stops renewing (hung, killed): once its lease has run out,
        # the second takes over, and the first, coming back, is refused
        await db["outbox_lease"].update_one(
            {"_id": "relay"}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        assert await second.acquire_lease()
        first._lease_until = None
        assert not await first.acquire_lease()
        lease = await db["outbox_lease"].find_one({"_id": "relay"})
        assert lease is not None and lease["owner"] == second.owner

        await second.stop()  # hands the lease back on a clean stop
        assert await first.acquire_lease()
    finally:
        await client.drop_database(f"lease_{unique}")
        await client.close()
