"""A candidate's journeys through the web app in a real Chromium, against the platform as
`make run` starts it (gateway serving web/dist). Every page visited is photographed at
desktop and phone width (.artifacts/screenshots/<journey>/) and audited by axe-core."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from browserkit import DESKTOP, REPO, Journey, chromium, mailed_link
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

BANK = REPO / "services" / "interviews" / "src" / "interviews" / "bank" / "coding"
PASSWORD = "Lantern-Harbour-73"
# the field, not the "Verify your email address" notice (its title also labels it)
EMAIL_FIELD = re.compile(r"^Email")
STORY = (
    "Last spring our checkout service missed its latency target two weeks before a launch. "
    "As the on-call lead I had to find the cause and get p99 under 300 ms. I profiled the hot "
    "path, found an N+1 query in the pricing module, and I rewrote it as one batched query. I "
    "also added a cache with a five-minute TTL and wrote a load test to prove it. The p99 "
    "dropped from 900 ms to 210 ms and we launched on time with 12% more conversions. I learned "
    "to add performance budgets to code review, and next time I would load test earlier."
)


ACCESS_TTL = 30


@pytest.fixture(scope="module")
def isolated_env(isolated_env: dict[str, str]) -> dict[str, str]:
    # access tokens live 30 s here, so a journey sees one expire (and every page lives through
    # refreshes while the journeys click through it)
    return isolated_env | {"JWT_ACCESS_TTL_SECONDS": str(ACCESS_TTL)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def reference_solution(title: str) -> tuple[str, str]:
    """The bank's Python reference solution and function name of the question titled so."""
    for path in BANK.glob("*.json"):
        doc = json.loads(path.read_text())
        if doc["title"] == title:
            return doc["reference_solutions"]["python"], doc["function_name"]
    raise AssertionError(f"no coding question titled {title!r} in the bank")


def type_code(page: Page, section: Any, code: str) -> None:
    editor = section.get_by_role("textbox", name=re.compile("^Code for"))
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # inserted as one edit (not key by key), so the editor's auto-indent leaves it as is
    page.keyboard.insert_text(code)


