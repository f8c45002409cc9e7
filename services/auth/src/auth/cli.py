"""Operator commands for auth: `python -m auth.cli admin EMAIL` (what `make admin` runs)
grants the admin role through the same event-sourced path as the service."""

from __future__ import annotations

import argparse
import asyncio
import sys

from servicekit.eventstore import EventStore
from servicekit.mongo import connect

from auth.adapters.keys import KeyRing
from auth.main import build_accounts
from auth.settings import Settings


class _CliRuntime:
    """The unit of work a one-off command needs (servicekit.unit_of_work): Mongo, the event
    store and transactions, without the service's broker and web app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = connect(settings.mongo_uri, "auth-cli")
        self.db = self.client[settings.database]
        self.store = EventStore(self.db, "auth")
        self.relay = None

    async def command(self, work):  # type: ignore[no-untyped-def]
        from servicekit.eventstore import transactional_command

        return await transactional_command(self.client, work)


async def _set_role(email: str, role: str) -> int:
    settings = Settings()
    rt = _CliRuntime(settings)
    try:
        keys = KeyRing.load(None, None, settings.data_dir / "jwt-keys")
        accounts = build_accounts(rt, settings, keys)
        changed = await accounts.set_role(email, role, reason="cli")  # type: ignore[arg-type]
        print(f"{email}: {'now ' + role if changed else 'already ' + role}")
        return 0
    finally:
        await rt.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auth.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("admin", help="grant the admin role to a registered email")
    admin.add_argument("email")
    demote = sub.add_parser("demote", help="take the admin role away")
    demote.add_argument("email")
    args = parser.parse_args(argv)
    role = "admin" if args.command == "admin" else "user"
    try:
        return asyncio.run(_set_role(args.email, role))
    except Exception as exc:  # noqa: BLE001 - a CLI prints the reason instead of a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
