"""interviews' HTTP API (through the gateway): sessions, answers, the question bank."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from contracts.api import (
    DraftRequest,
    RunRequest,
    StartInterviewRequest,
    StatusFrame,
    SubmitRequest,
)
from contracts.events import Answer, Difficulty
from contracts.views import candidate_question, candidate_result
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from servicekit.identity import CurrentUser, Forbidden, Principal
from servicekit.problems import DomainError

from interviews.app.examples import ExampleRunner
from interviews.app.questions import QuestionAdmin
from interviews.app.sessions import Interviews
from interviews.domain.questions import public_view

router = APIRouter()


def _interviews(request: Request) -> Interviews:
    interviews: Interviews = request.app.state.interviews
    return interviews


def _utc_dates(doc: dict[str, Any]) -> dict[str, Any]:
    """The store hands datetimes back without a zone; they are UTC."""
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in doc.items()
    }


def draft_out(draft: dict[str, Any] | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    saved_at = _utc_dates(draft)["saved_at"]
    return {
        "answers": draft["answers"],
        "version": draft["version"],
        "saved_at": saved_at.isoformat() if hasattr(saved_at, "isoformat") else saved_at,
    }


def session_out(doc: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, Any]:
    out = _utc_dates({k: v for k, v in doc.items() if k not in ("_id", "version", "usage")})
    out["draft"] = draft_out(draft)
    out["id"] = doc["_id"]
    # stored as the candidate sees them; applied again for views written by older builds
    out["questions"] = [candidate_question(q) for q in out.get("questions", [])]
    out["results"] = [candidate_result(r) for r in out.get("results", [])]
    out["transcript_url"] = (
        f"/interviews/{doc['_id']}/transcript" if doc.get("status") == "completed" else None
    )
    for key in ("created_at", "updated_at", "submitted_at", "deadline_at"):
        if hasattr(out.get(key), "isoformat"):
            out[key] = out[key].isoformat()
    out["score_history"] = [
        h
        | {
            "scored_at": _utc_dates(h)["scored_at"].isoformat()
            if hasattr(h.get("scored_at"), "isoformat")
            else h.get("scored_at")
        }
        for h in out.get("score_history", [])
    ]
    # one shape for a status change, live (the gateway's SSE) or replayed from here
    out["history"] = [
        StatusFrame.model_validate(_utc_dates(h)).model_dump(mode="json")
        for h in out.get("history", [])
    ]
    return out


@router.post("/interviews", status_code=202)
async def start(
    body: StartInterviewRequest, principal: CurrentUser, request: Request, response: Response
) -> dict[str, Any]:
    doc = await _interviews(request).start(
        principal,
        body.type,
        body.difficulty,
        body.tags,
        body.question_count,
        request.state.correlation_id,
        time_limit_minutes=body.time_limit_minutes,
    )
    response.headers["Location"] = f"/interviews/{doc['_id']}"
    return session_out(doc)


@router.get("/interviews")
async def list_sessions(
    principal: CurrentUser,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    items, total = await _interviews(request).list(principal, limit, offset)
    return {
        "items": [session_out(d) for d in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/interviews/{session_id}")
async def get_session(session_id: str, principal: CurrentUser, request: Request) -> dict[str, Any]:
    interviews = _interviews(request)
    doc = await interviews.get(principal, session_id)
    return session_out(doc, await interviews.draft_of(session_id))


def _if_match(request: Request) -> int | None:
    """The draft version a writer read, from `If-Match: "3"` (or W/"3", or 3)."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise DomainError(
            "If-Match must be the draft version returned by the last save (its ETag).",
            status=422,
            code="validation_error",
            title="Validation failed",
        )
    return int(value)


