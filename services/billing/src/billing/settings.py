"""billing settings: plans, Stripe, grace window, local checkout."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "billing"

    # plans (the weekly limits are the ones interviews enforces, carried by the plan events)
    free_weekly_limit: int = Field(default=2, ge=0)
    premium_weekly_limit: int = Field(default=20, ge=0)
    premium_monthly_price: int = Field(
        default=1500, ge=1, description="Premium's monthly price in minor units (cents)."
    )
    currency: str = Field(default="usd", min_length=3, max_length=3)

    # Stripe
    stripe_api_key: SecretStr | None = Field(
        default=None, description="Without it a local checkout stands in for Stripe Checkout."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        description="whsec_...; generated under DATA_DIR outside production when unset.",
    )
    stripe_price_premium: str | None = Field(
        default=None, description="Stripe Price id of the premium plan (needed with a key)."
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com", description="Stripe's API address (tests point it)."
    )
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)

    # where Stripe Checkout sends the customer back, and the public base of local checkout
    public_url: str | None = Field(
        default=None,
        description="The gateway's public base URL; local checkout links are relative without it.",
    )
    checkout_success_url: str = "http://127.0.0.1:8000/?checkout=success"
    checkout_cancel_url: str = "http://127.0.0.1:8000/?checkout=cancelled"
    local_checkout_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    local_checkout: bool | None = Field(
        default=None,
        description="The local stand-in for Stripe Checkout (only without STRIPE_API_KEY): on "
        "by default outside production; in production only when set true, since anyone who "
        "can reach it upgrades without paying.",
    )

    # a failed renewal keeps premium this long while Stripe retries, then drops to free
    payment_grace_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    plan_check_seconds: float = Field(
        default=60.0, gt=0, description="How often period ends and grace windows are checked."
    )

    @model_validator(mode="after")
    def _production_stripe(self) -> Settings:
        if self.is_production and self.stripe_webhook_secret is None:
            raise ValueError("STRIPE_WEBHOOK_SECRET must be set in production")
        if self.stripe_api_key is not None and not self.stripe_price_premium:
            raise ValueError("STRIPE_PRICE_PREMIUM must be set when STRIPE_API_KEY is")
        return self

    @property
    def keyed(self) -> bool:
        """Real Stripe Checkout; otherwise the local checkout."""
        return self.stripe_api_key is not None

    @property
    def local_checkout_enabled(self) -> bool:
        if self.keyed:
            return False
        # in production a checkout without Stripe hands out premium for free: opt in only
        return self.local_checkout if self.local_checkout is not None else not self.is_production
