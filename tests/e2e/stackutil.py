"""Helpers for the e2e tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, message: str = "condition") -> Any:
    """Poll `probe` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{message} not met within {timeout}s (last: {last!r})")
