"""notifications settings: SMTP, where links point, retry and parking of mail."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit.settings import ServiceSettings

DEV_UNSUBSCRIBE_SECRET = "dev-unsubscribe-secret-not-for-production"


class Settings(ServiceSettings):
    service_name: str = "notifications"

    # SMTP (make run points these at the local catcher)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the connection with STARTTLS (required when true)."
    )
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    smtp_from: str = "Mock Interviews <no-reply@mock-interviews.local>"

    # links in the mail
    web_base_url: str = Field(
        default="http://127.0.0.1:8000", description="The web app's public base URL."
    )
    unsubscribe_secret: SecretStr = Field(
        default=SecretStr(DEV_UNSUBSCRIBE_SECRET),
        description="HMAC key of the one-click unsubscribe tokens.",
    )

    # the sender loop: claim with a lease, retry with backoff, park after max attempts
    mail_poll_seconds: float = Field(default=1.0, gt=0)
    mail_lease_seconds: float = Field(
        default=60.0, gt=0, description="A claimed mail another replica may take over after."
    )
    mail_max_attempts: int = Field(default=8, ge=1)
    mail_retry_base_seconds: float = Field(default=5.0, gt=0)
    mail_retry_max_seconds: float = Field(default=15 * 60.0, gt=0)
    mail_address_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long a mail waits for its user's address (UserRegistered may come "
        "after the event that asked for the mail) before it is parked.",
    )

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if (
            self.is_production
            and self.unsubscribe_secret.get_secret_value() == DEV_UNSUBSCRIBE_SECRET
        ):
            raise ValueError("UNSUBSCRIBE_SECRET must be set in production")
        return self
