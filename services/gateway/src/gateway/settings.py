"""gateway settings."""

from __future__ import annotations

import ipaddress

from pydantic import Field
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    interviews_url: str = "http://127.0.0.1:8002"
    ai_runner_url: str = "http://127.0.0.1:8003"
    billing_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    cors_origins: str = Field(default="", description="Comma-separated allowed origins.")
    trusted_proxies: str = Field(
        default="", description="CIDRs whose X-Forwarded-For is believed (the ingress)."
    )
    redis_key_prefix: str = Field(default="mi:", description="Prefix of every Redis key.")
    rate_limit_fail_open: bool = Field(
        default=True, description="When Redis is down: let requests through (True) or 503."
    )
    rate_limit_ip: str = Field(default="300/60", description="Per client IP, every route.")
    rate_limit_user: str = Field(default="120/60", description="Per signed-in user.")
    rate_limit_login_ip: str = Field(default="10/60", description="Login attempts per IP.")
    rate_limit_login_account: str = Field(
        default="10/300", description="Login attempts per email, from any IP."
    )
    rate_limit_refresh_ip: str = Field(
        default="60/60",
        description=(
            "Token refreshes per IP. Its own budget, not the login one: the web app keeps the "
            "access token in memory, so every page load refreshes, and a refresh token (256 "
            "random bits) cannot be guessed the way a password can."
        ),
    )
    rate_limit_register_ip: str = Field(default="5/60", description="Registrations per IP.")
    rate_limit_recovery_ip: str = Field(
        default="10/600",
        description=(
            "Account-recovery calls per IP (forgot, reset, verify-email and its resend): each "
            "may send a mail or test a mailed token, so a small budget of their own."
        ),
    )
    rate_limit_recovery_account: str = Field(
        default="5/3600",
        description=(
            "Password-reset requests per address, from any IP (each mails the address). Spent "
            "alike for addresses with and without an account, so a 429 tells nothing either."
        ),
    )
    rate_limit_run: str = Field(
        default="20/60", description="Example runs (POST /interviews/{id}/run) per user."
    )
    web_dist: str = Field(
        default="",
        description=(
            "Folder of the built web app (web/dist) to serve at / on this origin; empty: not "
            "served here (in containers it runs as its own static server behind the ingress)."
        ),
    )
    me_cache_seconds: int = Field(
        default=120,
        ge=0,
        description=(
            "Longest a composed GET /user/me answer is served from Redis (0: always ask the "
            "services). Changes drop it at once; this bounds only a change whose event is lost."
        ),
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(c.strip()) for c in self.trusted_proxies.split(",") if c.strip()
        ]
