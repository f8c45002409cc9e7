"""A candidate's journeys through the web app in a real Chromium, against the platform as
`make run` starts it (gateway serving web/dist). Every page visited is photographed at
desktop and phone width (.artifacts/screenshots/<journey>/) and audited by axe-core."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import DESKTOP, REPO, Journey, chromium
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

BANK = REPO / "services" / "interviews" / "src" / "interviews" / "bank" / "coding"
PASSWORD = "Lantern-Harbour-73"
STORY = (
    "Last spring our checkout service missed its latency target two weeks before a launch. "
    "As the on-call lead I had to find the cause and get p99 under 300 ms. I profiled the hot "
    "path, found an N+1 query in the pricing module, and I rewrote it as one batched query. I "
    "also added a cache with a five-minute TTL and wrote a load test to prove it. The p99 "
    "dropped from 900 ms to 210 ms and we launched on time with 12% more conversions. I learned "
    "to add performance budgets to code review, and next time I would load test earlier."
)


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
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    journey.visit("sign up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return email


def start_interview(page: Page, kind: str, count: int) -> None:
    page.get_by_role("link", name="New interview").first.click()
    expect(page.get_by_role("heading", name="Start an interview")).to_be_visible()
    radio = page.get_by_role("radio", name=kind)
    page.locator(f'label[for="{radio.get_attribute("id")}"]').click()
    expect(radio).to_be_checked()
    page.get_by_label("Number of questions").fill(str(count))
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

    # a third interview in the same week is accepted now
    start_interview(page, "Behavioural", 1)
    page.wait_for_url(re.compile(r"/room/"), timeout=20_000)
    expect(page.get_by_role("heading", name="Interview")).to_be_visible()
    page.get_by_role("link", name="Dashboard").first.click()
    expect(
        page.get_by_text(re.compile(r"17 of 20 interviews left|of 20 interviews left"))
    ).to_be_visible()
    journey.visit("dashboard, premium")
    journey.assert_quiet_console()


def test_wrong_password_is_shown_at_the_password_field(stack: Any, page: Page) -> None:
    base = stack.gateway_url
    journey = Journey(page, "wrong-password")
    email = sign_up(page, base, journey, "Ada Lovelace")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("Not-The-Password-1")
    page.get_by_role("button", name="Sign in").click()
    password = page.get_by_label("Password")
    # the problem's detail, next to the field and announced with it
    expect(password).to_have_accessible_description("Check the email and password and try again.")
    journey.visit("wrong password")
    # and the right one signs in, to the page asked for
    page.goto(base + "/history")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fhistory"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    journey.assert_quiet_console()
