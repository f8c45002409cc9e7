"""auth settings."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "auth"
    jwt_private_key: SecretStr | None = Field(
        default=None,
        description="PEM Ed25519 private key; generated under DATA_DIR in development.",
    )
    jwt_key_id: str | None = None
    refresh_ttl_days: int = Field(default=30, ge=1, le=365)
    reset_request_sweep_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often reset requests a stopped process left unhandled are picked up.",
    )
    reset_request_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A reset request older than this was answered by a process that stopped "
        "before handling it.",
    )
    free_weekly_limit: int = Field(default=2, ge=0)
    admin_emails: str = Field(
        default="",
        description="No longer honoured (a warning at start): whoever registered an address "
        "first had not proved they own it. Grant the role with `make admin EMAIL=...`.",
    )

    @model_validator(mode="after")
    def _production_key(self) -> Settings:
        if self.is_production and self.jwt_private_key is None:
            raise ValueError("JWT_PRIVATE_KEY must be set in production")
        return self

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.admin_emails.split(",") if e.strip())
