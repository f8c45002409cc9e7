"""A local SMTP catcher for `make run`: accepts every message and writes it, as it arrived,
to `<dir>/<time>-<n>.eml` (open it with any mail client). Never for production: it relays
nothing and asks for no login.

    python -m notifications.catcher --port 1025 --dir .data/mail
    python -m notifications.catcher --list .data/mail     # what arrived, newest last (`make mail`)
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any


class MailFolder:
    """aiosmtpd handler: each DATA becomes one .eml file (written whole, then renamed in,
    so a reader never sees half a message)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._n = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{os.getpid()}-{next(self._n):05d}.eml"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        partial = self.folder / f".{name}.part"
        partial.write_bytes(data)
        partial.replace(self.folder / name)
        print(
            f"mail from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: {name}",
            flush=True,
        )
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    from aiosmtpd.controller import Controller  # a development tool: not in the service image

    controller = Controller(MailFolder(folder), hostname=host, port=port)
    controller.start()
    print(f"SMTP catcher listening on {host}:{port}, mail in {folder}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        controller.stop()


LINK = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)]")  # not a sentence's full stop


def listing(folder: Path, last: int = 20) -> list[str]:
    """The newest `last` mails in `folder`, oldest first: when, to whom, what, and the links
    in the text part (what a newcomer opens to verify an address or reset a password)."""
    lines = []
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.name)[-last:]
    for path in paths:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        lines.append(f"{message['Date']}  to {message['To']}  [{message['X-Mail-Kind']}]")
        lines.append(f"  {message['Subject']}")
        body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body is not None else ""
        lines += [f"  {link}" for link in dict.fromkeys(LINK.findall(text))]
        lines.append(f"  file: {path}")
    if not paths:
        lines.append(f"no mail in {folder} yet")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notifications.catcher", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, help="where .eml files are written")
    parser.add_argument("--list", type=Path, metavar="DIR", help="list the mail in DIR and exit")
    parser.add_argument("--last", type=int, default=20, help="with --list: how many")
    args = parser.parse_args(argv)
    if args.list is not None:
        print("\n".join(listing(args.list, args.last)))
        return 0
    if args.dir is None:
        parser.error("--dir is required to serve")
    asyncio.run(serve(args.host, args.port, args.dir.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
