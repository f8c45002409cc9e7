"""A due mail is taken by one sender at a time (Deliveries.claim), on a real Mongo-wire
server: two replicas' claims racing for the same mail, and a crashed sender's mail taken
over once its lease has run out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from notifications.adapters.store import Deliveries
from servicekit.mongo import connect


async def test_two_senders_never_hold_the_same_mail(mongo_uri: str, unique: str) -> None:
    client = connect(mongo_uri, f"claims-{unique}")
    db = client[f"claims_{unique}"]
    mine, theirs = Deliveries(db), Deliveries(db)
    try:
        await mine.ensure_indexes()
        for n in range(10):
            past = datetime.now(UTC) - timedelta(seconds=1)
            await db["deliveries"].insert_one(
                {
                    "_id": f"m{n}",
                    "event_id": f"e{n}",
                    "purpose": "welcome",
                    "status": "pending",
                    "next_attempt_at": past,
                    "attempts": 0,
                }
            )
            got = await asyncio.gather(mine.claim(30), theirs.claim(30))
            held = [d for d in got if d is not None]
            assert len(held) == 1, got
            stored = await db["deliveries"].find_one({"_id": f"m{n}"})
            assert stored is not None and stored["status"] == "sending"
            assert stored["lease_owner"] == held[0]["lease_owner"]
            assert held[0]["_id"] == f"m{n}"
            # held: nobody takes it again while the lease lasts
            assert await mine.claim(30) is None and await theirs.claim(30) is None

        # the holder of m9 dies mid-send; once its lease has run out the mail is due again
        await db["deliveries"].update_one(
            {"_id": "m9"}, {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        taken = await theirs.claim(30)
        assert taken is not None and taken["_id"] == "m9"
        assert taken["lease_owner"] == theirs.owner
        assert await mine.claim(30) is None
    finally:
        await client.drop_database(f"claims_{unique}")
        await client.close()
