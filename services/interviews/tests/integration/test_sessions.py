"""Interview sessions: quota exact under concurrency and across the week boundary, BOLA,
forward-only status, failure refunds, validation of answers, projection rebuild."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from contracts import PlanUpgraded, SessionFailed, SessionReady, SessionScored
from contracts.events import AnswerResult
from interviews.adapters.sessions_view import SessionsView
from interviews.domain.session import InterviewSession
from servicekit.eventstore import rebuild
from servicekit.testing import eventually


def user() -> str:
    return str(uuid.uuid4())


async def start(h: Any, user_id: str, kind: str = "coding", **extra: Any) -> Any:
    return await h.start(user_id, kind, **extra)


async def wait_status(h: Any, user_id: str, session_id: str, status: str) -> dict[str, Any]:
    return await h.wait_status(user_id, session_id, status)


async def make_ready(h: Any, user_id: str, session_id: str) -> dict[str, Any]:
    return await h.make_ready(user_id, session_id)


async def test_fifty_simultaneous_requests_from_a_free_user_make_exactly_two(
    harness_on_own_server: Any,
) -> None:
    harness = harness_on_own_server
    alice = user()
    responses = await asyncio.gather(*(start(harness, alice) for _ in range(50)))
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 2, codes
    assert codes.count(429) == 48, codes
    denied = next(r for r in responses if r.status_code == 429)
    assert denied.json()["code"] == "quota_exceeded"
    retry_after = int(denied.headers["retry-after"])
    resets = datetime.fromisoformat(denied.json()["resets_at"])
    assert abs((resets - harness.clock()).total_seconds() - retry_after) <= 1
    listed = (await harness.client.get("/interviews", headers=harness.auth(alice))).json()
    assert listed["total"] == 2
    quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota | {"resets_at": None} == {
        "weekly_limit": 2,
        "used": 2,
        "remaining": 0,
        "resets_at": None,
        "plan": "free",
    }


async def test_quota_resets_at_the_iso_week_boundary(harness: Any) -> None:
    harness.clock.now = datetime(2026, 11, 29, 23, 59, 58, tzinfo=UTC)  # Sunday
    bob = user()
    first_week = await asyncio.gather(*(start(harness, bob) for _ in range(10)))
    codes = [r.status_code for r in first_week]
    assert codes.count(202) == 2 and codes.count(429) == 8, [r.text[:200] for r in first_week]
    denied = next(r for r in first_week if r.status_code == 429)
    assert denied.headers["retry-after"] == "2"
    harness.clock.now = datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)  # Monday 00:00 UTC
    second_week = await asyncio.gather(*(start(harness, bob) for _ in range(10)))
    codes = [r.status_code for r in second_week]
    assert codes.count(202) == 2 and codes.count(429) == 8, [r.text[:200] for r in second_week]
    weeks = {
        s["quota_week"]
        for s in (await harness.client.get("/interviews", headers=harness.auth(bob))).json()[
            "items"
        ]
    }
    assert weeks == {"2026-W48", "2026-W49"}


async def test_an_upgrade_raises_the_limit_within_seconds(harness: Any) -> None:
    carol = user()
    assert [(await start(harness, carol)).status_code for _ in range(3)] == [202, 202, 429]
    await harness.publish(
        PlanUpgraded(
            user_id=carol, plan="premium", weekly_limit=20, effective_at=datetime.now(UTC)
        ),
        carol,
    )

    async def premium() -> bool:
        quota = (await harness.client.get("/internal/quota", headers=harness.auth(carol))).json()
        return quota["weekly_limit"] == 20

    await eventually(premium, message="premium limit")
    assert (await start(harness, carol)).status_code == 202


async def test_other_users_get_404_and_admins_get_the_session(harness: Any) -> None:
    alice, mallory, admin = user(), user(), user()
    session = (await start(harness, alice)).json()
    sid = session["id"]
    for method, path, body in (
        ("GET", f"/interviews/{sid}", None),
        ("POST", f"/interviews/{sid}/submit", {"answers": [{"question_id": "x", "response": "y"}]}),
        ("GET", f"/internal/sessions/{sid}/history", None),
    ):
        response = await harness.client.request(
            method, path, json=body, headers=harness.auth(mallory)
        )
        missing = await harness.client.request(
            method, path.replace(sid, str(uuid.uuid4())), json=body, headers=harness.auth(mallory)
        )
        assert response.status_code == missing.status_code == 404, (path, response.text)
        assert response.json()["code"] == missing.json()["code"] == "not_found"
        assert response.json()["detail"] == missing.json()["detail"]
    as_admin = await harness.client.get(f"/interviews/{sid}", headers=harness.auth(admin, "admin"))
    assert as_admin.status_code == 200 and as_admin.json()["user_id"] == alice
    mine = (await harness.client.get("/interviews", headers=harness.auth(mallory))).json()
    assert mine["total"] == 0


async def test_candidates_never_see_hidden_tests(harness: Any) -> None:
    alice = user()
    session = (await start(harness, alice, "mixed", question_count=4)).json()
    kinds = sorted(q["kind"] for q in session["questions"])
    assert kinds == ["behavioral", "behavioral", "coding", "coding"]
    text = str(session)
    for question in session["questions"]:
        if question["kind"] == "coding":
            assert "tests" not in question and question["examples"]
    assert "reference_solutions" not in text and "sample_answer" not in text
    assert session["status"] == "queued"


async def test_forward_only_status_and_answer_rules(harness: Any) -> None:
    alice = user()
    started = await start(harness, alice, "mixed", question_count=2)
    assert started.status_code == 202
    assert started.headers["location"] == f"/interviews/{started.json()['id']}"
    session = started.json()
    sid = session["id"]
    coding = next(q for q in session["questions"] if q["kind"] == "coding")
    talk = next(q for q in session["questions"] if q["kind"] == "behavioral")
    good = {
        "answers": [
            {
                "question_id": coding["question_id"],
                "response": "def f(): pass",
                "language": "python",
            },
            {"question_id": talk["question_id"], "response": "In my last team I ..."},
        ]
    }
    early = await harness.client.post(
        f"/interviews/{sid}/submit", json=good, headers=harness.auth(alice)
    )
    assert early.status_code == 409 and early.json()["code"] == "not_ready"

    await make_ready(harness, alice, sid)
    bad_cases = {
        "unknown question": [{"question_id": "nope", "response": "x"}],
        "duplicate": [good["answers"][1], good["answers"][1]],
        "too long": [{"question_id": talk["question_id"], "response": "x" * 20_001}],
        "unsupported language": [
            {"question_id": coding["question_id"], "response": "x", "language": "cobol"}
        ],
        "language on a behavioural answer": [
            {"question_id": talk["question_id"], "response": "x", "language": "python"}
        ],
    }
    for label, answers in bad_cases.items():
        response = await harness.client.post(
            f"/interviews/{sid}/submit", json={"answers": answers}, headers=harness.auth(alice)
        )
        assert response.status_code == 422, label
        assert response.json()["code"] == "validation_error", label

    accepted = await harness.client.post(
        f"/interviews/{sid}/submit", json=good, headers=harness.auth(alice)
    )
    assert accepted.status_code == 202 and accepted.json()["status"] == "scoring"
    retry = await harness.client.post(
        f"/interviews/{sid}/submit", json=good, headers=harness.auth(alice)
    )
    assert retry.status_code == 202  # a client retry of the same answers
    different = await harness.client.post(
        f"/interviews/{sid}/submit",
        json={"answers": good["answers"][:1]},
        headers=harness.auth(alice),
    )
    assert different.status_code == 409 and different.json()["code"] == "already_submitted"

    # a late SessionReady cannot move the session back
    await harness.publish(
        SessionReady(
            session_id=sid, user_id=alice, introduction="again", ready_at=datetime.now(UTC)
        ),
        sid,
        version=5,
    )
    await harness.publish(
        SessionScored(
            session_id=sid,
            user_id=alice,
            overall_score=72,
            scored_at=datetime.now(UTC),
            results=(
                AnswerResult(question_id=coding["question_id"], score=80),
                AnswerResult(question_id=talk["question_id"], score=64),
            ),
        ),
        sid,
        version=3,
    )
    done = await wait_status(harness, alice, sid, "completed")
    assert [h["status"] for h in done["history"]] == ["queued", "ready", "scoring", "completed"]
    assert [h["sequence"] for h in done["history"]] == sorted(
        h["sequence"] for h in done["history"]
    )
    assert done["overall_score"] == 72 and done["transcript_url"] == f"/interviews/{sid}/transcript"


async def test_failed_session_gives_the_quota_back_once(harness: Any) -> None:
    alice = user()
    first = (await start(harness, alice)).json()["id"]
    assert (await start(harness, alice)).status_code == 202
    assert (await start(harness, alice)).status_code == 429
    failed = SessionFailed(
        session_id=first,
        user_id=alice,
        stage="scoring",
        reason="The model provider kept timing out.",
        failed_at=datetime.now(UTC),
    )
    envelope = await harness.publish(failed, first)
    await harness.publish(failed, first, envelope=envelope)  # redelivered
    done = await wait_status(harness, alice, first, "failed")
    assert done["failure_reason"] == "The model provider kept timing out."

    async def one_back() -> bool:
        quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
        return quota["used"] == 1

    await eventually(one_back, message="quota returned")
    # a second, different failure report for the same session changes nothing
    await harness.publish(
        SessionFailed(
            session_id=first,
            user_id=alice,
            stage="deadline",
            reason="late",
            failed_at=datetime.now(UTC),
        ),
        first,
    )
    await asyncio.sleep(0.5)
    quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota["used"] == 1 and quota["remaining"] == 1 and quota["warning"]
    assert (await start(harness, alice)).status_code == 202
    assert (await start(harness, alice)).status_code == 429


async def test_stuck_sessions_fail_after_the_deadline_and_refund(harness: Any) -> None:
    alice = user()
    sid = (await start(harness, alice)).json()["id"]
    harness.clock.advance(seconds=harness.app.state.interviews.settings.queued_deadline_seconds + 1)
    assert await harness.app.state.interviews.expire_stuck() >= 1
    body = (await harness.client.get(f"/interviews/{sid}", headers=harness.auth(alice))).json()
    assert body["status"] == "failed" and "credit has been returned" in body["failure_reason"]
    quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota["used"] == 0


async def test_a_stuck_session_is_failed_once_by_its_one_deadline_owner(harness: Any) -> None:
    """Interviews' watchdog calls the use case itself (no envelope made up to look like the AI
    runner's report): two replicas' watchdogs at once fail the session once, with
    interviews' reason, and give the credit back once."""
    alice = user()
    sid = (await start(harness, alice)).json()["id"]
    interviews = harness.app.state.interviews
    harness.clock.advance(seconds=interviews.settings.queued_deadline_seconds + 1)
    await asyncio.gather(interviews.expire_stuck(), interviews.expire_stuck())
    events = [e.event() for e in await harness.rt.store.load(sid)]
    failures = [e for e in events if e.event_type == "SessionFailed"]
    assert len(failures) == 1 and failures[0].stage == "deadline"
    assert "could not prepare this interview in time" in failures[0].reason
    quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota["used"] == 0
    assert await interviews.expire_stuck() == 0  # nothing left stuck


