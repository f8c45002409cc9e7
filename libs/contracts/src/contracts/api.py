"""Public HTTP API schemas (SPEC.md section 2) shared by the gateway's OpenAPI and the
services that implement them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class RegisterRequest(_In):
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["Ada Lovelace"])]
    email: Annotated[str, Field(min_length=3, max_length=254, examples=["ada@example.com"])]
    password: Annotated[
        str,
        Field(min_length=10, max_length=128, description="10-128 characters, not only one kind."),
    ]


class LoginRequest(_In):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(_In):
    refresh_token: Annotated[
        str | None,
        Field(default=None, max_length=200, description="Or send the refresh_token cookie."),
    ] = None


class LogoutRequest(RefreshRequest):
    pass


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class UserOut(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["user", "admin"]
    created_at: datetime


class Quota(BaseModel):
    weekly_limit: int
    used: int
    remaining: int
    resets_at: datetime = Field(description="Next Monday 00:00 UTC.")


class Me(UserOut):
    plan: Literal["free", "premium"]
    quota: Quota
