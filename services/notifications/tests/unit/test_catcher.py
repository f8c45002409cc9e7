"""The local SMTP catcher `make run` starts: every message it takes is a .eml file."""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from servicekit.testing import eventually, free_port


async def test_the_catcher_writes_each_message_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "mail"
    catcher = subprocess.Popen(
        [sys.executable, "-m", "notifications.catcher", "--port", str(port), "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        message = EmailMessage()
        message["From"] = "no-reply@mock-interviews.local"
        message["To"] = "ada@example.com"
        message["Subject"] = "Your interview report is ready: 73/100"
        message["X-Mail-Kind"] = "report_ready"
        message.set_content("Hello Ada, read it at http://127.0.0.1:8000/report/s-1.")

        async def sent() -> bool:
            try:
                await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=2)
            except (aiosmtplib.SMTPException, OSError):
                return False
            return True

        await eventually(sent, interval=0.1, message="the catcher took the message")
        (eml,) = await eventually(
            lambda: asyncio.to_thread(lambda: list(folder.glob("*.eml"))),
            message="a .eml file",
        )
        kept = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert kept["Subject"] == "Your interview report is ready: 73/100"
        assert "Hello Ada" in kept.get_content()
        # `make mail`: what arrived, with the links a newcomer opens
        listed = subprocess.run(
            [sys.executable, "-m", "notifications.catcher", "--list", str(folder)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "to ada@example.com  [report_ready]" in listed
        assert "  Your interview report is ready: 73/100" in listed
        assert (
            "  http://127.0.0.1:8000/report/s-1." not in listed
        )  # the full stop is not the link's
        assert "  http://127.0.0.1:8000/report/s-1\n" in listed
    finally:
        catcher.terminate()
        assert catcher.wait(10) == 0
