"""The AI job of one interview session: prepared once, scored or failed once."""

from __future__ import annotations

from contracts import (
    DomainEvent,
    SessionFailed,
    SessionReady,
    SessionRescoreRequested,
    SessionScored,
)
from servicekit.domain import Aggregate


class JobAlreadyFinished(Exception):
    """Scoring or failing a job that already has its final result."""


class JobNotRescorable(Exception):
    """Only a scored session can be scored again."""


class AiJob(Aggregate):
    aggregate_type = "ai-job"
    local_events = frozenset({"SessionRescoreRequested"})

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.ready = False
        self.final: str | None = None

    def prepared(self, event: SessionReady) -> bool:
        if self.ready or self.final:
            return False
        self.record(event)
        return True

    def scored(self, event: SessionScored) -> None:
        if self.final:
            raise JobAlreadyFinished(f"job {self.id} is already {self.final}")
        self.record(event)

    def rescore(self, event: SessionRescoreRequested) -> None:
        if self.final != "scored":
            raise JobNotRescorable(f"job {self.id} is {self.final or 'not finished'}")
        self.record(event)

    def failed(self, event: SessionFailed) -> None:
        if self.final:
            raise JobAlreadyFinished(f"job {self.id} is already {self.final}")
        self.record(event)

    def when(self, event: DomainEvent) -> None:
        if isinstance(event, SessionReady):
            self.ready = True
        elif isinstance(event, SessionScored):
            self.final = "scored"
        elif isinstance(event, SessionFailed):
            self.final = "failed"
        elif isinstance(event, SessionRescoreRequested):
            self.final = None
