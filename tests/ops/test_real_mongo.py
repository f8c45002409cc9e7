"""The test suites against a real MongoDB replica set (mongo:7, one node, `--replSet rs0`)
started with testcontainers, where a Docker engine is reachable: the same server the
compose stack and production run, instead of the Mongo-wire server `make test` uses.
Without an engine (this machine, CI) every test here is skipped with the reason, never
counted as passed.

MI_REAL_MONGO_SUITES picks what runs against it (default: the event kit and the
services' suites)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = "mongo:7"
SUITES = os.environ.get("MI_REAL_MONGO_SUITES", "libs/servicekit services").split()


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def replica_set_uri() -> Iterator[str]:
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(f"no Docker engine: {problem}")
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(IMAGE).with_command("--replSet rs0 --bind_ip_all").with_exposed_ports(27017)
    )
    container.start()
    try:

        def mongosh(script: str) -> tuple[int, str]:
            code, output = container.exec(["mongosh", "--quiet", "--eval", script])
            return code, output.decode(errors="replace").strip()

        deadline = time.monotonic() + 120
        while mongosh("db.runCommand({ping: 1}).ok")[0] != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{IMAGE} did not answer within 120s")
            time.sleep(0.5)
        # the member's address as the container sees itself; clients connect directly
        mongosh("rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'localhost:27017'}]})")
        while mongosh("db.hello().isWritablePrimary")[1] != "true":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica set did not elect a primary within 120s")
            time.sleep(0.5)
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        yield f"mongodb://{host}:{port}/?directConnection=true"
    finally:
        container.stop()


def test_the_replica_set_gives_transactions_and_change_streams(replica_set_uri: str) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(replica_set_uri)
    try:
        db = client[f"t_{uuid.uuid4().hex[:8]}"]
        db.create_collection("events")
        with db.events.watch() as stream:
            with client.start_session() as session, session.start_transaction():
                db.events.insert_one({"n": 1}, session=session)
                db.events.insert_one({"n": 2}, session=session)
            change = stream.try_next() or stream.next()
            assert change["operationType"] == "insert"
        assert db.events.count_documents({}) == 2
        client.drop_database(db.name)
    finally:
        client.close()


@pytest.mark.timeout(1800)
def test_the_suites_pass_on_a_real_replica_set(replica_set_uri: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env={**os.environ, "MONGO_URI": replica_set_uri},
        capture_output=True,
        text=True,
        timeout=1700,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    assert done.returncode == 0, f"{' '.join(SUITES)} failed on {IMAGE}:\n{tail}"
    assert " passed" in tail