@router.put("/interviews/{session_id}/draft")
async def save_draft(
    session_id: str, body: DraftRequest, principal: CurrentUser, request: Request
) -> Response:
    draft = await _interviews(request).save_draft(
        principal,
        session_id,
        [
            Answer(question_id=a.question_id, response=a.response, language=a.language)
            for a in body.answers
        ],
        _if_match(request),
    )
    out = draft_out(draft)
    return JSONResponse(out, headers={"ETag": f'"{draft["version"]}"', "Cache-Control": "no-store"})


@router.post("/interviews/{session_id}/run")
async def run_examples(
    session_id: str, body: RunRequest, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    question = await _interviews(request).coding_question(principal, session_id, body.question_id)
    runner: ExampleRunner = request.app.state.example_runner
    return await runner.run(question, body.language, body.code)


@router.get("/user/me/progress")
async def my_progress(principal: CurrentUser, request: Request) -> dict[str, Any]:
    return await _interviews(request).progress(principal.user_id)


@router.post("/interviews/{session_id}/submit", status_code=202)
async def submit(
    session_id: str, body: SubmitRequest, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    answers = [
        Answer(question_id=a.question_id, response=a.response, language=a.language)
        for a in body.answers
    ]
    doc = await _interviews(request).submit(
        principal, session_id, answers, request.state.correlation_id
    )
    return {"id": doc["_id"], "status": doc["status"]}


@router.get("/internal/quota")
async def my_quota(principal: CurrentUser, request: Request) -> dict[str, Any]:
    return await _interviews(request).quota(principal.user_id)


@router.get("/internal/sessions/{session_id}/history")
async def history(session_id: str, principal: CurrentUser, request: Request) -> dict[str, Any]:
    """For the gateway's SSE resume: the status changes so far (owner only)."""
    doc = await _interviews(request).get(principal, session_id, owner_only=True)
    return {"id": doc["_id"], "status": doc["status"], "history": session_out(doc)["history"]}


# --- question bank --------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only administrators can change the question bank.")


@router.get("/questions")
async def list_questions(
    principal: CurrentUser,
    request: Request,
    type: Literal["coding", "behavioral"] | None = None,
    difficulty: Difficulty | None = None,
    tags: Annotated[str | None, Query(max_length=400, pattern=r"^[a-z0-9,-]*$")] = None,
    tags_mode: Literal["any", "all"] = "any",
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    tag_list = [t for t in (tags or "").split(",") if t]
    catalog = await _interviews(request).catalog.fresh()
    docs, total = catalog.search(
        type_=type,
        difficulty=difficulty,
        tags=tag_list or None,
        tags_mode=tags_mode,
        text=q,
        limit=limit,
        offset=offset,
    )
    return {
        "items": [public_view(d, principal.is_admin) for d in docs],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/questions/{question_id}")
async def get_question(
    question_id: str, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    doc = await _interviews(request).bank.get(question_id)
    if doc is None:
        raise DomainError("No such question.", status=404, code="not_found", title="Not found")
    return public_view(doc, principal.is_admin)


def _questions(request: Request) -> QuestionAdmin:
    questions: QuestionAdmin = request.app.state.questions
    return questions


@router.post("/questions", status_code=201)
async def create_question(
    data: dict[str, Any], principal: CurrentUser, request: Request
) -> dict[str, Any]:
    _require_admin(principal)
    return public_view(await _questions(request).create(data), admin=True)


@router.put("/questions/{question_id}")
async def update_question(
    question_id: str, data: dict[str, Any], principal: CurrentUser, request: Request
) -> dict[str, Any]:
    _require_admin(principal)
    return public_view(await _questions(request).update(question_id, data), admin=True)


@router.delete("/questions/{question_id}", status_code=204)
async def delete_question(question_id: str, principal: CurrentUser, request: Request) -> Response:
    _require_admin(principal)
    await _questions(request).retire(question_id)
    return Response(status_code=204)


@router.get("/internal/stats", include_in_schema=False)
async def stats(principal: CurrentUser, request: Request) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Administrators only.")
    return await _interviews(request).stats()
