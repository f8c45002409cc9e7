"""Settings base: every service's `Settings` subclasses `ServiceSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Configuration from the environment (SPEC.md section 4 names)."""

    # env_ignore_empty: `STRIPE_API_KEY=` (docker compose passes every optional variable,
    # empty when unset) means "not set", so the default applies - never an empty key
    model_config = SettingsConfigDict(
        extra="ignore", env_nested_delimiter="__", env_ignore_empty=True
    )

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    port: int = 8000
    ops_port: int | None = Field(
        default=None,
        description="Serve /healthz, /readyz and /metrics on this port only, never on PORT "
        "(Kubernetes: the Ingress and the Services reach PORT, only the kubelet and the "
        "monitoring namespace reach this one). Unset: on PORT beside the API (make run, tests).",
    )
    ops_host: str = Field(default="0.0.0.0", description="Where the ops port listens.")
    api_docs: bool | None = Field(
        default=None,
        description="Serve /docs and /openapi.json; default: everywhere but production.",
    )
    readiness_check_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Bound on each dependency check of /readyz; the checks run concurrently, "
        "so /readyz answers within about this long (the probes' timeout is 3 s).",
    )
    dependency_check_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often service_dependency_up is refreshed."
    )
    data_dir: Path = Path(".data")

    mongo_uri: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongo_db: str | None = Field(
        default=None, description="Database name; defaults to <MONGO_DB_PREFIX>mi_<service_name>."
    )
    mongo_db_prefix: str = Field(default="", description="Prefix for every service's database.")
    mongo_socket_timeout_ms: int = Field(
        default=8000,
        ge=500,
        description="Longest wait for the store's answer to one command: a hung server then "
        "costs a 503 database_unavailable rather than a request held past the gateway's "
        "timeout.",
    )
    store_breaker_timeouts: int = Field(
        default=3,
        ge=1,
        description="Store commands timed out in a row after which requests are refused at "
        "once with 503 database_unavailable (servicekit.breaker), instead of each waiting "
        "MONGO_SOCKET_TIMEOUT_MS for a hung server.",
    )
    store_breaker_open_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long the breaker refuses before one request tries the store again.",
    )
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"

    events_exchange: str = "mi.events"
    queue_prefix: str = Field(default="", description="Prefix for queues (test isolation).")
    prefetch: int = Field(default=16, ge=1)
    rabbitmq_reconnect_seconds: float = Field(default=1.0, gt=0)
    delivery_limit: int = Field(default=5, ge=1, description="Broker redeliveries before parking.")
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    outbox_idle_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="The relay's poll backs off to this while it finds nothing (commits in "
        "this process wake it at once; the poll is for other replicas' rows and a crash's).",
    )
    outbox_batch: int = Field(default=100, ge=1)
    queue_depth_interval_seconds: float = Field(default=15.0, gt=0)

    auth_url: str = Field(default="http://127.0.0.1:8001", description="auth's internal base URL.")
    jwt_issuer: str = "mock-interview-auth"
    jwt_audience: str = "mock-interview"
    jwt_access_ttl_seconds: int = Field(
        default=900,
        ge=15,
        le=3600,
        description="Access-token lifetime: auth issues tokens for this long, and every "
        "verifier refuses one whose exp is further than this from its iat. At least 60 in "
        "production (shorter only for tests that watch a token expire).",
    )

    log_level: str = "INFO"
    log_json: bool = Field(
        default=True, description="JSON lines (containers); false: readable lines (make run)."
    )
    log_colour: bool = Field(default=False, description="Colour readable lines (a terminal).")
    sentry_dsn: SecretStr | None = None
    otel_exporter_otlp_endpoint: str | None = None
    tracing: bool | None = Field(
        default=None,
        description="Record spans; default: only when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans "
        "nobody exports cost about a third of the gateway's CPU per request).",
    )

    @property
    def tracing_enabled(self) -> bool:
        return self.tracing if self.tracing is not None else bool(self.otel_exporter_otlp_endpoint)

    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    gc_freeze: bool = Field(
        default=True,
        description="Move what is loaded at startup out of the garbage collector's sight "
        "(shorter full collections: lower tail latency). Off in tests, where many apps live "
        "and die in one process.",
    )

    @property
    def database(self) -> str:
        return self.mongo_db or f"{self.mongo_db_prefix}mi_{self.service_name.replace('-', '_')}"

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @model_validator(mode="after")
    def _production_needs_real_endpoints(self) -> ServiceSettings:
        if self.is_production and "guest:guest@" in self.rabbitmq_url:
            raise ValueError("RABBITMQ_URL uses the development guest account in production")
        if self.is_production and self.jwt_access_ttl_seconds < 60:
            raise ValueError("JWT_ACCESS_TTL_SECONDS below 60 is for tests, not production")
        return self
