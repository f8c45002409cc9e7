"""interviews settings."""

from __future__ import annotations

from pydantic import Field
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "interviews"
    free_weekly_limit: int = Field(default=2, ge=0)
    premium_weekly_limit: int = Field(default=20, ge=0)
    # the sessions' only deadlines (the AI runner has none of its own, only job leases):
    # the limits a candidate met before, when the AI runner's tighter clock acted first
    queued_deadline_seconds: int = Field(
        default=120, ge=5, description="A session not prepared by then fails, credit returned."
    )
    scoring_deadline_seconds: int = Field(
        default=600, ge=5, description="Answers not scored by then fail, credit returned."
    )
    deadline_check_seconds: float = Field(default=30.0, gt=0)
    run_concurrency: int = Field(
        default=2, ge=1, description="Example runs (POST /interviews/{id}/run) at once."
    )
    run_queue: int = Field(
        default=8, ge=0, description="Example runs waiting for a slot before 429 run_busy."
    )
    judge_allow_unsandboxed: bool = Field(
        default=False, description="Development only: run example code with rlimits alone."
    )
    judge_bwrap_path: str = Field(default="bwrap", description="Where bubblewrap is.")
