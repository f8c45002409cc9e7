"""ai-runner's consumers: record the work (the workers in app/worker.py do it), a map from
event to use case."""

from __future__ import annotations

from contracts import AnswersSubmitted, SessionFailed, SessionRequested
from servicekit.handlers import consume_idempotent
from servicekit.runtime import ServiceRuntime

from ai_runner.app.jobs import Jobs


def register_consumers(rt: ServiceRuntime, jobs: Jobs) -> None:
    # each job write is idempotent by itself (see Jobs.session_requested): no inbox, no
    # transaction
    consume_idempotent(
        rt,
        {
            SessionRequested: jobs.session_requested,
            AnswersSubmitted: jobs.answers_submitted,
            SessionFailed: jobs.session_failed,
        },
    )
