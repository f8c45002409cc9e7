"""docker compose hands each service its optional variables empty when .env leaves them out
(`SENTRY_DSN: ${SENTRY_DSN:-}`): an empty variable must mean "not set", never an empty
secret or URL that a service would then try to use."""

from __future__ import annotations

import pytest
from servicekit.settings import ServiceSettings


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    monkeypatch.setenv("LOG_LEVEL", "")
    settings = ServiceSettings()
    assert settings.sentry_dsn is None
    assert settings.otel_exporter_otlp_endpoint is None
    assert settings.tracing_enabled is False
    assert settings.log_level == "INFO"


def test_a_set_variable_still_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "https://key@example.ingest.sentry.io/1")
    settings = ServiceSettings()
    assert settings.sentry_dsn is not None