def sign_up(page: Page, base: str, journey: Journey, name: str) -> str:
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    journey.visit("sign in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    journey.visit("sign up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return email


def start_interview(page: Page, kind: str, count: int, minutes: int | None = None) -> None:
    page.get_by_role("link", name="New interview").first.click()
    expect(page.get_by_role("heading", name="Start an interview")).to_be_visible()
    radio = page.get_by_role("radio", name=kind)
    page.locator(f'label[for="{radio.get_attribute("id")}"]').click()
    expect(radio).to_be_checked()
    page.get_by_label("Number of questions").fill(str(count))
    if minutes is not None:
        page.get_by_label("Timed interview").check(force=True)
        page.get_by_label("Time limit (minutes)").fill(str(minutes))
    page.get_by_role("button", name="Start", exact=True).click()


def test_register_interview_report_upgrade_and_a_third_interview(stack: Any, page: Page) -> None:
    base = stack.gateway_url
    journey = Journey(page, "candidate")
    sign_up(page, base, journey, "Grace Hopper")
    expect(page.get_by_text("2 of 2 interviews left")).to_be_visible()
    expect(page.get_by_text("No interviews yet")).to_be_visible()
    journey.visit("dashboard, new account")

    # --- a mixed interview: one coding and one behavioural question
    start_interview(page, "Mixed", 2)
    page.wait_for_url(re.compile(r"/room/"))
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible(timeout=30_000)
    room_url = page.url
    coding = page.locator("section").filter(has=page.get_by_text("coding", exact=True)).first
    behavioural = (
        page.locator("section").filter(has=page.get_by_text("behavioural", exact=True)).first
    )
    title = coding.get_by_role("heading").inner_text().split(". ", 1)[1]
    solution, function = reference_solution(title)
    expect(coding.get_by_role("textbox", name=re.compile("^Code for"))).to_contain_text(
        f"def {function}"
    )
    journey.visit("interview room")

    # run the examples with code that fails them, then with code that passes
    type_code(page, coding, f"def {function}(*args):\n    return None\n")
    coding.get_by_role("button", name="Run examples").click()
    result = coding.get_by_test_id("run-result")
    expect(result).to_contain_text(re.compile(r"^0 of \d+ examples passed"))
    expect(result.get_by_text("wrong answer").first).to_be_visible()
    journey.visit("examples failing")
    type_code(page, coding, solution)
    coding.get_by_role("button", name="Run examples").click()
    expect(result).to_contain_text(re.compile(r"^(\d+) of \1 examples passed"))
    journey.visit("examples passing")

    # the behavioural answer: typed, saved as a draft, found again after a reload
    answer = behavioural.get_by_label("Your answer")
    answer.fill(STORY)
    expect(behavioural.get_by_text(re.compile(r"^\d+ words"))).to_contain_text(
        str(len(STORY.split()))
    )
    answer.blur()
    expect(page.get_by_test_id("save-state")).to_contain_text("Draft saved", timeout=15_000)
    page.reload()
    expect(page.get_by_label("Your answer")).to_have_value(STORY)
    expect(page.get_by_role("textbox", name=re.compile("^Code for"))).to_contain_text(
        solution.splitlines()[1].strip()
    )
    journey.visit("room after reload, draft restored")

    # submit, and watch the status change live to completed
    page.get_by_role("button", name="Submit answers").click()
    dialog = page.get_by_role("dialog", name="Submit your answers?")
    expect(dialog).to_be_visible()
    journey.visit("confirm submit")
    dialog.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_test_id("live-state")).to_contain_text(re.compile("scoring|completed"))
    expect(page.get_by_role("link", name="Read your report")).to_be_visible(timeout=90_000)
    journey.visit("scored")

    # the report: a score, bars, quoted evidence marked inside the answer, test verdicts
    page.get_by_role("link", name="Read your report").click()
    expect(page.get_by_role("heading", name="Interview report")).to_be_visible()
    expect(page.get_by_test_id("overall-score")).to_have_text(re.compile(r"^\d{1,3}$"))
    expect(page.locator("mark").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Tests: (\d+) of \1 passed"))).to_be_visible()
    expect(page.get_by_role("progressbar").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the transcript").click()
    assert STORY[:60] in Path(download.value.path()).read_text()
    journey.visit("report")

    # history lists it; the dashboard shows one interview used
    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_role("cell", name="completed")).to_be_visible()
    journey.visit("history")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_text("1 of 2 interviews left")).to_be_visible()

    # the second free interview, then the third is refused with the reset time
    start_interview(page, "Behavioural", 1)
    page.wait_for_url(re.compile(r"/room/"))
    assert page.url != room_url
    start_interview(page, "Behavioural", 1)
    refusal = page.get_by_role("alert").filter(has_text="used this week's interviews")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text(re.compile(r"Monday"))
    journey.visit("quota used up")

    # upgrade through the local checkout's Pay page, back to the plan page
    refusal.get_by_role("link", name="Upgrade to premium").click()
    expect(page.get_by_test_id("plan-name")).to_have_text("free")
    journey.visit("plan, free")
    page.get_by_role("button", name="Upgrade to premium").click()
    page.wait_for_url(re.compile(r"/billing/local-checkout/"))
    journey.visit("local checkout", audit=False)  # billing's page, not the app's
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    page.get_by_role("link", name="Back to practising").click()
    page.wait_for_url(re.compile(r"/billing\?checkout=success"))
    expect(page.get_by_test_id("plan-name")).to_have_text("premium", timeout=30_000)
    journey.visit("plan, premium")

    # a third interview in the same week is accepted now; timed, it counts down
    start_interview(page, "Behavioural", 1, minutes=5)
    page.wait_for_url(re.compile(r"/room/"), timeout=20_000)
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"^[45]:\d\d left$"), timeout=30_000)
    shown = timer.inner_text()
    expect(timer).not_to_have_text(shown, timeout=5_000)  # it ticks
    journey.visit("timed interview")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(
        page.get_by_text(re.compile(r"17 of 20 interviews left|of 20 interviews left"))
    ).to_be_visible()
    journey.visit("dashboard, premium")

    # cancel: premium stays until the period ends
    page.get_by_role("link", name="Plan").first.click()
    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("dialog", name="Cancel your subscription?")
    dialog.get_by_role("button", name="Cancel subscription").click()
    expect(page.get_by_test_id("renewal")).to_contain_text("Cancelled: premium stays until")
    expect(page.get_by_test_id("plan-name")).to_have_text("premium")
    journey.visit("subscription cancelled at period end")

    page.goto(base + "/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    journey.visit("not found")
    journey.assert_quiet_console()


def test_account_wrong_password_change_password_and_delete(stack: Any, page: Page) -> None:
    base = stack.gateway_url
    journey = Journey(page, "account")
    email = sign_up(page, base, journey, "Ada Lovelace")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill("Not-The-Password-1")
    page.get_by_role("button", name="Sign in").click()
    # the problem's detail, next to the field and announced with it
    expect(page.get_by_label("Password")).to_have_accessible_description(
        "Check the email and password and try again."
    )
    journey.visit("wrong password")
    # the right one signs in, to the page that was asked for: with the keyboard only
    page.goto(base + "/history")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fhistory"))
    page.get_by_label(EMAIL_FIELD).focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_text("No interviews yet")).to_be_visible()
    journey.visit("history, empty")

    # two more tabs opened at once each trade the same refresh cookie for a token: one at a
    # time (else the second use of the cookie looks like theft and signs the login out)
    tabs = [page.context.new_page() for _ in range(2)]
    for tab in tabs:
        tab.goto(base + "/dashboard", wait_until="commit")
    for tab in tabs:
        expect(tab.get_by_role("heading", name="Dashboard")).to_be_visible()
        tab.close()
    page.reload()
    expect(page.get_by_role("heading", name="History")).to_be_visible()

    # change the password: a wrong current one is refused at its field
    page.get_by_role("link", name="Account").first.click()
    section = page.get_by_role("region", name="Change password")
    section.get_by_label("Current password").fill("Not-The-Password-1")
    section.get_by_label("New password").fill("Another-Lighthouse-58")
    section.get_by_role("button", name="Change password").click()
    expect(section.get_by_label("Current password")).to_have_accessible_description(
        re.compile(".+")
    )
    journey.visit("password change refused")
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_label("New password").fill("Another-Lighthouse-58")
    section.get_by_role("button", name="Change password").click()
    expect(section.get_by_role("status")).to_contain_text("Password changed")
    journey.visit("password changed")

    # which emails: a switch flipped is saved, and still off after a reload
    emails = page.get_by_role("region", name="Emails")
    receipts = emails.get_by_role("switch", name="Receipts and payments")
    expect(receipts).to_be_checked()
    receipts.click()
    expect(emails.get_by_role("status")).to_contain_text("Saved")
    expect(receipts).not_to_be_checked()
    journey.visit("email settings")
    page.reload()
    expect(emails.get_by_role("switch", name="Receipts and payments")).not_to_be_checked()
    expect(emails.get_by_role("switch", name="Report ready")).to_be_checked()

    # delete the account, confirmed by typing; the old password no longer signs in
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("dialog", name="Delete your account?")
    expect(dialog.get_by_role("button", name="Delete for good")).to_be_disabled()
    dialog.get_by_label('Type "delete" to confirm').fill("delete")
    journey.visit("confirm deletion")
    dialog.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill("Another-Lighthouse-58")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_have_accessible_description(
        "Check the email and password and try again."
    )
    journey.assert_quiet_console()


