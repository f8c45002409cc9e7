"""The candidate's working endpoints: drafts (If-Match), example runs in the sandbox, timed
interviews submitted from the draft at the deadline, and progress over scored sessions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import SessionScored
from contracts.events import AnswerResult, DimensionScore
from interviews.adapters.bank import load_seed
from interviews.adapters.sessions_view import SessionsView
from interviews.domain.session import InterviewSession
from servicekit.eventstore import rebuild
from servicekit.testing import assert_no_hidden_tests

BANK = {q.id: q for q in load_seed()}


def user() -> str:
    return str(uuid.uuid4())


async def start(h: Any, owner: str, kind: str, **extra: Any) -> Any:
    return await h.start(owner, kind, **extra)


async def wait_status(h: Any, owner: str, sid: str, status: str) -> dict[str, Any]:
    return await h.wait_status(owner, sid, status)


async def make_ready(h: Any, owner: str, sid: str) -> dict[str, Any]:
    return await h.make_ready(owner, sid)


async def ready_session(h: Any, owner: str, kind: str = "coding", **extra: Any) -> dict[str, Any]:
    started = await start(h, owner, kind, question_count=1, **extra)
    assert started.status_code == 202, started.text
    return await make_ready(h, owner, started.json()["id"])


async def put_draft(
    h: Any, owner: str, sid: str, answers: list[dict[str, Any]], version: int | None = None
) -> Any:
    headers = h.auth(owner) | ({"if-match": f'"{version}"'} if version is not None else {})
    return await h.client.put(
        f"/interviews/{sid}/draft", json={"answers": answers}, headers=headers
    )


async def test_drafts_are_saved_over_only_the_version_read(harness: Any) -> None:
    alice = user()
    session = await ready_session(harness, alice, "behavioral")
    sid, qid = session["id"], session["questions"][0]["question_id"]
    first = await put_draft(harness, alice, sid, [{"question_id": qid, "response": "At my last"}])
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.headers["etag"] == '"1"'
    # a reload (or another device) finds it in the session
    body = (await harness.client.get(f"/interviews/{sid}", headers=harness.auth(alice))).json()
    assert body["draft"]["answers"][0]["response"] == "At my last" and body["draft"]["version"] == 1

    second = await put_draft(
        harness, alice, sid, [{"question_id": qid, "response": "At my last job"}], 1
    )
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = await put_draft(harness, alice, sid, [{"question_id": qid, "response": "old tab"}], 1)
    assert stale.status_code == 412 and stale.json()["code"] == "stale_draft"
    assert stale.json()["current_version"] == 2
    blind = await put_draft(harness, alice, sid, [{"question_id": qid, "response": "blind"}])
    assert blind.status_code == 428 and blind.json()["code"] == "draft_version_required"
    body = (await harness.client.get(f"/interviews/{sid}", headers=harness.auth(alice))).json()
    assert body["draft"]["answers"][0]["response"] == "At my last job"  # nothing overwritten

    for label, answers, status in (
        ("unknown question", [{"question_id": "nope", "response": "x"}], 422),
        ("too long", [{"question_id": qid, "response": "x" * 20_001}], 422),
        (
            "language on behavioural",
            [{"question_id": qid, "response": "x", "language": "python"}],
            422,
        ),
    ):
        response = await put_draft(harness, alice, sid, answers, 2)
        assert response.status_code == status, (label, response.text)
    bad_etag = await harness.client.put(
        f"/interviews/{sid}/draft",
        json={"answers": []},
        headers=harness.auth(alice) | {"if-match": "*x"},
    )
    assert bad_etag.status_code == 422
    other = await put_draft(harness, user(), sid, [], 2)
    assert other.status_code == 404 and other.json()["code"] == "not_found"

    submitted = await harness.client.post(
        f"/interviews/{sid}/submit",
        json={"answers": [{"question_id": qid, "response": "At my last job I led the migration."}]},
        headers=harness.auth(alice),
    )
    assert submitted.status_code == 202
    late = await put_draft(harness, alice, sid, [], 2)
    assert late.status_code == 409 and late.json()["code"] == "already_submitted"


async def test_a_time_limit_out_of_range_is_422(harness: Any) -> None:
    for minutes in (0, 4, 241, "ten"):
        response = await harness.start(user(), "behavioral", time_limit_minutes=minutes)
        assert response.status_code == 422, (minutes, response.text)
        assert response.json()["code"] == "validation_error"


async def test_a_draft_before_the_questions_are_ready_is_409(harness: Any) -> None:
    alice = user()
    sid = (await start(harness, alice, "behavioral", question_count=1)).json()["id"]
    early = await put_draft(harness, alice, sid, [])
    assert early.status_code == 409 and early.json()["code"] == "not_ready"


async def test_run_examples_runs_only_the_visible_examples_in_the_sandbox(harness: Any) -> None:
    alice = user()
    session = await ready_session(harness, alice, "coding")
    sid, question = session["id"], session["questions"][0]
    qid, bank = question["question_id"], BANK[question["question_id"]]
    quota_before = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    visible = [t for t in bank.tests if t.visible]

    wrong = await harness.client.post(
        f"/interviews/{sid}/run",
        json={
            "question_id": qid,
            "language": "python",
            "code": f"def {bank.function_name}(*a):\n    return 'not-the-answer'\n",
        },
        headers=harness.auth(alice),
    )
    assert wrong.status_code == 200, wrong.text
    body = wrong.json()
    assert body["total"] == len(visible) and len(body["examples"]) == len(visible)
    assert body["passed"] < body["total"]
    failing = next(e for e in body["examples"] if e["verdict"] != "accepted")
    assert failing["expected"] is not None and failing["detail"]
    assert failing["got"] == '"not-the-answer"'
    assert_no_hidden_tests(wrong.content, [bank], "a run's answer")

    right = await harness.client.post(
        f"/interviews/{sid}/run",
        json={"question_id": qid, "language": "python", "code": bank.reference_solutions["python"]},
        headers=harness.auth(alice),
    )
    assert right.status_code == 200 and right.json()["passed"] == len(visible), right.text

    printed = await harness.client.post(
        f"/interviews/{sid}/run",
        json={
            "question_id": qid,
            "language": "python",
            "code": f"import sys\ndef {bank.function_name}(*a):\n"
            "    print('looking at', len(a), 'arguments'); print('oops', file=sys.stderr)\n",
        },
        headers=harness.auth(alice),
    )
    outputs = [e["output"] or "" for e in printed.json()["examples"]]
    assert all("looking at" in o and "oops" in o for o in outputs), printed.text
    assert {e["verdict"] for e in right.json()["examples"]} == {"accepted"}

    hostile = await harness.client.post(
        f"/interviews/{sid}/run",
        json={
            "question_id": qid,
            "language": "python",
            "code": f"import socket\ndef {bank.function_name}(*a):\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=1)\n",
        },
        headers=harness.auth(alice),
    )
    assert hostile.status_code == 200
    assert {e["verdict"] for e in hostile.json()["examples"]} == {"runtime_error"}

    quota_after = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota_after["used"] == quota_before["used"]
    for label, payload, who, status in (
        ("other user", {"question_id": qid, "language": "python", "code": "x"}, user(), 404),
        ("bad language", {"question_id": qid, "language": "cobol", "code": "x"}, alice, 422),
        (
            "unknown question",
            {"question_id": "nope", "language": "python", "code": "x"},
            alice,
            422,
        ),
        ("empty code", {"question_id": qid, "language": "python", "code": ""}, alice, 422),
        ("too long", {"question_id": qid, "language": "python", "code": "x" * 20_001}, alice, 422),
    ):
        response = await harness.client.post(
            f"/interviews/{sid}/run", json=payload, headers=harness.auth(who)
        )
        assert response.status_code == status, (label, response.text)
        assert response.headers["content-type"] == "application/problem+json", label


async def test_a_run_outside_a_ready_session_is_409(harness: Any) -> None:
    alice = user()
    started = (await start(harness, alice, "coding", question_count=1)).json()
    qid = started["questions"][0]["question_id"]
    early = await harness.client.post(
        f"/interviews/{started['id']}/run",
        json={"question_id": qid, "language": "python", "code": "def f(): pass"},
        headers=harness.auth(alice),
    )
    assert early.status_code == 409 and early.json()["code"] == "not_ready"


async def test_runs_beyond_the_slots_and_queue_are_refused_with_429(harness: Any) -> None:
    runner = harness.app.state.example_runner
    alice = user()
    session = await ready_session(harness, alice, "coding")
    sid, qid = session["id"], session["questions"][0]["question_id"]
    bank = BANK[qid]
    slow = f"import time\ndef {bank.function_name}(*a):\n    time.sleep(0.5)\n"
    runner._queue = 0  # no queue: only the slots
    runner._slots = asyncio.Semaphore(1)
    answers = await asyncio.gather(
        *(
            harness.client.post(
                f"/interviews/{sid}/run",
                json={"question_id": qid, "language": "python", "code": slow},
                headers=harness.auth(alice),
            )
            for _ in range(3)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 200 and 429 in codes, codes
    busy = next(a for a in answers if a.status_code == 429)
    assert busy.json()["code"] == "run_busy" and busy.headers["retry-after"]


async def test_a_timed_interview_submits_the_saved_draft_once_at_the_deadline(
    harness: Any,
) -> None:
    alice = user()
    session = await ready_session(harness, alice, "behavioral", time_limit_minutes=10)
    sid, qid = session["id"], session["questions"][0]["question_id"]
    assert session["time_limit_minutes"] == 10
    ready_at = datetime.fromisoformat(session["history"][-1]["at"])
    assert datetime.fromisoformat(session["deadline_at"]) == ready_at + timedelta(minutes=10)
    story = "I rebuilt the release process and cut failed deploys by half."
    assert (
        await put_draft(harness, alice, sid, [{"question_id": qid, "response": story}])
    ).status_code == 200

    interviews = harness.app.state.interviews
    assert await interviews.submit_overdue() == 0  # not yet
    harness.clock.advance(minutes=10, seconds=1)
    results = await asyncio.gather(interviews.submit_overdue(), interviews.submit_overdue())
    assert sum(results) >= 1
    body = await wait_status(harness, alice, sid, "scoring")
    assert body["answers"] == [{"question_id": qid, "response": story, "language": None}]
    assert body["submitted_automatically"] is True
    events = [e.event_type for e in await harness.rt.store.load(sid)]
    assert events.count("AnswersSubmitted") == 1
    assert await interviews.submit_overdue() == 0


async def test_a_timed_interview_with_nothing_saved_fails_and_gives_the_credit_back(
    harness: Any,
) -> None:
    alice = user()
    session = await ready_session(harness, alice, "behavioral", time_limit_minutes=5)
    sid, qid = session["id"], session["questions"][0]["question_id"]
    await put_draft(harness, alice, sid, [{"question_id": qid, "response": "   "}])
    harness.clock.advance(minutes=6)
    assert await harness.app.state.interviews.submit_overdue() == 1
    body = await wait_status(harness, alice, sid, "failed")
    assert "time limit passed" in body["failure_reason"] and "credit" in body["failure_reason"]
    quota = (await harness.client.get("/internal/quota", headers=harness.auth(alice))).json()
    assert quota["used"] == 0


async def test_progress_by_competency_dimension_and_question_rebuilds_identically(
    harness: Any,
) -> None:
    alice = user()
    scored: list[tuple[str, str]] = []
    for score in (40, 70):
        session = await ready_session(harness, alice, "behavioral")
        sid, qid = session["id"], session["questions"][0]["question_id"]
        submitted = await harness.client.post(
            f"/interviews/{sid}/submit",
            json={"answers": [{"question_id": qid, "response": "I led it and it worked."}]},
            headers=harness.auth(alice),
        )
        assert submitted.status_code == 202
        await harness.publish(
            SessionScored(
                session_id=sid,
                user_id=alice,
                overall_score=score,
                scored_at=datetime.now(UTC),
                results=(
                    AnswerResult(
                        question_id=qid,
                        score=score,
                        dimensions=(
                            DimensionScore(dimension="action", score=score),
                            DimensionScore(dimension="result", score=score - 10),
                        ),
                    ),
                ),
            ),
            sid,
            version=3,
        )
        await wait_status(harness, alice, sid, "completed")
        scored.append((sid, qid))
    progress = await harness.client.get("/user/me/progress", headers=harness.auth(alice))
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["sessions_completed"] == 2
    action = next(d for d in body["dimensions"] if d["name"] == "action")
    assert sum(w["answers"] for w in action["weeks"]) == 2
    assert action["weeks"][-1]["average"] == 55.0
    assert body["competencies"] and all(c["kind"] == "competency" for c in body["competencies"])
    by_question = {q["question_id"]: q for q in body["questions"]}
    for (_, qid), score in zip(scored, (40, 70), strict=True):
        assert by_question[qid]["best"] >= score
    # nobody else's sessions count
    empty = (await harness.client.get("/user/me/progress", headers=harness.auth(user()))).json()
    assert empty == {"sessions_completed": 0, "competencies": [], "dimensions": [], "questions": []}
    # the sessions read model rebuilt from the stream gives the same progress
    await rebuild(SessionsView(harness.rt.db), harness.rt.store, InterviewSession.aggregate_type)
    again = (await harness.client.get("/user/me/progress", headers=harness.auth(alice))).json()
    assert again == body


async def test_without_the_sandbox_coding_interviews_are_refused_up_front(
    isolation: dict[str, Any], mint: Any
) -> None:
    from interviews.main import create_app
    from interviews.settings import Settings
    from servicekit.testing import running

    app = create_app(Settings(**isolation, judge_bwrap_path="/nonexistent/bwrap"))
    app.state.verifier = mint.verifier()
    async with running(app, ready_timeout=60) as client:
        alice = user()
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["degraded_without"]["sandbox"] is False
        assert "coding and mixed interviews are refused" in ready["skipped"]["sandbox"]
        for kind in ("coding", "mixed"):
            refused = await client.post(
                "/interviews", json={"type": kind}, headers=mint.headers(alice)
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "coding_unavailable"
            assert "Behavioural interviews work" in refused.json()["detail"]
        quota = (await client.get("/internal/quota", headers=mint.headers(alice))).json()
        assert quota["used"] == 0  # nothing taken for a refusal
        talk = await client.post(
            "/interviews", json={"type": "behavioral"}, headers=mint.headers(alice)
        )
        assert talk.status_code == 202
