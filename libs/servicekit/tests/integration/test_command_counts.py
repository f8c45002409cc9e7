"""Every command a service's Mongo client sends is counted by name, collection, origin and
result (what bench/store_ops.py reads per use case), on a real Mongo-wire server."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError
from servicekit.metrics import REGISTRY
from servicekit.mongo import connect, origin


def counted(service: str, command: str, collection: str, source: str, result: str) -> float:
    labels = {
        "service": service,
        "command": command,
        "collection": collection,
        "origin": source,
        "result": result,
    }
    return REGISTRY.get_sample_value("mongo_commands_total", labels) or 0.0


async def test_commands_are_counted_with_origin_and_empty_reads(
    mongo_uri: str, unique: str
) -> None:
    service = f"kit-{unique}"  # its own label values: other tests' commands do not count here
    client = connect(mongo_uri, service)
    try:
        things = client[f"t_{unique}"]["things"]
        await things.insert_one({"_id": 1})
        assert await things.find_one({"_id": 1}) is not None
        with origin("poller"):
            assert await things.find_one({"_id": 2}) is None
        with pytest.raises(DuplicateKeyError):
            await things.insert_one({"_id": 1})
    finally:
        await client.drop_database(f"t_{unique}")
        await client.close()

    # the refused insert is a write error inside an ok reply: both inserts went to the store
    assert counted(service, "insert", "things", "work", "ok") == 2
    assert counted(service, "find", "things", "work", "ok") == 1
    assert counted(service, "find", "things", "poller", "empty") == 1
    assert counted(service, "find", "things", "work", "empty") == 0
