"""The backup the CronJob runs and the restore the runbook's Job runs (`python -m
servicekit.backup`, in the services' own image), against the Mongo-wire server the other tests
use and against S3 (moto in server mode, over HTTP, as the job talks to real object storage):
write documents of every BSON type with indexes into two databases, dump, drop, restore, and
compare documents and indexes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import bson
import pytest
from bson import Binary, Decimal128, ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError
from servicekit import backup

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    c: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    yield c
    c.close()


@pytest.fixture
def two_databases(client: MongoClient[dict[str, Any]]) -> Iterator[list[str]]:
    """Two service-like databases (unique names on the shared server), with indexes."""
    tag = uuid.uuid4().hex[:8]
    names = [f"bk_{tag}_auth", f"bk_{tag}_interviews"]
    auth, interviews = client[names[0]], client[names[1]]
    auth.users.insert_many(
        [
            {
                "_id": ObjectId(),
                "email": f"user{i}@example.com",
                "created": datetime(2025, 1, 1, 12, i % 60, tzinfo=UTC),
                "balance": Decimal128(Decimal("10.25")),
                "key": Binary(bytes([i % 256]) * 8),
                "roles": ["user"] + (["admin"] if i == 7 else []),
                "profile": {"name": f"User {i}", "score": i * 1.5, "n": i},
            }
            for i in range(2300)  # more than one insert batch and one cursor batch
        ]
    )
    auth.users.create_index("email", unique=True)
    auth.users.create_index(
        [("profile.n", ASCENDING)], partialFilterExpression={"profile.n": {"$gt": 100}}
    )
    auth.outbox.insert_many([{"_id": f"evt-{i}", "sent": i % 2 == 0} for i in range(5)])
    auth.outbox.create_index([("sent", ASCENDING), ("_id", ASCENDING)], name="unsent")
    interviews.events.insert_many(
        [{"stream": f"s{i % 3}", "version": i, "data": {"q": [1, 2, i]}} for i in range(40)]
    )
    interviews.events.create_index(
        [("stream", ASCENDING), ("version", DESCENDING)], unique=True, name="stream_version"
    )
    interviews.inbox.insert_one({"_id": "interviews.main.SessionStarted:e1"})
    interviews.inbox.create_index("at", expireAfterSeconds=604800)
    yield names
    for name in names:
        client.drop_database(name)


def snapshot(client: MongoClient[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Every collection's documents (sorted by _id) and index definitions."""
    state: dict[str, Any] = {}
    for i, name in enumerate(names):
        db = client[name]
        for coll in sorted(db.list_collection_names()):
            docs = list(db[coll].find().sort("_id", 1))
            indexes = sorted(
                (
                    {k: v for k, v in ix.items() if k not in ("v", "ns")}
                    for ix in db[coll].list_indexes()
                ),
                key=lambda ix: ix["name"],
            )
            state[f"{i}.{coll}"] = {"docs": docs, "indexes": indexes}
    return state


def test_dump_drop_restore_gives_back_every_document_and_index(
    mongo_uri: str, client: MongoClient[dict[str, Any]], two_databases: list[str], tmp_path: Path
) -> None:
    before = snapshot(client, two_databases)
    assert len(before["0.users"]["indexes"]) == 3 and len(before["0.users"]["docs"]) == 2300

    dumped = backup.dump(mongo_uri, tmp_path, two_databases)
    assert dumped.documents == 2300 + 5 + 40 + 1
    # mongodump's gzip directory layout, documents as concatenated BSON
    auth_db = tmp_path / two_databases[0]
    assert sorted(p.name for p in auth_db.iterdir()) == [
        "outbox.bson.gz",
        "outbox.metadata.json.gz",
        "users.bson.gz",
        "users.metadata.json.gz",
    ]
    with gzip.open(auth_db / "outbox.bson.gz", "rb") as data:
        assert [d["_id"] for d in bson.decode_all(data.read())] == [f"evt-{i}" for i in range(5)]
    with gzip.open(auth_db / "users.metadata.json.gz", "rt") as meta:
        names = {ix["name"] for ix in json.loads(meta.read())["indexes"]}
    assert names == {"_id_", "email_1", "profile.n_1"}

    for name in two_databases:
        client.drop_database(name)
    assert snapshot(client, two_databases) == {}

    restored = backup.restore(mongo_uri, tmp_path, drop=True)
    assert restored.documents == dumped.documents
    assert snapshot(client, two_databases) == before
    # the unique index is really back: a second user with the same email is refused
    with pytest.raises(DuplicateKeyError):
        client[two_databases[0]].users.insert_one({"email": "user3@example.com"})