def test_verify_the_email_and_reset_a_forgotten_password(stack: Any, page: Page) -> None:
    base = stack.gateway_url
    journey = Journey(page, "recovery")
    email = sign_up(page, base, journey, "Hedy Lamarr")
    reminder = page.get_by_role("alert").filter(has_text="Verify your email address")
    expect(reminder).to_be_visible()
    journey.visit("dashboard, email not verified")

    # the mailed link, opened in the browser, verifies the address
    page.goto(mailed_link(Path(stack.mail_dir), email, "verify_email", "verify-email"))
    expect(page.get_by_role("status")).to_contain_text("Your email address is verified")
    journey.visit("email verified")
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(reminder).to_have_count(0)

    # forgotten password: the same answer for any address; the mailed link sets a new one
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to choose a new password")
    journey.visit("forgot password sent")
    page.goto(mailed_link(Path(stack.mail_dir), email, "password_reset", "reset-password"))
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Change password").click()
    # what to do, not pydantic's "String should have at least 10 characters"
    expect(page.get_by_label("New password")).to_have_accessible_description(
        "Use at least 10 characters."
    )
    journey.visit("reset refused by the policy")
    page.get_by_label("New password").fill("Radio-Frequency-Hop-42")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    journey.visit("password reset")
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill("Radio-Frequency-Hop-42")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # the welcome mail's unsubscribe link, signed out: opening it changes nothing, the
    # button turns every kind off; the account page shows it
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(mailed_link(Path(stack.mail_dir), email, "welcome", "unsubscribe"))
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    journey.visit("unsubscribe asked")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("status")).to_contain_text("You will no longer get these emails")
    journey.visit("unsubscribed")
    page.get_by_role("link", name="Choose which emails you get").click()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill("Radio-Frequency-Hop-42")
    page.get_by_role("button", name="Sign in").click()
    emails = page.get_by_role("region", name="Emails")
    for kind in ("Report ready", "Last interview of the week", "Receipts and payments"):
        expect(emails.get_by_role("switch", name=kind)).not_to_be_checked()
    journey.assert_quiet_console()


