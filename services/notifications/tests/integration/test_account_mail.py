"""Account-security mail: the password-reset and verification links arrive with the token
auth issued, without an unsubscribe link, even before the welcome's UserRegistered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from contracts.events import EmailVerificationRequested, PasswordResetRequested
from notificationstest import Harness, parts
from servicekit.testing import eventually


def _link(text: str, page: str) -> str:
    (line,) = [line for line in text.splitlines() if f"/{page}?" in line]
    return line.strip()


async def test_the_reset_mail_carries_a_working_link_and_no_unsubscribe(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    token = "tok-" + uuid.uuid4().hex
    event = PasswordResetRequested(
        user_id=user_id,
        email=address,
        name="Ada Lovelace",
        token=token,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    envelope = await harness.publish(event, user_id)
    await harness.publish_again(envelope)  # one mail however often it comes

    await harness.delivery(envelope, "password_reset", status="sent")
    _welcome, reset = await harness.smtp.received(address, count=2)
    assert len(harness.smtp.to(address)) == 2
    assert reset["Subject"] == "Reset your Mock Interviews password"
    # account security mail ignores preferences and offers no unsubscribe
    assert reset["List-Unsubscribe"] is None and reset["List-Unsubscribe-Post"] is None
    text, html = parts(reset)
    link = _link(text, "reset-password")
    parsed = urlsplit(link)
    assert f"{parsed.scheme}://{parsed.netloc}" == "http://127.0.0.1:8000"
    assert parsed.path == "/reset-password"
    assert parse_qs(parsed.query)["token"] == [token]
    assert f'href="{link}"' in html
    assert "30 minutes" in text and "unsubscribe" not in text.lower()


async def test_a_verification_mail_needs_no_welcome_first(harness: Harness) -> None:
    user_id = str(uuid.uuid4())
    address = f"v{uuid.uuid4().hex[:10]}@example.com"
    event = EmailVerificationRequested(
        user_id=user_id,
        email=address,
        name="Grace Hopper",
        token="verify-me",
        expires_at=datetime.now(UTC) + timedelta(hours=24),
    )
    envelope = await harness.publish(event, user_id)
    await harness.delivery(envelope, "verify_email", status="sent")
    (mail,) = await harness.smtp.received(address)
    text, _html = parts(mail)
    assert _link(text, "verify-email") == "http://127.0.0.1:8000/verify-email?token=verify-me"
    assert "24 hours" in text and mail["List-Unsubscribe"] is None


async def test_a_deleted_account_gets_no_reset_mail(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    await harness.delete(user_id)

    async def forgotten() -> bool:
        doc = await harness.db["recipients"].find_one({"_id": user_id})
        return bool(doc and doc.get("deleted"))

    await eventually(forgotten, message="the deletion consumed")
    late = PasswordResetRequested(
        user_id=user_id,
        email=address,
        name="Ada Lovelace",
        token="late",
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    envelope = await harness.publish(late, user_id)
    await harness.delivery(envelope, "password_reset", status="cancelled")
    assert len(harness.smtp.to(address)) == 1  # the welcome only


async def test_a_registration_seen_after_the_deletion_is_consumed_and_mails_nothing(
    harness: Harness,
) -> None:
    from contracts import UserRegistered
    from notificationstest import consumed

    user_id = str(uuid.uuid4())
    address = f"late{uuid.uuid4().hex[:8]}@example.com"
    await harness.delete(user_id)

    async def tombstone() -> bool:
        doc = await harness.db["recipients"].find_one({"_id": user_id})
        return bool(doc and doc.get("deleted"))

    await eventually(tombstone, message="the deletion consumed")
    handled_before = consumed("UserRegistered", "handled")
    late = UserRegistered(
        user_id=user_id, email=address, name="Late", registered_at=datetime.now(UTC)
    )
    await harness.publish(late, user_id)

    async def handled() -> bool:
        return consumed("UserRegistered", "handled") > handled_before

    await eventually(handled, message="the late registration consumed")
    assert (await harness.db["recipients"].find_one({"_id": user_id}))["deleted"] is True
    assert await harness.db["deliveries"].count_documents({"user_id": user_id}) == 0
