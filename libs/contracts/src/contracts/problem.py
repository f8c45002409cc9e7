"""RFC 9457 problem details with the platform's stable machine `code`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://mock-interview.dev/problems/"


class Problem(BaseModel):
    """An error response body; `code` is what clients switch on, never `title`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the problem type.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field errors for validation problems."
    )

    @classmethod
    def of(
        cls,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        **extra: Any,
    ) -> Problem:
        return cls(
            type=PROBLEM_TYPE_BASE + code.replace("_", "-"),
            title=title,
            status=status,
            detail=detail,
            code=code,
            **extra,
        )
