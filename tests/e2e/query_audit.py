"""Every query the platform sends has an index to start from.

Each e2e stack runs with MONGO_QUERY_LOG set: every service process writes each distinct
(database, collection, command, filter shape) it sends (servicekit.mongo.QueryShapeLog). When
a module's stack stops, `audit` reads those shapes and the collections' indexes from the
stack's store, and keeps what no index serves; `test_query_indexes.py`, run after every other
e2e module, fails on any of it. So the check covers what the journeys really do, without a
second run.

The rule is the one a B-tree gives: a filter can start from an index when it pins the index's
first field (equality or range), or `_id`; an `$or` needs every branch served. `explain`
would be the direct way, but the development store reports a collection scan for queries that
use an index (session 5 measured it), so the shape is checked against the index keys instead.

A filter that pins nothing (or only a flag most documents share) reads the whole collection.
That is right only where the whole collection is the answer and stays small: WHOLE_COLLECTION
names those reads, each with why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient

# (command, collection, fields pinned) -> why reading all of it is right (any database)
WHOLE_COLLECTION: dict[tuple[str, str, tuple[str, ...]], str] = {
    (
        "find",
        "questions",
        ("active",),
    ): "interviews' in-memory catalog loads every active question at "
    "start and when the bank's version moves (an admin edit): the bank is a few hundred "
    "documents, almost all active, so an index on the flag would not narrow the read",
    # Admin figures (/admin/stats): totals over every session and job, grouped by status and
    # week. They are the whole collection by definition, read only when an administrator
    # opens the page; no index narrows a total. They grow with the data: docs/capacity.md
    # says when they move to counters (a write on every event to save a rare read is the
    # wrong trade below that).
    (
        "aggregate",
        "sessions",
        (),
    ): "admin figures: interviews by status and by week over all sessions",
    (
        "aggregate",
        "jobs",
        (),
    ): "admin figures: AI jobs, calls, tokens and cost by status over all jobs",
}


@dataclass(frozen=True)
class Finding:
    service: str
    db: str
    collection: str
    command: str
    fields: tuple[str, ...]
    origin: str
    indexes: tuple[tuple[str, ...], ...]

    def __str__(self) -> str:
        pinned = ", ".join(self.fields) or "nothing (whole collection)"
        keys = "; ".join(",".join(k) for k in self.indexes) or "none"
        return (
            f"{self.service} {self.command} on {self.collection} ({self.origin}) pins "
            f"{pinned}; indexes: {keys}"
        )


@dataclass
class Audit:
    """What every stack of this pytest session sent, and what no index served."""

    shapes: int = 0
    collections: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


SESSION = Audit()


def served(shape: dict[str, Any], first_keys: set[str]) -> bool:
    fields = set(shape.get("fields", ()))
    if "_id" in fields or fields & first_keys:
        return True
    branches = shape.get("or") or []
    if not branches:
        return False
    # an $or is served when every branch is, each branch with the fields pinned beside it
    return all(
        served({"fields": sorted(fields | set(b["fields"])), "or": b.get("or", [])}, first_keys)
        for b in branches
    )


def read_shapes(directory: Path) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(line, json.loads(line))
    return list(seen.values())


def audit(directory: Path, mongo_uri: str, into: Audit = SESSION) -> list[Finding]:
    """Check the shapes written under `directory` against the store's indexes now."""
    shapes = read_shapes(directory)
    found: list[Finding] = []
    indexes: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}
    with MongoClient(mongo_uri, serverSelectionTimeoutMS=5000) as client:
        for shape in shapes:
            db, coll = shape["db"], shape["collection"]
            if not coll or db in ("admin", "config", "local"):
                continue
            if (db, coll) not in indexes:
                indexes[(db, coll)] = tuple(
                    tuple(spec["key"].keys()) for spec in client[db][coll].list_indexes()
                )
            keys = indexes[(db, coll)]
            into.shapes += 1
            into.collections.add(coll)
            fields = shape["shape"]["fields"]
            whole = (shape["command"], coll, tuple(fields))
            if not shape["shape"]["or"] and whole in WHOLE_COLLECTION:
                continue
            if served(shape["shape"], {k[0] for k in keys if k}):
                continue
            found.append(
                Finding(
                    service=shape["service"],
                    db=db,
                    collection=coll,
                    command=shape["command"],
                    fields=tuple(fields),
                    origin=shape["origin"],
                    indexes=keys,
                )
            )
    into.findings.extend(found)
    return found
