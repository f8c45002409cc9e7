"""interviews composition root (skeleton: the features arrive with the interviews issue)."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.runtime import ServiceRuntime

from interviews.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    return rt.create_app([], title="interviews")
