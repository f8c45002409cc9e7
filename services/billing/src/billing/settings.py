"""billing settings."""

from __future__ import annotations

from pydantic import Field
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "billing"
    free_weekly_limit: int = Field(default=2, ge=0)
    premium_weekly_limit: int = Field(default=20, ge=0)
