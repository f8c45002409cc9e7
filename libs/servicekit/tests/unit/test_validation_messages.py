"""A 422's field messages are sentences a form can show beside the field, not pydantic's
type talk; `type` stays pydantic's for programs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, field_validator
from servicekit.problems import install_problem_handlers


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[str, Field(min_length=10, max_length=12)]
    name: Annotated[str, Field(min_length=1)] = "x"
    kind: Literal["coding", "behavioral"] = "coding"
    count: Annotated[int, Field(ge=1, le=5)] = 1
    email: str = "a@example.com"

    @field_validator("email")
    @classmethod
    def _at(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("That does not look like an email address.")
        return value


def _messages(payload: dict[str, object]) -> dict[str, tuple[str, str]]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, str]:
        return {}

    response = TestClient(app).post("/things", json=payload)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    fields = {e["loc"][-1]: (e["msg"], e["type"]) for e in problem["errors"]}
    for message, _ in fields.values():
        assert message and message in problem["detail"]
    return fields


def test_each_kind_of_mistake_reads_as_what_to_do() -> None:
    fields = _messages(
        {
            "password": "short",
            "name": "",
            "kind": "poetry",
            "count": 9,
            "email": "nope",
            "colour": "red",
        }
    )
    assert fields["password"] == ("Use at least 10 characters.", "string_too_short")
    assert fields["name"] == ("This cannot be empty.", "string_too_short")
    assert fields["kind"] == ("Use one of 'coding' or 'behavioral'.", "literal_error")
    assert fields["count"] == ("Use 5 or less.", "less_than_equal")
    assert fields["email"] == ("That does not look like an email address.", "value_error")
    assert fields["colour"] == ("This field is not accepted here.", "extra_forbidden")
    assert _messages({"password": "x" * 13})["password"][0] == "Use at most 12 characters."
    assert _messages({})["password"] == ("This is required.", "missing")
    assert _messages({"password": "x" * 10, "count": "many"})["count"][0] == ("Use a whole number.")
