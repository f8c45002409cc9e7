"""Live session status for Server-Sent Events. Every gateway replica consumes every
SessionStatusChanged (its own broadcast queue) and fans it out to the streams it holds."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from contracts import SessionStatusChanged
from contracts.api import StatusFrame

FINAL = frozenset({"completed", "failed"})


class LiveSessions:
    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribe(self, session_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._listeners[session_id].add(queue)
        return queue

    def unsubscribe(self, session_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        listeners = self._listeners.get(session_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                self._listeners.pop(session_id, None)

    @property
    def open_streams(self) -> int:
        return sum(len(v) for v in self._listeners.values())

    def publish(self, event: SessionStatusChanged) -> None:
        item = StatusFrame(
            status=event.status,
            sequence=event.sequence,
            reason=event.reason,
            overall_score=event.overall_score,
            at=event.changed_at,
        ).model_dump(mode="json")
        for queue in list(self._listeners.get(event.session_id, ())):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                pass  # a stalled client; it resumes from Last-Event-ID when it reconnects
