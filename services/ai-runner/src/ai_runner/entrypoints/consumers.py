"""ai-runner's consumers: record the work; the workers in app/jobs.py do it."""

from __future__ import annotations

from servicekit.runtime import ServiceRuntime

from ai_runner.app.jobs import Jobs


def register_consumers(rt: ServiceRuntime, jobs: Jobs) -> None:
    rt.consumer("SessionRequested")(jobs.on_event)
    rt.consumer("AnswersSubmitted")(jobs.on_event)
