"""ai-runner composition root (skeleton: the judge and scoring arrive with the AI-runner issue)."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.runtime import ServiceRuntime

from ai_runner.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    return rt.create_app([], title="ai-runner")
