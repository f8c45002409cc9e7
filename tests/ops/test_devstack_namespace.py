"""Two stacks on one machine (a test run beside `make run`) share RabbitMQ and Redis: a stack
on automatic ports takes names of its own for everything shared, kept with its data."""

from __future__ import annotations

from pathlib import Path

from devstack import Stack

SHARED = ("EVENTS_EXCHANGE", "QUEUE_PREFIX", "REDIS_KEY_PREFIX")


def test_auto_ports_imply_a_private_namespace_kept_with_the_data(tmp_path: Path) -> None:
    env = {k: "" for k in (*SHARED, "MONGO_DB_PREFIX")}
    first = Stack(tmp_path / "a", ports="auto", env=env)
    second = Stack(tmp_path / "b", ports="auto", env=env)
    for name in SHARED:
        mine, theirs = first.environment("gateway")[name], second.environment("gateway")[name]
        assert mine and theirs and mine != theirs, name
    assert first.environment("gateway")["EVENTS_EXCHANGE"] != "mi.events"
    described = first.describe_namespace()
    assert described and first.environment("auth")["QUEUE_PREFIX"] in described
    # the same data directory finds the same names again (queued events are not orphaned)
    again = Stack(tmp_path / "a", ports="auto", env=env)
    assert all(again.environment("auth")[n] == first.environment("auth")[n] for n in SHARED)
    # its own Mongo-wire server is private already; a shared MONGO_URI gets a prefix
    assert not first.environment("auth").get("MONGO_DB_PREFIX")
    shared_mongo = Stack(tmp_path / "c", ports="auto", env=env, mongo_uri="mongodb://db:27017/")
    assert shared_mongo.environment("auth")["MONGO_DB_PREFIX"]


def test_names_given_by_the_caller_are_kept(tmp_path: Path) -> None:
    env = {"EVENTS_EXCHANGE": "mi.events.mine", "QUEUE_PREFIX": "mine.", "REDIS_KEY_PREFIX": ""}
    stack = Stack(tmp_path, ports="auto", env=env)
    gateway = stack.environment("gateway")
    assert gateway["EVENTS_EXCHANGE"] == "mi.events.mine" and gateway["QUEUE_PREFIX"] == "mine."
    assert gateway["REDIS_KEY_PREFIX"]  # the one not given is private


def test_fixed_ports_keep_the_default_names(tmp_path: Path) -> None:
    env = {k: "" for k in SHARED}
    stack = Stack(tmp_path, env=env)
    assert stack.describe_namespace() is None
    assert not stack.environment("gateway")["QUEUE_PREFIX"]
