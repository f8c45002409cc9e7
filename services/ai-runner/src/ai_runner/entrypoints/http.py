"""ai-runner's HTTP API: transcripts (owner or admin) and internal stats (admin)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from servicekit.identity import CurrentUser, Forbidden

from ai_runner.app.jobs import Jobs
from ai_runner.domain.transcript import encode

router = APIRouter()


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


@router.get("/interviews/{session_id}/transcript")
async def transcript(
    session_id: str,
    principal: CurrentUser,
    request: Request,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    document = await _jobs(request).transcript(principal, session_id)
    as_json, as_markdown = encode(document)
    if format == "markdown":
        body, media = as_markdown, "text/markdown; charset=utf-8"
    else:
        body, media = as_json, "application/json"
    return Response(body, media_type=media, headers={"Cache-Control": "private, no-store"})


@router.post("/interviews/{session_id}/rescore", status_code=202)
async def rescore(session_id: str, principal: CurrentUser, request: Request) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Only administrators can re-score an interview.")
    await _jobs(request).rescore(session_id, principal.user_id)
    return {"id": session_id, "status": "rescoring"}


@router.get("/internal/stats", include_in_schema=False)
async def stats(principal: CurrentUser, request: Request) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Administrators only.")
    return await _jobs(request).stats()
