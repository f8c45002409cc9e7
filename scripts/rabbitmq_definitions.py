"""The RabbitMQ definitions docker compose loads at boot (deploy/rabbitmq/definitions.json):
one user per service, allowed only what servicekit's broker code does for it
(servicekit.broker.broker_permissions: its own queues, the events exchange, the DLX, the
unrouted queue), and an operators' administrator. Loading definitions at boot means the broker
never creates its default `guest` account. Passwords are `${RABBITMQ_PASSWORD_<SERVICE>}`
placeholders, filled from the environment (.env) by the broker container's entrypoint, so
nothing secret is committed.

    python scripts/rabbitmq_definitions.py           # rewrite the file
    python scripts/rabbitmq_definitions.py --check   # exit 1 when it is not what the code says
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from servicekit.broker import broker_permissions

REPO = Path(__file__).resolve().parent.parent
DEFINITIONS = REPO / "deploy" / "rabbitmq" / "definitions.json"
ADMIN = "${RABBITMQ_ADMIN_USER}"
VHOST = "/"


def services(repo: Path = REPO) -> list[str]:
    """Every service of the platform: a directory under services/ with a pyproject.toml, named
    as its queues are (its Settings.service_name; tests/ops checks they agree)."""
    return sorted(p.parent.name for p in (repo / "services").glob("*/pyproject.toml"))


def password_variable(service: str) -> str:
    return "RABBITMQ_PASSWORD_" + service.upper().replace("-", "_")


def definitions(names: list[str]) -> dict[str, Any]:
    users: list[dict[str, Any]] = [
        {"name": ADMIN, "password": "${RABBITMQ_ADMIN_PASS}", "tags": ["administrator"]}
    ]
    permissions: list[dict[str, Any]] = [
        {"user": ADMIN, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}
    ]
    for name in names:
        users.append({"name": name, "password": f"${{{password_variable(name)}}}", "tags": []})
        permissions.append({"user": name, "vhost": VHOST, **broker_permissions(name)})
    return {"vhosts": [{"name": VHOST}], "users": users, "permissions": permissions}


def render(names: list[str]) -> str:
    return json.dumps(definitions(names), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    wanted = render(services())
    if args.check:
        if not DEFINITIONS.is_file() or DEFINITIONS.read_text() != wanted:
            print(
                f"{DEFINITIONS.relative_to(REPO)} is not what the code says: run "
                "python scripts/rabbitmq_definitions.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DEFINITIONS.write_text(wanted)
    print(f"wrote {DEFINITIONS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
