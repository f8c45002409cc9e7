"""Every query the e2e journeys made had an index to start from (query_audit.py says how).

conftest.py runs this after every other e2e test, so it judges all of them. Run alone, it
starts its own stack and walks one user through an interview first."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from pymongo import ASCENDING, MongoClient
from query_audit import SESSION, Audit, audit, served
from servicekit.mongo import QueryShapeLog
from stackutil import signup, wait_for


def _walk_one_user(base: str, auth: dict[str, str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/user/me", headers=auth).is_success
        started = http.post("/interviews", json={"type": "behavioral"}, headers=auth)
        assert started.status_code == 202, started.text
        session_id = started.json()["id"]
        wait_for(
            lambda: http.get(f"/interviews/{session_id}", headers=auth).json()["status"] == "ready",
            message="session ready",
        )
        assert http.get("/interviews", headers=auth).is_success


def test_every_query_the_journeys_sent_starts_from_an_index(request: pytest.FixtureRequest) -> None:
    if SESSION.shapes == 0:
        stack = request.getfixturevalue("stack")
        _, auth = signup(stack, name="Ada")
        _walk_one_user(stack.gateway_url, auth)
        audit(stack.data_dir / "queries", stack.mongo_uri)
    # not vacuous: the journeys reached the collections that matter
    assert SESSION.shapes >= 10, SESSION
    assert {"events", "outbox"} <= SESSION.collections, SESSION.collections
    assert not SESSION.findings, "queries no index serves:\n" + "\n".join(
        str(f) for f in SESSION.findings
    )


def test_the_rule_is_the_b_tree_rule() -> None:
    firsts = {"user_id", "status"}
    assert served({"fields": ["_id", "x"], "or": []}, set())
    assert served({"fields": ["user_id", "created_at"], "or": []}, firsts)
    assert not served({"fields": ["created_at"], "or": []}, firsts)  # not a leading field
    assert not served({"fields": [], "or": []}, firsts)
    both = {"fields": [], "or": [{"fields": ["user_id"], "or": []}, {"fields": ["status"]}]}
    assert served(both, firsts)
    one = {"fields": [], "or": [{"fields": ["user_id"], "or": []}, {"fields": ["email"]}]}
    assert not served(one, firsts)


def test_a_query_on_an_unindexed_field_is_found(mongo_uri: str, tmp_path: Path) -> None:
    """The recorder and the audit on a real store: the same two queries, before and after
    the index exists."""
    db_name = f"audit_{uuid.uuid4().hex[:8]}"
    log = QueryShapeLog("probe", str(tmp_path))
    with MongoClient(mongo_uri, event_listeners=[log]) as client:
        coll = client[db_name]["things"]
        try:
            coll.insert_one({"owner": "a", "kind": "b"})
            coll.find_one({"owner": "a"})
            coll.update_one({"_id": 1, "owner": "a"}, {"$set": {"kind": "c"}})
            before = audit(tmp_path, mongo_uri, into=Audit())
            assert [(f.command, f.fields) for f in before] == [("find", ("owner",))]
            coll.create_index([("owner", ASCENDING), ("kind", ASCENDING)])
            assert audit(tmp_path, mongo_uri, into=Audit()) == []
        finally:
            client.drop_database(db_name)
