"""Mail a user would notice: one welcome, one report mail per scored session however often
the event comes (and with two replicas), mail that waits out a dead SMTP server, nothing
after an account is deleted, names that stay text in the HTML, and addresses the server
refuses for good."""

from __future__ import annotations

import pytest
from notificationstest import Harness, consumed, parts
from servicekit.metrics import REGISTRY
from servicekit.testing import eventually


def mails(metric: str, kind: str) -> float:
    return REGISTRY.get_sample_value(f"notifications_mail_{metric}_total", {"kind": kind}) or 0.0


async def test_a_new_user_is_welcomed_and_the_html_keeps_their_name_as_text(
    harness: Harness,
) -> None:
    user_id, address = await harness.register(name="<script>alert(1)</script> Bob")

    (welcome,) = await harness.smtp.received(address)
    text, html = parts(welcome)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bob" in html
    assert "Hello <script>alert(1)</script> Bob," in text  # plain text is not HTML
    assert welcome["To"].addresses[0].addr_spec == address
    # one-click unsubscribe (RFC 8058) on everything but account security mail
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(welcome["List-Unsubscribe"])
    assert link.startswith("<http://127.0.0.1:8000/notifications/unsubscribe?token=")
    # on the wire as a plain <URL> a mail client can follow, not RFC 2047 encoded words
    assert any(f"List-Unsubscribe: {link}\r\n".encode() in raw for raw in harness.smtp.handler.raw)
    # the mail's own link opens the web page, which asks first (the same token)
    page = link.strip("<>").replace("/notifications/unsubscribe?", "/unsubscribe?")
    assert f"Unsubscribe from these emails: {page}" in text
    assert f'href="{page.replace("&", "&amp;")}"' in html

    stored = await harness.db["recipients"].find_one({"_id": user_id})
    assert stored["email"] == address and stored["name"].endswith("Bob")


