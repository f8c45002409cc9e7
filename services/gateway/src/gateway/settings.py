"""gateway settings."""

from __future__ import annotations

from pydantic import Field
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    interviews_url: str = "http://127.0.0.1:8002"
    ai_runner_url: str = "http://127.0.0.1:8003"
    billing_url: str = "http://127.0.0.1:8004"
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    cors_origins: str = Field(default="", description="Comma-separated allowed origins.")
