"""Helpers for the e2e tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def delete_queues_with_prefix(prefix: str) -> None:
    try:
        listing = subprocess.run(
            ["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        for name in listing.split():
            if name.startswith(prefix):
                subprocess.run(
                    ["rabbitmqctl", "delete_queue", name], capture_output=True, timeout=60
                )
    except (OSError, subprocess.SubprocessError):
        pass  # leftovers are harmless: prefixed names are never reused