async def test_a_score_delivered_five_times_sends_one_report_mail(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    sent_before = mails("sent", "report_ready")
    duplicates_before = consumed("SessionScored", "duplicate")

    event = harness.scored(user_id, score=73)
    envelope = await harness.publish(event, event.session_id)
    for _ in range(4):  # a relay that crashed before marking it sent, and replays
        await harness.publish_again(envelope)

    async def all_seen() -> bool:
        return consumed("SessionScored", "duplicate") - duplicates_before >= 4

    await eventually(all_seen, message="the four copies consumed")
    await harness.delivery(envelope, "report_ready", status="sent")
    _welcome, report = await harness.smtp.received(address, count=2)
    assert len(harness.smtp.to(address)) == 2
    assert await harness.db["deliveries"].count_documents({"user_id": user_id}) == 2
    assert mails("sent", "report_ready") - sent_before == 1

    assert report["Subject"] == "Your interview report is ready: 73/100"
    text, html = parts(report)
    link = f"http://127.0.0.1:8000/report/{event.session_id}"
    assert link in text and f'href="{link}"' in html
    assert "73/100" in text


@pytest.mark.parametrize("replicas", [2])
async def test_two_replicas_send_one_mail_per_event(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    event = harness.failed(user_id)
    envelope = await harness.publish(event, event.session_id)
    for _ in range(4):
        await harness.publish_again(envelope)

    await harness.delivery(envelope, "session_failed", status="sent")
    _welcome, failed = await harness.smtp.received(address, count=2)
    assert "could not be scored" in failed["Subject"]
    text, _ = parts(failed)
    assert "The scoring model did not answer in time." in text
    assert "credit it used has been given back" in text

    async def copies_consumed() -> bool:
        total = consumed("SessionFailed", "duplicate") + consumed("SessionFailed", "handled")
        return total >= 5

    await eventually(copies_consumed, message="five copies consumed")
    assert len(harness.smtp.to(address)) == 2


async def test_mail_waits_out_a_dead_smtp_server_and_goes_once_it_is_back(
    harness: Harness,
) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    failed_before = mails("failed", "report_ready")

    harness.smtp.stop()
    event = harness.scored(user_id, score=41)
    envelope = await harness.publish(event, event.session_id)
    pending = await harness.delivery(
        envelope, "report_ready", status="pending", attempts=lambda n: (n or 0) >= 2
    )
    assert "Connect" in pending["last_error"] or "refused" in pending["last_error"]
    assert mails("failed", "report_ready") - failed_before >= 2

    harness.smtp.start()
    _, report = await harness.smtp.received(address, count=2)
    assert report["Subject"] == "Your interview report is ready: 41/100"
    sent = await harness.delivery(envelope, "report_ready", status="sent")
    assert sent["attempts"] >= 3


@pytest.mark.parametrize("settings_overrides", [{"mail_max_attempts": 3}])
async def test_mail_is_parked_with_the_reason_after_the_last_attempt(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    parked_before = mails("parked", "session_failed")

    harness.smtp.stop()
    event = harness.failed(user_id)
    envelope = await harness.publish(event, event.session_id)
    parked = await harness.delivery(envelope, "session_failed", status="parked")
    assert parked["attempts"] == 3
    assert parked["reason"].startswith("gave up after 3 attempts")
    assert mails("parked", "session_failed") - parked_before == 1


async def test_nothing_more_is_sent_once_the_account_is_deleted(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)

    # a report mail still waiting for the SMTP server when the account goes
    harness.smtp.stop()
    waiting = harness.scored(user_id)
    waiting_envelope = await harness.publish(waiting, waiting.session_id)
    await harness.delivery(waiting_envelope, "report_ready", attempts=lambda n: (n or 0) >= 1)
    await harness.delete(user_id)
    await harness.delivery(waiting_envelope, "report_ready", status="cancelled")
    harness.smtp.start()

    # and a later event for the deleted user asks for nothing that goes out
    later = harness.failed(user_id)
    later_envelope = await harness.publish(later, later.session_id)
    await harness.delivery(later_envelope, "session_failed", status="cancelled")

    forgotten = await harness.db["recipients"].find_one({"_id": user_id})
    assert forgotten["deleted"] is True
    assert "email" not in forgotten and "name" not in forgotten

    # someone else's mail goes out after both: the sender had its chance at the first user's
    _, other = await harness.register()
    await harness.smtp.received(other)
    assert len(harness.smtp.to(address)) == 1  # the welcome only


async def test_an_address_the_server_refuses_for_good_is_not_mailed_again(
    harness: Harness,
) -> None:
    parked_before = mails("parked", "welcome")
    user_id, address = await harness.register(refused=True)

    recipient = await eventually(
        lambda: harness.db["recipients"].find_one(
            {"_id": user_id, "undeliverable": {"$exists": 1}}
        ),
        message="address marked undeliverable",
    )
    assert recipient["undeliverable"].startswith("550")
    welcome = await harness.db["deliveries"].find_one({"user_id": user_id, "purpose": "welcome"})
    assert welcome["status"] == "parked" and "550" in welcome["reason"]
    assert mails("parked", "welcome") - parked_before == 1

    event = harness.scored(user_id)
    envelope = await harness.publish(event, event.session_id)
    suppressed = await harness.delivery(envelope, "report_ready", status="suppressed")
    assert "550" in suppressed["reason"]
    assert harness.smtp.to(address) == []


def test_an_unsubscribe_token_names_its_user_and_kind_and_cannot_be_forged() -> None:
    from notifications.domain.mail import read_unsubscribe_token, unsubscribe_token

    token = unsubscribe_token("k1", "user-1", "report_ready")
    assert read_unsubscribe_token("k1", token) == ("user-1", "report_ready")
    assert read_unsubscribe_token("k2", token) is None
    mac = token.partition(".")[2]
    other = unsubscribe_token("k1", "user-2", "report_ready").partition(".")[0]
    assert read_unsubscribe_token("k1", f"{other}.{mac}") is None
    assert read_unsubscribe_token("k1", "garbage") is None
