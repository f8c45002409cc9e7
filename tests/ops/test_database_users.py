"""docker compose's database users, for real where they can be: deploy/mongo/users.js run by
Node (mongosh is a Node program; its `db` is stood in for by a recorder), the users it asks for
created on a private Mongo-wire server, which is then restarted with authentication required.
Every service with a MONGO_URI in docker-compose.yml (password filled in, host pointed here)
starts as its own user - indexes, transactions, change streams with readWrite on its own
database alone - and is refused another service's database; the operators' mi-backup user
dumps and restores them all with servicekit.backup (the runbook's compose commands).

Not covered: mongosh itself, the mongo image's entrypoint and keyFile (no Docker engine
here), and how faithfully the development server models MongoDB's built-in roles."""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymongo import MongoClient
from pymongo.errors import OperationFailure
from servicekit import backup
from servicekit.testing import free_port, running

REPO = Path(__file__).resolve().parents[2]
USERS_JS = REPO / "deploy" / "mongo" / "users.js"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SETUP_ENV = COMPOSE["services"]["mongo-users"]["environment"]
MONGO_SERVICES = {
    name: svc["environment"]["MONGO_URI"]
    for name, svc in COMPOSE["services"].items()
    if "MONGO_URI" in (svc.get("environment") or {})
}
# mongosh's `db` as users.js uses it, recording what it is asked to do
RECORDER = """
const fs = require("fs"), vm = require("vm");
const existing = new Set(JSON.parse(process.env.EXISTING_USERS || "[]"));
const calls = [];
globalThis.db = { getSiblingDB: (database) => ({
  getUser: (user) => existing.has(database + "/" + user) ? { user: user } : null,
  createUser: (spec) => calls.push({ database: database, command: "createUser", spec: spec }),
  updateUser: (user, spec) =>
    calls.push({ database: database, command: "updateUser", spec: { user: user, ...spec } }),
}) };
globalThis.print = (...args) => console.error(...args);
vm.runInThisContext(fs.readFileSync(process.argv[1], "utf8"), { filename: process.argv[1] });
console.log(JSON.stringify(calls));
"""


def build_app(service: str, **overrides: Any) -> Any:
    package = service.replace("-", "_")
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    create_app = importlib.import_module(f"{package}.main").create_app
    return create_app(settings_cls(**{"gc_freeze": False, "log_json": True, **overrides}))


