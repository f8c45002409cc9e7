"""ai-runner's HTTP API: transcripts (owner or admin) and internal stats (admin)."""

from __future__ import annotations

import json
from typing import Any, Literal

from contracts.views import candidate_transcript
from fastapi import APIRouter, Request
from fastapi.responses import Response
from servicekit.identity import CurrentUser, Forbidden
from servicekit.problems import DomainError

from ai_runner.adapters.transcripts import encode
from ai_runner.app.jobs import Jobs

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
    jobs = _jobs(request)
    job = await jobs.jobs.find_one({"_id": session_id})
    if job is None or (job["user_id"] != principal.user_id and not principal.is_admin):
        raise DomainError("No such interview.", status=404, code="not_found", title="Not found")
    if not job.get("transcript_key"):
        raise DomainError(
            "The transcript exists once the interview has been scored.",
            status=404,
            code="transcript_not_ready",
            title="No transcript yet",
        )
    # one stored document for both formats: the owner's copy is cut down to what a candidate
    # may see (contracts.views) and rendered from that; admins read it whole
    body = await jobs.transcripts.get(job["transcript_key"] + ".json")
    if body is None:
        raise DomainError(
            "The transcript could not be found in storage.",
            status=404,
            code="transcript_missing",
            title="Transcript missing",
        )
    document: dict[str, Any] = json.loads(body)
    if principal.is_admin:
        document.pop("user_id", None)
    else:
        document = candidate_transcript(document)
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