async def test_sessions_projection_rebuilt_from_the_stream_gives_identical_api_output(
    harness: Any,
) -> None:
    alice = user()
    ids = [(await start(harness, alice, kind)).json()["id"] for kind in ("coding", "behavioral")]
    await make_ready(harness, alice, ids[0])
    before = [
        (await harness.client.get(f"/interviews/{i}", headers=harness.auth(alice))).json()
        for i in ids
    ]
    listing = (await harness.client.get("/interviews", headers=harness.auth(alice))).json()
    view = SessionsView(harness.rt.db)
    assert await rebuild(view, harness.rt.store, InterviewSession.aggregate_type) > 0
    after = [
        (await harness.client.get(f"/interviews/{i}", headers=harness.auth(alice))).json()
        for i in ids
    ]
    assert after == before
    assert (await harness.client.get("/interviews", headers=harness.auth(alice))).json() == listing


async def test_a_rescore_keeps_the_session_completed_and_both_scores(harness: Any) -> None:
    alice = user()
    session = (await start(harness, alice, "behavioral", question_count=1)).json()
    sid, qid = session["id"], session["questions"][0]["question_id"]
    await make_ready(harness, alice, sid)
    answers = {"answers": [{"question_id": qid, "response": "I did the thing."}]}
    assert (
        await harness.client.post(
            f"/interviews/{sid}/submit", json=answers, headers=harness.auth(alice)
        )
    ).status_code == 202
    for version, score in ((3, 40), (5, 55)):
        await harness.publish(
            SessionScored(
                session_id=sid,
                user_id=alice,
                overall_score=score,
                scored_at=datetime.now(UTC),
                results=(AnswerResult(question_id=qid, score=score),),
            ),
            sid,
            version=version,
        )
        await eventually(
            lambda s=score: _score_is(harness, alice, sid, s), message=f"score {score}"
        )
    body = (await harness.client.get(f"/interviews/{sid}", headers=harness.auth(alice))).json()
    assert body["status"] == "completed"
    assert [h["overall_score"] for h in body["score_history"]] == [40, 55]
    assert [h["status"] for h in body["history"]] == ["queued", "ready", "scoring", "completed"]


async def _score_is(h: Any, user_id: str, session_id: str, score: int) -> bool:
    body = (await h.client.get(f"/interviews/{session_id}", headers=h.auth(user_id))).json()
    return bool(body.get("overall_score") == score)
