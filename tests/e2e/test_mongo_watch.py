"""`make run`'s watch over its Mongo-wire server: a server that stops answering (here frozen
with SIGSTOP, as the secantusdb hang looks from outside) is noticed, its stacks are saved, and
it is started again on the same data, loudly. (The chaos suite's `mongo hung` scenario does
the same under load with every service running: they reconnect by themselves.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from devstack import MONGO, MongoWatch, Stack
from pymongo import MongoClient, WriteConcern

pytestmark = pytest.mark.e2e


def test_a_hung_mongo_wire_server_is_restarted_on_the_same_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MONGO_URI"}
    stack = Stack(tmp_path, ports="auto", env=env, mongo_uri=None, services=())
    stack.start(timeout=60)
    said: list[str] = []
    watch = MongoWatch(stack, said.append, hang_seconds=3, every_seconds=0.5)
    try:
        with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=10_000) as client:
            # journaled (j=True): a write acknowledged only in memory may die with a kill -9
            # before the server's periodic journal flush (seen on a loaded CI machine)
            sessions = client["watched"].get_collection(
                "sessions", write_concern=WriteConcern(w=1, j=True)
            )
            sessions.insert_one({"_id": "kept"})
        watch.check()
        assert watch.restarts == 0 and not said  # a server that answers is left alone

        frozen = stack.popen(MONGO)
        assert frozen is not None
        os.kill(frozen.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 90
        while watch.restarts == 0:
            assert time.monotonic() < deadline, "the watch did not restart the hung server"
            watch.check()
            time.sleep(0.1)  # check() paces its own pings; this only spares the CPU

        restarted = stack.popen(MONGO)
        assert restarted is not None and restarted.pid != frozen.pid
        assert frozen.returncode == -signal.SIGKILL
        assert any("MONGO-WIRE SERVER HUNG" in line for line in said), said
        saved = next(line for line in said if "stacks are saved in" in line)
        stacks = Path(saved.split("saved in ")[1].split(" ")[0])
        # the frozen threads, each in state T (stopped), are in the saved file
        assert " state T" in stacks.read_text()
        with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=10_000) as client:
            assert client["watched"]["sessions"].find_one({"_id": "kept"}) is not None
        assert watch.ping()
    finally:
        watch.close()
        stack.stop()
