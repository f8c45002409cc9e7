"""Logical backups of the services' databases, in the image every service already runs (no
third-party job image): `mongodump`'s directory layout written with PyMongo, optionally
uploaded to S3-compatible object storage, and restored from either.

    python -m servicekit.backup dump    [--uri URI] [--db NAME ...] --out DIR [--s3-bucket B]
    python -m servicekit.backup restore [--uri URI] [--db NAME ...] (--from DIR | --s3-bucket B
                                        --s3-prefix P) [--drop] [--rename OLD=NEW ...]

Layout (what `mongodump --gzip --out DIR` writes, so `mongorestore --gzip --dir DIR` reads it
too): `DIR/<db>/<collection>.bson.gz` (the documents, concatenated BSON, exactly as the server
returned them) and `DIR/<db>/<collection>.metadata.json.gz` (options and indexes, canonical
Extended JSON), plus `DIR/backup-manifest.json` (what was dumped, with document counts),
written and uploaded last: a prefix without it is an interrupted backup, and `restore` refuses
it.

Consistency: each collection is read by one cursor, so a collection is as of the moment its
read started at the earliest, and two collections are not of the same instant (this is not
`mongodump --oplog`: no point in time across the dump). What makes that safe here: every
service writes its state and its outbox rows in one transaction, and consumes through an inbox
keyed by event id, so after a restore an outbox row the dump caught unsent is published again
and a consumer that already applied it skips it; an event applied but whose inbox row was not
caught is applied once more by the same idempotent handler. What is lost: writes after each
collection's read. Point-in-time recovery needs the oplog archived continuously (Percona Backup
for MongoDB, Atlas continuous backup: docs/runbook.md, Backups).

Settings come from the environment as the Kubernetes jobs give them: MONGO_BACKUP_URI (dump),
MONGO_RESTORE_URI (restore), BACKUP_BUCKET, BACKUP_S3_ENDPOINT (empty: AWS), BACKUP_S3_REGION,
and the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, CollectionInvalid

MANIFEST = "backup-manifest.json"
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})
BATCH = 1000
RAW = CodecOptions(document_class=RawBSONDocument)
# the index fields a server reports that createIndexes does not take back
_NOT_RESTORED = {"v", "ns"}


@dataclass
class Summary:
    databases: dict[str, dict[str, int]] = field(default_factory=dict)
    """database -> collection -> documents"""
    indexes: int = 0
    skipped_duplicates: int = 0

    @property
    def documents(self) -> int:
        return sum(n for colls in self.databases.values() for n in colls.values())


def _client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, appname="mi-backup", serverSelectionTimeoutMS=20_000)


def _databases(client: MongoClient[dict[str, Any]], wanted: Sequence[str] | None) -> list[str]:
    if wanted:
        return list(wanted)
    return sorted(n for n in client.list_database_names() if n not in SYSTEM_DATABASES)


# ------------------------------------------------------------------------------------- dump


def dump(uri: str, out: Path, databases: Sequence[str] | None = None) -> Summary:
    """Every (or the named) database's collections into `out` in mongodump's gzip layout."""
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary()
    started = datetime.now(UTC)
    client = _client(uri)
    try:
        for name in _databases(client, databases):
            db = client[name]
            counts: dict[str, int] = {}
            (out / name).mkdir(exist_ok=True)
            for info in db.list_collections(filter={"type": {"$ne": "view"}}):
                coll_name = str(info["name"])
                if coll_name.startswith("system."):
                    continue
                coll = db[coll_name]
                indexes = [dict(ix) for ix in coll.list_indexes()]
                metadata: dict[str, Any] = {
                    "indexes": indexes,
                    "collectionName": coll_name,
                    "type": "collection",
                    "options": info.get("options") or {},
                }
                found = (info.get("info") or {}).get("uuid")
                if found is not None:  # as mongodump writes it: 32 hex digits
                    metadata["uuid"] = (
                        found.bytes if isinstance(found, uuid.UUID) else bytes(found)
                    ).hex()
                docs = 0
                with gzip.open(out / name / f"{coll_name}.bson.gz", "wb") as data:
                    batch: bytes
                    for batch in coll.find_raw_batches(sort=[("_id", 1)]):  # type: ignore[assignment]
                        data.write(batch)
                        docs += _count_bson(batch)
                with gzip.open(out / name / f"{coll_name}.metadata.json.gz", "wt") as meta:
                    meta.write(
                        json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS)
                    )
                counts[coll_name] = docs
                summary.indexes += len(indexes)
            summary.databases[name] = counts
    finally:
        client.close()
    manifest = {
        "format": "mongodump-gzip-directory",
        "tool": "servicekit.backup",
        "consistency": "per-collection",
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "databases": summary.databases,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return summary


def _count_bson(batch: bytes) -> int:
    """Documents in a run of concatenated BSON (each starts with its int32 length)."""
    count, offset = 0, 0
    while offset < len(batch):
        offset += int.from_bytes(batch[offset : offset + 4], "little")
        count += 1
    return count


# ---------------------------------------------------------------------------------- restore


def _documents(path: Path) -> Iterator[RawBSONDocument]:
    with gzip.open(path, "rb") as data:
        yield from bson.decode_file_iter(cast(IO[bytes], data), codec_options=RAW)


def _batches(docs: Iterable[RawBSONDocument]) -> Iterator[list[RawBSONDocument]]:
    batch: list[RawBSONDocument] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise SystemExit(f"backup: {source} has no {MANIFEST}: an interrupted backup, not restored")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def restore(
    uri: str,
    source: Path,
    databases: Sequence[str] | None = None,
    *,
    drop: bool = False,
    rename: dict[str, str] | None = None,
) -> Summary:
    """Documents, then indexes, of every (or the named) database of a dump. With `drop`, each
    collection is dropped first (a full restore); without, documents already there (same _id)
    are kept and counted as skipped. `rename` restores database OLD as NEW (a restore drill
    into scratch databases)."""
    manifest = read_manifest(source)
    names = list(databases) if databases else sorted(manifest["databases"])
    rename = rename or {}
    summary = Summary()
    client = _client(uri)
    try:
        for name in names:
            folder = source / name
            if name not in manifest["databases"] or not folder.is_dir():
                raise SystemExit(f"backup: database {name!r} is not in this backup")
            db = client.get_database(rename.get(name, name), codec_options=RAW)
            counts: dict[str, int] = {}
            for meta_path in sorted(folder.glob("*.metadata.json.gz")):
                coll_name = meta_path.name.removesuffix(".metadata.json.gz")
                with gzip.open(meta_path, "rt") as meta:
                    metadata = json_util.loads(meta.read())
                if drop:
                    db.drop_collection(coll_name)
                try:
                    db.create_collection(coll_name, **(metadata.get("options") or {}))
                except CollectionInvalid:
                    pass  # already there (restore without --drop)
                coll = db[coll_name]
                docs = 0
                data = folder / f"{coll_name}.bson.gz"
                for batch in _batches(_documents(data) if data.is_file() else ()):
                    try:
                        coll.insert_many(batch, ordered=False)
                        docs += len(batch)
                    except BulkWriteError as exc:
                        errors = exc.details.get("writeErrors", [])
                        if any(e.get("code") != 11000 for e in errors):
                            raise
                        docs += exc.details.get("nInserted", 0)
                        summary.skipped_duplicates += len(errors)
                specs = [
                    {k: v for k, v in ix.items() if k not in _NOT_RESTORED}
                    for ix in metadata.get("indexes") or []
                    if ix.get("name") != "_id_"
                ]
                if specs:
                    db.command({"createIndexes": coll_name, "indexes": specs})
                summary.indexes += len(specs)
                counts[coll_name] = docs
            summary.databases[rename.get(name, name)] = counts
    finally:
        client.close()
    return summary


# ---------------------------------------------------------------------------- object storage


def s3_client(endpoint: str | None = None, region: str | None = None) -> Any:
    import boto3  # only the backup jobs need it

    return boto3.client(
        "s3",
        endpoint_url=endpoint or os.environ.get("BACKUP_S3_ENDPOINT") or None,
        region_name=region or os.environ.get("BACKUP_S3_REGION") or "us-east-1",
    )


def upload(s3: Any, source: Path, bucket: str, prefix: str) -> int:
    """Every file of the dump under `prefix`, the manifest last (it marks a complete backup)."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != MANIFEST)
    for path in [*files, source / MANIFEST]:
        key = f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}"
        s3.upload_file(str(path), bucket, key)
    return len(files) + 1


