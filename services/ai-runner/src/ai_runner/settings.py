"""ai-runner settings."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ai-runner"

    ai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AI_API_KEY", "GEMINI_API_KEY", "ai_api_key")
    )
    ai_model: str = "gemini-2.0-flash"
    ai_base_url: str | None = Field(default=None, description="Override the provider's URL.")
    ai_timeout_seconds: float = Field(default=30.0, gt=0)
    ai_max_attempts: int = Field(default=4, ge=1, le=10)
    ai_price_input_per_million: float = Field(default=0.10, ge=0)
    ai_price_output_per_million: float = Field(default=0.40, ge=0)

    s3_endpoint: str | None = None
    s3_bucket: str = "mock-interview-transcripts"
    s3_key: SecretStr | None = None
    s3_secret: SecretStr | None = None
    s3_region: str = "us-east-1"

    judge_allow_unsandboxed: bool = Field(
        default=False, description="Development only: judge with rlimits when bwrap is missing."
    )
    judge_concurrency: int = Field(default=2, ge=1, le=16)
    worker_concurrency: int = Field(default=2, ge=1, le=32)
    job_lease_seconds: float = Field(default=60.0, gt=1)
    job_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between scans of the jobs collection per process. New work is "
        "handed to the workers when it is recorded; the scan finds what no hand-off "
        "announced (jobs left by a restart, an expired lease, a busy replica's backlog).",
    )
    job_drain_seconds: float = Field(
        default=5.0,
        ge=0,
        description="At shutdown, how long running jobs may take to finish before they are "
        "stopped and their leases handed back (the runtime gives a shutdown hook 10 s).",
    )
    job_max_attempts: int = Field(default=3, ge=1)

    @field_validator(
        "ai_api_key", "s3_key", "s3_secret", "s3_endpoint", "ai_base_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `AI_API_KEY=` in an env file means "no key", not "a key that is empty"
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value
