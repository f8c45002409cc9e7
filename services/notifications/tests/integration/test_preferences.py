"""What mail a user gets: the account page's switches (GET/PUT /user/me/notifications) and
the one-click unsubscribe link of a mail, which works signed out (RFC 8058)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from contracts import UserRegistered
from notificationstest import Harness, parts
from servicekit.testing import eventually

ALL_ON = {"report_ready": True, "session_failed": True, "quota_reached": True, "billing": True}


def link_token(message: object) -> str:
    link = str(message["List-Unsubscribe"]).strip("<>")  # type: ignore[index]
    (token,) = parse_qs(urlsplit(link).query)["token"]
    return token


async def suppressed(harness: Harness, user_id: str, purpose: str) -> dict[str, object]:
    async def found() -> dict[str, object] | None:
        doc: dict[str, object] | None = await harness.db["deliveries"].find_one(
            {"user_id": user_id, "purpose": purpose, "status": "suppressed"}
        )
        return doc

    return await eventually(found, message=f"{purpose} suppressed")


async def test_a_user_reads_and_changes_which_mail_they_get(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    headers = harness.mint.headers(user_id)

    got = await harness.http.get("/user/me/notifications", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json() == ALL_ON

    put = await harness.http.put(
        "/user/me/notifications", json={"report_ready": False}, headers=headers
    )
    assert put.status_code == 200, put.text
    assert put.json() == ALL_ON | {"report_ready": False}
    again = await harness.http.get("/user/me/notifications", headers=headers)
    assert again.json() == ALL_ON | {"report_ready": False}

    # a report no longer mails; a failed session (another kind) still does
    scored = await harness.publish(harness.scored(user_id), str(uuid.uuid4()))
    failed = await harness.publish(harness.failed(user_id), str(uuid.uuid4()))
    await harness.delivery(failed, "session_failed", status="sent")
    row = await harness.delivery(scored, "report_ready", status="suppressed")
    assert "report_ready" in row["reason"]
    subjects = [m["Subject"] for m in harness.smtp.to(address)]
    assert not any("report is ready" in s for s in subjects), subjects


async def test_preferences_refuse_strangers_and_unknown_kinds(harness: Harness) -> None:
    assert (await harness.http.get("/user/me/notifications")).status_code == 401
    headers = harness.mint.headers(str(uuid.uuid4()))
    bad = await harness.http.put(
        "/user/me/notifications", json={"newsletter": False}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    wrong_type = await harness.http.put(
        "/user/me/notifications", json={"billing": "maybe"}, headers=headers
    )
    assert wrong_type.status_code == 422


async def test_preferences_set_before_the_address_arrives_keep_and_mail_still_goes(
    harness: Harness,
) -> None:
    user_id = str(uuid.uuid4())
    put = await harness.http.put(
        "/user/me/notifications", json={"billing": False}, headers=harness.mint.headers(user_id)
    )
    assert put.json() == ALL_ON | {"billing": False}
    # UserRegistered comes after: the welcome goes out and the switch stays off
    address = f"u{uuid.uuid4().hex[:10]}@example.com"
    await harness.publish(
        UserRegistered(
            user_id=user_id, email=address, name="Grace", registered_at=datetime.now(UTC)
        ),
        user_id,
    )
    await harness.smtp.received(address)
    got = await harness.http.get("/user/me/notifications", headers=harness.mint.headers(user_id))
    assert got.json()["billing"] is False


async def test_the_one_click_link_of_a_report_mail_stops_that_kind_only(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    await harness.publish(harness.scored(user_id), str(uuid.uuid4()))
    _welcome, report = await harness.smtp.received(address, count=2)
    token = link_token(report)

    # what a mail client sends for List-Unsubscribe-Post (RFC 8058): no cookie, no token
    answer = await harness.http.post(
        f"/notifications/unsubscribe?token={token}",
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["kinds"] == ["report_ready"]
    assert "report ready" in answer.json()["detail"]
    # pressing it twice is harmless
    assert (await harness.http.post(f"/notifications/unsubscribe?token={token}")).status_code == 200

    second = await harness.publish(harness.scored(user_id), str(uuid.uuid4()))
    await harness.delivery(second, "report_ready", status="suppressed")
    failed = await harness.publish(harness.failed(user_id), str(uuid.uuid4()))
    await harness.delivery(failed, "session_failed", status="sent")
    assert len(harness.smtp.to(address)) == 3  # welcome, the first report, the failure
    got = await harness.http.get("/user/me/notifications", headers=harness.mint.headers(user_id))
    assert got.json() == ALL_ON | {"report_ready": False}


async def test_the_welcome_mails_link_turns_everything_off_from_the_web_page(
    harness: Harness,
) -> None:
    user_id, address = await harness.register()
    (welcome,) = await harness.smtp.received(address)
    text, _html = parts(welcome)
    assert "Choose which emails you get: http://127.0.0.1:8000/settings" in text
    # the web page's confirm button posts the token as JSON
    answer = await harness.http.post(
        "/notifications/unsubscribe", json={"token": link_token(welcome)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["kinds"] == ["report_ready", "session_failed", "quota_reached", "billing"]
    got = await harness.http.get("/user/me/notifications", headers=harness.mint.headers(user_id))
    assert got.json() == dict.fromkeys(ALL_ON, False)
    await harness.publish(harness.failed(user_id), str(uuid.uuid4()))
    await suppressed(harness, user_id, "session_failed")


async def test_a_forged_or_missing_unsubscribe_token_is_refused(harness: Harness) -> None:
    user_id, address = await harness.register()
    (welcome,) = await harness.smtp.received(address)
    token = link_token(welcome)
    body, _, mac = token.partition(".")
    other = f"{body[:-2]}xx.{mac}"
    for bad in (other, "garbage", token + "a"):
        answer = await harness.http.post("/notifications/unsubscribe", json={"token": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["code"] == "invalid_token"
    missing = await harness.http.post("/notifications/unsubscribe")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_token"
    got = await harness.http.get("/user/me/notifications", headers=harness.mint.headers(user_id))
    assert got.json() == ALL_ON


async def test_a_deleted_accounts_preferences_are_gone(harness: Harness) -> None:
    user_id, address = await harness.register()
    (welcome,) = await harness.smtp.received(address)
    await harness.delete(user_id)

    async def gone() -> bool:
        doc = await harness.db["recipients"].find_one({"_id": user_id})
        return bool(doc and doc.get("deleted"))

    await eventually(gone, message="tombstone")
    headers = harness.mint.headers(user_id)
    assert (await harness.http.get("/user/me/notifications", headers=headers)).status_code == 404
    put = await harness.http.put("/user/me/notifications", json={"billing": False}, headers=headers)
    assert put.status_code == 404
    # an old link still answers, and brings nothing back
    late = await harness.http.post(
        "/notifications/unsubscribe", json={"token": link_token(welcome)}
    )
    assert late.status_code == 200
    doc = await harness.db["recipients"].find_one({"_id": user_id})
    assert "email" not in doc and "name" not in doc
