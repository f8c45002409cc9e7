"""`GET /interviews/{id}/events`: status changes as Server-Sent Events.

Subscribe first, then read the history from interviews (which also checks ownership), so no
change can fall between the two; send what the client has not seen (after `Last-Event-ID`),
then live changes, deduplicated by sequence, until a final status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from servicekit.problems import DomainError

from gateway.adapters.live import FINAL, LiveSessions
from gateway.adapters.upstream import Upstreams

HEARTBEAT_SECONDS = 15.0


def _frame(item: dict[str, Any]) -> bytes:
    return f"id: {item['sequence']}\nevent: status\ndata: {json.dumps(item)}\n\n".encode()


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        raise DomainError(
            "Last-Event-ID must be the number of the last event received.",
            status=422,
            code="validation_error",
            title="Validation failed",
        ) from None


async def stream_session_events(session_id: str, request: Request) -> Response:
    live: LiveSessions = request.app.state.live
    upstreams: Upstreams = request.app.state.upstreams
    after = _last_event_id(request)
    queue = live.subscribe(session_id)
    try:
        snapshot = await upstreams.get_json(
            "interviews", f"/internal/sessions/{session_id}/history", request
        )
    except BaseException:
        live.unsubscribe(session_id, queue)
        raise
    if snapshot is None:
        live.unsubscribe(session_id, queue)
        raise DomainError("No such interview.", status=404, code="not_found", title="Not found")
    heartbeat = getattr(request.app.state, "sse_heartbeat_seconds", HEARTBEAT_SECONDS)

    async def events() -> AsyncIterator[bytes]:
        sent = after
        try:
            yield b"retry: 3000\n\n"
            for item in snapshot["history"]:
                if item["sequence"] > sent:
                    sent = item["sequence"]
                    yield _frame(item)
                    if item["status"] in FINAL:
                        return
            if snapshot["status"] in FINAL:
                return
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=heartbeat)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if item["sequence"] <= sent:
                    continue
                sent = item["sequence"]
                yield _frame(item)
                if item["status"] in FINAL:
                    return
        finally:
            live.unsubscribe(session_id, queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
