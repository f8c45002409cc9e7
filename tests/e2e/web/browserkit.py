"""What the browser journeys share: Debian's Chromium driven by Playwright, a screenshot of
every page at desktop and phone width, and axe-core's audit of each page."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[3]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("WEB_SCREENSHOTS", REPO / ".artifacts" / "screenshots"))
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
# the flags a headless Chromium needs on a machine without a network beyond its own
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        raise RuntimeError(
            "Chromium is not installed: the browser journeys drive Debian's chromium "
            "(scripts/ensure-browser.sh installs it as root; `make test` runs it)."
        )
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Journey:
    """One journey's pages: each visit is photographed at both widths and audited."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.dir = SHOTS / name
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.count = 0
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))

    def _console(self, message: Any) -> None:
        # a refused request is the page's business (its 401/404/429 are shown to the user);
        # anything else written to the console as an error is a defect, CSP refusals included
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.console_errors.append(message.text)

    def visit(self, label: str, audit: bool = True) -> None:
        """Photograph the page as it is now (desktop, then phone width) and audit it."""
        self.count += 1
        stem = f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}"
        page = self.page
        # not "networkidle": the interview room holds its status stream open
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # transitions end
        # from the top: a full-page capture of a scrolled page draws the fixed header where
        # the viewport was, across the middle of the page
        scrolled = page.evaluate("window.scrollY")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=self.dir / f"{stem}-desktop.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(250)  # the layout settles (the navbar collapses)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=self.dir / f"{stem}-phone.png", full_page=True)
        page.set_viewport_size(DESKTOP)
        page.evaluate(f"window.scrollTo(0, {scrolled})")
        assert width <= PHONE["width"] + 1, (
            f"{label}: the page scrolls sideways at 375 px ({width})"
        )
        if audit:
            serious = axe_violations(page)
            assert not serious, f"{label}: axe found {json.dumps(serious, indent=1)[:3000]}"

    def assert_quiet_console(self) -> None:
        assert not self.console_errors, self.console_errors


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return list(result)


def mailed_link(mail_dir: Path, address: str, kind: str, page: str, timeout: float = 30) -> str:
    """The link to `page` in the newest mail of `kind` to `address` that the stack's SMTP
    catcher kept (one .eml file a message)."""
    from stackutil import mailed, text_of  # tests/e2e, on the path from its conftest

    text = text_of(mailed(mail_dir, address, kind, timeout))
    found = re.search(rf"https?://\S+/{re.escape(page)}\?token=\S+", text)
    assert found, f"no link to /{page} in the {kind} mail:\n{text}"
    return found.group(0)
