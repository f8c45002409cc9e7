"""ai-runner's consumers: record the work; the workers (app/worker.py) do it."""

from __future__ import annotations

from servicekit.runtime import ServiceRuntime

from ai_runner.app.jobs import Jobs


def register_consumers(rt: ServiceRuntime, jobs: Jobs) -> None:
    # the job write is idempotent by itself (see Jobs.on_event): no inbox, no transaction
    rt.stateless_consumer("SessionRequested")(jobs.on_event)
    rt.stateless_consumer("AnswersSubmitted")(jobs.on_event)