def test_a_restore_without_drop_keeps_what_is_there_and_counts_the_rest(
    mongo_uri: str, client: MongoClient[dict[str, Any]], two_databases: list[str], tmp_path: Path
) -> None:
    backup.dump(mongo_uri, tmp_path, two_databases[1:])
    events = client[two_databases[1]].events
    events.delete_many({"version": {"$gte": 30}})  # lost after the dump
    events.update_one({"version": 0}, {"$set": {"data": "changed since"}})

    summary = backup.restore(mongo_uri, tmp_path)
    assert summary.skipped_duplicates == 30 + 1  # 30 events and the inbox row were still there
    assert events.count_documents({}) == 40
    assert events.find_one({"version": 0})["data"] == "changed since"  # kept, not overwritten

    backup.restore(mongo_uri, tmp_path, drop=True)
    assert events.find_one({"version": 0})["data"] == {"q": [1, 2, 0]}


def test_restore_refuses_an_interrupted_dump(
    mongo_uri: str, two_databases: list[str], tmp_path: Path
) -> None:
    backup.dump(mongo_uri, tmp_path, two_databases)
    (tmp_path / backup.MANIFEST).unlink()
    with pytest.raises(SystemExit, match="interrupted"):
        backup.restore(mongo_uri, tmp_path, drop=True)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def run_backup(*args: str, env: dict[str, str]) -> dict[str, Any]:
    """The command the Kubernetes jobs run, as a process, settings from the environment."""
    done = subprocess.run(
        [sys.executable, "-m", "servicekit.backup", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_jobs_commands_round_trip_through_s3(
    mongo_uri: str, client: MongoClient[dict[str, Any]], two_databases: list[str], s3_endpoint: str
) -> None:
    bucket = f"backups-{uuid.uuid4().hex[:8]}"
    env = {
        "BACKUP_BUCKET": bucket,
        "BACKUP_S3_ENDPOINT": s3_endpoint,
        "BACKUP_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=bucket)
    before = snapshot(client, two_databases)

    dbs = [arg for name in two_databases for arg in ("--db", name)]
    report = run_backup("dump", *dbs, env={**env, "MONGO_BACKUP_URI": mongo_uri})
    prefix = report["where"].removeprefix(f"s3://{bucket}/").rstrip("/")
    assert prefix.startswith(f"mongo/{datetime.now(UTC):%Y/%m/%d}/mi-")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"{prefix}/{backup.MANIFEST}" in keys
    assert f"{prefix}/{two_databases[1]}/events.bson.gz" in keys
    assert report["documents"] == 2346

    for name in two_databases:
        client.drop_database(name)
    report = run_backup(
        "restore", "--s3-prefix", prefix, "--drop", env={**env, "MONGO_RESTORE_URI": mongo_uri}
    )
    assert report["documents"] == 2346
    assert snapshot(client, two_databases) == before

    # a restore drill into scratch databases, leaving the live ones alone
    drill = [f"{name}_drill" for name in two_databases]
    renames = [
        a
        for old, new in zip(two_databases, drill, strict=True)
        for a in ("--rename", f"{old}={new}")
    ]
    try:
        run_backup(
            "restore", "--s3-prefix", prefix, *renames, env={**env, "MONGO_RESTORE_URI": mongo_uri}
        )
        assert snapshot(client, drill) == before
    finally:
        for name in drill:
            client.drop_database(name)


def test_a_prefix_without_its_manifest_is_not_restored(
    mongo_uri: str, two_databases: list[str], s3_endpoint: str, tmp_path: Path
) -> None:
    bucket = f"backups-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=bucket)
    backup.dump(mongo_uri, tmp_path, two_databases)
    (tmp_path / backup.MANIFEST).unlink()  # an upload that died before its last object
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"mongo/x/{path.relative_to(tmp_path).as_posix()}")
    done = subprocess.run(
        [sys.executable, "-m", "servicekit.backup", "restore", "--s3-prefix", "mongo/x", "--drop"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "MONGO_RESTORE_URI": mongo_uri,
            "BACKUP_BUCKET": bucket,
            "BACKUP_S3_ENDPOINT": s3_endpoint,
            **{k.upper(): v for k, v in _keys().items()},
        },
    )
    assert done.returncode != 0
    assert "no backup-manifest.json" in done.stderr


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