def download(s3: Any, bucket: str, prefix: str, target: Path) -> int:
    prefix = prefix.rstrip("/") + "/"
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    if prefix + MANIFEST not in keys:
        raise SystemExit(
            f"backup: s3://{bucket}/{prefix} has no {MANIFEST}: missing or interrupted backup"
        )
    for key in keys:
        relative = Path(key[len(prefix) :])
        if relative.is_absolute() or ".." in relative.parts:
            raise SystemExit(f"backup: refusing object key {key!r}")
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target / relative))
    return len(keys)


def default_prefix(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"mongo/{now:%Y/%m/%d}/mi-{now:%Y%m%dT%H%M%SZ}"


# ------------------------------------------------------------------------------------- CLI


def _renames(pairs: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise SystemExit(f"backup: --rename takes OLD=NEW, not {pair!r}")
        found[old] = new
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.backup", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("dump", "restore"):
        cmd = sub.add_parser(name)
        env = "MONGO_BACKUP_URI" if name == "dump" else "MONGO_RESTORE_URI"
        cmd.add_argument("--uri", default=os.environ.get(env), help=f"default: ${env}")
        cmd.add_argument("--db", action="append", help="only this database (repeatable)")
        cmd.add_argument("--s3-bucket", default=os.environ.get("BACKUP_BUCKET") or None)
        cmd.add_argument("--s3-prefix", default=None)
    sub.choices["dump"].add_argument("--out", type=Path, default=None)
    restore_cmd = sub.choices["restore"]
    restore_cmd.add_argument("--from", dest="source", type=Path, default=None)
    restore_cmd.add_argument("--drop", action="store_true", help="drop each collection first")
    restore_cmd.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = parser.parse_args(argv)
    if not args.uri:
        parser.error("no MongoDB URI (--uri, or the environment variable named in --help)")
    if args.command == "dump" and not (args.out or args.s3_bucket):
        parser.error("dump needs --out DIR, --s3-bucket (or $BACKUP_BUCKET), or both")

    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="mi-backup-"))
    try:
        if args.command == "dump":
            out = args.out or scratch
            summary = dump(args.uri, out, args.db)
            where = str(out)
            if args.s3_bucket:
                prefix = args.s3_prefix or default_prefix()
                upload(s3_client(), out, args.s3_bucket, prefix)
                where = f"s3://{args.s3_bucket}/{prefix}/"
            verb = "dumped"
        else:
            if args.source is None and not (args.s3_bucket and args.s3_prefix):
                parser.error("restore needs --from DIR or --s3-bucket and --s3-prefix")
            source = args.source
            if source is None:
                download(s3_client(), args.s3_bucket, args.s3_prefix, scratch)
                source = scratch
            summary = restore(
                args.uri, source, args.db, drop=args.drop, rename=_renames(args.rename)
            )
            where = str(args.source or f"s3://{args.s3_bucket}/{args.s3_prefix}")
            verb = "restored"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        json.dumps(
            {
                "backup": verb,
                "where": where,
                "databases": summary.databases,
                "documents": summary.documents,
                "indexes": summary.indexes,
                "skipped_duplicates": summary.skipped_duplicates,
                "seconds": round(time.monotonic() - began, 2),
            }
        ),
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
