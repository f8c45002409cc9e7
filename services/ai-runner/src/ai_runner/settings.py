"""ai-runner settings."""

from __future__ import annotations

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ai-runner"
    ai_model: str = "gemini-2.0-flash"
