"""`make run`'s launcher from the outside: it starts everything (its own Mongo-wire server,
since MONGO_URI is unset), prints the gateway URL, serves the walking skeleton, stops cleanly
on Ctrl-C, and a second start finds the same users."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from stackutil import REPO, delete_queues_with_prefix

pytestmark = pytest.mark.e2e


class Launcher:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "scripts" / "devstack.py"),
                "run",
                "--auto-ports",
                "--data-dir",
                str(data_dir),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def gateway_url(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = re.search(r"Gateway: (http://\S+)", line)
                if match:
                    return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("no gateway URL printed:\n" + "\n".join(self.lines[-40:]))

    def interrupt(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code


def test_make_run_starts_everything_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "NO_COLOR")}
    env |= {"EVENTS_EXCHANGE": f"mi.events.run{tag}", "QUEUE_PREFIX": f"run{tag}.", "NO_COLOR": "1"}
    email = f"run-{tag}@example.com"
    password = "Launch-stack-1"
    try:
        first = Launcher(tmp_path, env)
        try:
            url = first.gateway_url()
            assert any("API docs: " + url + "/docs" in line for line in first.lines)
            with httpx.Client(base_url=url, timeout=10) as client:
                assert (
                    client.post(
                        "/auth/register", json={"name": "Run", "email": email, "password": password}
                    ).status_code
                    == 201
                )
                token = client.post(
                    "/auth/login", json={"email": email, "password": password}
                ).json()["access_token"]
                deadline = time.monotonic() + 20
                body: dict[str, Any] = {}
                while time.monotonic() < deadline:
                    body = client.get(
                        "/billing/subscription", headers={"authorization": f"Bearer {token}"}
                    ).json()
                    if body.get("status") == "active":
                        break
                    time.sleep(0.1)
                assert body.get("status") == "active", body
            # every line a service printed is prefixed with its name
            assert any(line.startswith("[gateway") for line in first.lines)
            # the welcome mail reached the local SMTP catcher, whose folder was printed
            assert any(f"Mail: {tmp_path / 'mail'}" in line for line in first.lines)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                email in p.read_text() for p in (tmp_path / "mail").glob("*.eml")
            ):
                time.sleep(0.1)
            assert any(email in p.read_text() for p in (tmp_path / "mail").glob("*.eml"))
        finally:
            code = first.interrupt()
        assert code == 0, "\n".join(first.lines[-30:])
        assert any("stopped" in line for line in first.lines[-5:])

        second = Launcher(tmp_path, env)
        try:
            url = second.gateway_url()
            with httpx.Client(base_url=url, timeout=10) as client:
                again = client.post("/auth/login", json={"email": email, "password": password})
                assert again.status_code == 200, again.text
        finally:
            assert second.interrupt() == 0
    finally:
        delete_queues_with_prefix(f"run{tag}.")