def users_js(env: dict[str, str], existing: list[str] | None = None) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node runs deploy/mongo/users.js here (mongosh is a Node program)"
    done = subprocess.run(
        [node, "-e", RECORDER, str(USERS_JS)],
        env={"PATH": os.environ["PATH"], "EXISTING_USERS": json.dumps(existing or []), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    calls: list[dict[str, Any]] = json.loads(done.stdout)
    return calls


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    found = {
        key: secrets.token_hex(16)
        for key in SETUP_ENV
        if key.startswith("MONGO_PASSWORD_") or key == "MONGO_BACKUP_PASSWORD"
    }
    return found


def setup_env(passwords: dict[str, str]) -> dict[str, str]:
    return {"MONGO_SERVICES": SETUP_ENV["MONGO_SERVICES"], **passwords}


def test_users_js_gives_each_service_readwrite_on_its_own_database_only(
    passwords: dict[str, str],
) -> None:
    calls = users_js(setup_env(passwords))
    assert all(c["command"] == "createUser" for c in calls)
    made = {(c["database"], c["spec"]["user"]): c["spec"] for c in calls}
    wanted = {(f"mi_{s.replace('-', '_')}", s) for s in MONGO_SERVICES} | {("admin", "mi-backup")}
    assert set(made) == wanted
    for (database, user), spec in made.items():
        if user == "mi-backup":
            assert spec["roles"] == [
                {"role": "backup", "db": "admin"},
                {"role": "restore", "db": "admin"},
            ]
            assert spec["pwd"] == passwords["MONGO_BACKUP_PASSWORD"]
            continue
        assert spec["roles"] == [{"role": "readWrite", "db": database}]
        assert spec["pwd"] == passwords["MONGO_PASSWORD_" + user.upper().replace("-", "_")]

    # run again on a server that has them: the same users, updated (a rotated password)
    again = users_js(setup_env(passwords), existing=[f"{d}/{u}" for d, u in made])
    assert {c["command"] for c in again} == {"updateUser"}
    assert {(c["database"], c["spec"]["user"]) for c in again} == wanted


def test_users_js_refuses_to_run_without_a_password() -> None:
    node = shutil.which("node")
    assert node
    done = subprocess.run(
        [node, "-e", RECORDER, str(USERS_JS)],
        env={"PATH": os.environ["PATH"], "MONGO_SERVICES": "auth"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "MONGO_PASSWORD_AUTH is not set" in done.stderr


class PrivateServer:
    """A Mongo-wire server of this module's own, restartable with --auth."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mi-mongo-auth-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, auth: bool) -> None:
        args = [sys.executable, "-m", "servicekit.devmongo", "--port", str(self.port)]
        args += ["--storage-path", str(self.dir / "db"), *(["--auth"] if auth else [])]
        with open(self.dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                MongoClient(self.url(), serverSelectionTimeoutMS=500).admin.command("ping")
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.dir / "server.log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self.proc = None

    def url(self, credentials: str = "", path: str = "/", query: str = "") -> str:
        return f"mongodb://{credentials}127.0.0.1:{self.port}{path}?directConnection=true{query}"

    def from_compose(self, uri: str, passwords: dict[str, str]) -> str:
        """A compose MONGO_URI with its password filled in, pointed at this server."""
        for key, value in passwords.items():
            uri = uri.replace(f"${{{key}:?set {key} in .env}}", value)
        assert "${" not in uri, uri
        return uri.replace("@mongo:27017", f"@127.0.0.1:{self.port}").replace(
            "replicaSet=rs0", "directConnection=true"
        )


@pytest.fixture(scope="module")
def server(passwords: dict[str, str]) -> Iterator[PrivateServer]:
    srv = PrivateServer()
    srv.start(auth=False)
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(srv.url())
        for call in users_js(setup_env(passwords)):
            spec = call["spec"]
            client[call["database"]].command(
                call["command"], spec["user"], pwd=spec["pwd"], roles=spec["roles"]
            )
        client.close()
        srv.stop()
        srv.start(auth=True)
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(srv.dir, ignore_errors=True)


def test_nobody_gets_in_without_a_user(server: PrivateServer) -> None:
    with pytest.raises(OperationFailure):
        MongoClient(server.url()).mi_auth.users.find_one()


async def test_each_service_starts_as_its_own_user_and_is_refused_the_others_databases(
    server: PrivateServer,
    passwords: dict[str, str],
    rabbitmq_url: str,
    tmp_path: Path,
) -> None:
    uris = {name: server.from_compose(uri, passwords) for name, uri in MONGO_SERVICES.items()}
    for name, uri in uris.items():
        unique = uuid.uuid4().hex[:8]
        app = build_app(
            name,
            mongo_uri=uri,  # and the database mi_<service>: no test override
            rabbitmq_url=rabbitmq_url,
            events_exchange=f"mi.events.t{unique}",
            queue_prefix=f"t{unique}.",
            data_dir=tmp_path / name,
        )
        # ready = indexes created, topology declared, consumers attached, relay running
        async with running(app, ready_timeout=30):
            assert app.state.runtime.db.name == f"mi_{name.replace('-', '_')}"
    for name, uri in uris.items():
        client: MongoClient[dict[str, Any]] = MongoClient(uri)
        own = client[f"mi_{name.replace('-', '_')}"]
        own.probe.insert_one({"by": name})
        assert own.probe.count_documents({"by": name}) == 1
        for other in (o for o in uris if o != name):
            theirs = client[f"mi_{other.replace('-', '_')}"]
            with pytest.raises(OperationFailure, match="not authorized"):
                theirs.probe.find_one()
            with pytest.raises(OperationFailure, match="not authorized"):
                theirs.probe.insert_one({"by": name})
        client.close()


def test_the_backup_user_dumps_and_restores_every_service_database(
    server: PrivateServer, passwords: dict[str, str], tmp_path: Path
) -> None:
    uri = server.url(f"mi-backup:{passwords['MONGO_BACKUP_PASSWORD']}@", query="&authSource=admin")
    auth = MongoClient(server.from_compose(MONGO_SERVICES["auth"], passwords))
    auth.mi_auth.drill.insert_many([{"n": i} for i in range(10)])
    dumped = backup.dump(uri, tmp_path)
    assert dumped.databases["mi_auth"]["drill"] == 10
    auth.mi_auth.drill.delete_many({})
    backup.restore(uri, tmp_path, ["mi_auth"], drop=True)
    assert auth.mi_auth.drill.count_documents({}) == 10
    auth.close()