def grant_admin(stack: Any, email: str) -> None:
    """What `make admin EMAIL=...` runs, against this stack."""
    cli = subprocess.run(
        [sys.executable, "-m", "auth.cli", "admin", email],
        env=os.environ | stack.environment("auth"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr


def completed_session(base: str, email: str) -> str:
    """A scored behavioural interview of this account, made through the API."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        started = client.post(
            "/interviews", json={"type": "behavioral", "question_count": 1}, headers=auth
        )
        assert started.status_code == 202, started.text
        sid = started.json()["id"]
        deadline = time.monotonic() + 60
        while (session := client.get(f"/interviews/{sid}", headers=auth).json())[
            "status"
        ] == "queued":
            assert time.monotonic() < deadline, session
            time.sleep(0.2)
        answers = [{"question_id": q["id"], "response": STORY} for q in session["questions"]]
        submitted = client.post(
            f"/interviews/{sid}/submit", json={"answers": answers}, headers=auth
        )
        assert submitted.status_code == 202, submitted.text
        while client.get(f"/interviews/{sid}", headers=auth).json()["status"] != "completed":
            assert time.monotonic() < deadline, "not scored in time"
            time.sleep(0.2)
        return sid


def test_admin_stats_question_bank_and_rescore(stack: Any, page: Page) -> None:
    base = stack.gateway_url
    journey = Journey(page, "admin")
    email = sign_up(page, base, journey, "Frances Allen")
    assert page.get_by_role("link", name="Admin: stats").count() == 0
    grant_admin(stack, email)
    sid = completed_session(base, email)
    # the role is in the token: sign in again to act as an administrator
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label(EMAIL_FIELD).fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Admin: stats").click()
    expect(page.get_by_role("heading", name="Platform statistics")).to_be_visible()
    expect(page.get_by_text(re.compile("users", re.I)).first).to_be_visible()
    journey.visit("admin stats")

    # re-score a session
    page.get_by_label("Session id").fill(sid)
    page.get_by_role("button", name="Re-score").click()
    expect(page.get_by_role("status").filter(has_text="Re-scoring")).to_contain_text(sid)
    journey.visit("rescore accepted")

    # the question bank: a coding question whose reference fails its own tests is refused
    page.get_by_role("link", name="Admin: questions").click()
    expect(page.get_by_role("heading", name="Question bank")).to_be_visible()
    expect(page.get_by_role("cell", name="Binary Search")).to_be_visible()
    journey.visit("question bank")
    doc = json.loads((BANK / "binary-search.json").read_text())
    doc["id"] = f"binary-search-{uuid.uuid4().hex[:6]}"
    doc["title"] = "Binary Search, again"
    good = doc["reference_solutions"]["python"]
    doc["reference_solutions"]["python"] = good.replace("return mid", "return mid + 1")
    page.get_by_role("button", name="New question").click()
    editor = page.get_by_label("Question document (JSON)")
    editor.fill(json.dumps(doc))
    page.get_by_role("button", name="Save", exact=True).click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_be_visible()
    expect(refusal).not_to_contain_text("Saved")
    journey.visit("question refused")
    doc["reference_solutions"]["python"] = good
    editor.fill(json.dumps(doc))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text(doc["id"])
    journey.visit("question saved")
    journey.assert_quiet_console()


class BrokenModelProvider:
    """A model provider that refuses every call (Gemini's 400 INVALID_ARGUMENT), on a local
    port: the AI runner pointed at it fails the sessions it prepares."""

    def __init__(self) -> None:
        class Refuse(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.dumps(
                    {"error": {"code": 400, "message": "Bad request", "status": "INVALID_ARGUMENT"}}
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_faults_a_dropped_stream_a_failed_session_and_an_expired_token(
    stack: Any, page: Page
) -> None:
    base = stack.gateway_url
    journey = Journey(page, "faults")
    refreshes: list[float] = []
    page.on(
        "request",
        lambda r: refreshes.append(time.monotonic()) if r.url.endswith("/auth/refresh") else None,
    )
    sign_up(page, base, journey, "Katherine Johnson")
    signed_in_at = time.monotonic()

    # the status stream drops (the gateway restarts) while the candidate answers
    start_interview(page, "Behavioural", 1)
    page.wait_for_url(re.compile(r"/room/"))
    expect(page.get_by_label("Your answer")).to_be_visible(timeout=30_000)
    live = page.get_by_test_id("live-state")
    expect(live).to_contain_text("live")
    # stopped first, and started only once the page says so: a restart that completes before
    # the browser notices would leave nothing to see
    stack.kill("gateway", signal.SIGTERM)
    expect(live).to_contain_text("reconnecting")
    journey.visit("stream dropped", audit=False)
    stack.restart("gateway")
    expect(live).to_contain_text("live", timeout=30_000)
    page.get_by_label("Your answer").fill(STORY)
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("dialog").get_by_role("button", name="Submit", exact=True).click()
    # the restored stream carries the rest: scoring, then completed, with no reload
    expect(page.get_by_role("link", name="Read your report")).to_be_visible(timeout=90_000)
    journey.visit("scored over the restored stream")

    # a session that fails: the model provider refuses; the reason shows, the credit returns
    provider = BrokenModelProvider()
    try:
        stack.restart(
            "ai-runner",
            env={"AI_API_KEY": "test-key", "AI_BASE_URL": provider.url, "AI_MAX_ATTEMPTS": "1"},
        )
        start_interview(page, "Behavioural", 1)
        page.wait_for_url(re.compile(r"/room/"))
        failure = page.get_by_role("alert").filter(has_text="could not be finished")
        expect(failure).to_be_visible(timeout=60_000)
        expect(failure).to_contain_text(
            re.compile("credit (it used was given back|has been returned)")
        )
        journey.visit("session failed")
    finally:
        stack.restart("ai-runner", env={})
        provider.close()
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_text("1 of 2 interviews left")).to_be_visible()
    expect(page.get_by_role("cell", name="failed")).to_be_visible()
    journey.visit("dashboard after a failure")

    # the access token (ACCESS_TTL in this stack) runs out; the next request refreshes it
    # once, through the httpOnly cookie, and the page loads without asking to sign in again
    left = ACCESS_TTL + 6 - (time.monotonic() - signed_in_at)
    if left > 0:
        page.wait_for_timeout(left * 1000)
    before = len(refreshes)
    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_role("cell", name="completed")).to_be_visible()
    assert len(refreshes) >= before + 1 or any(t > signed_in_at + ACCESS_TTL for t in refreshes)
    assert "/signin" not in page.url
    journey.visit("history after the token expired")
    journey.assert_quiet_console()
