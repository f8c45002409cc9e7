"""Questions of the bank as admins write them (the request body of POST/PUT /questions) and
the snapshot a session keeps of one: shared by the gateway's contract and interviews."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.events import (
    BehavioralQuestionSnapshot,
    CodingQuestionSnapshot,
    Comparison,
    Difficulty,
    HiddenTest,
    RubricLevel,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,80}$"
REQUIRED_DIMENSIONS = (
    "situation",
    "task",
    "action",
    "result",
    "specificity",
    "impact",
    "reflection",
)


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    version: int = Field(default=1, ge=1)
    title: Annotated[str, Field(min_length=3, max_length=200)]
    prompt: Annotated[str, Field(min_length=10, max_length=20_000)]
    difficulty: Difficulty
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]] = Field(max_length=12)


class CodingQuestion(_Question):
    type: Literal["coding"] = "coding"
    function_name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,60}$")]
    signatures: dict[Literal["python", "javascript"], str]
    comparison: Comparison = "exact"
    time_limit_ms: int = Field(default=2000, ge=100, le=10_000)
    memory_limit_mb: int = Field(default=256, ge=32, le=1024)
    tests: list[HiddenTest] = Field(min_length=9)
    reference_solutions: dict[Literal["python", "javascript"], str]
    wrong_solutions: dict[Literal["python", "javascript"], str] = Field(default_factory=dict)
    rubric: list[str] = Field(default_factory=list)
    optimal_complexity: str = ""

    @model_validator(mode="after")
    def _tests_are_sound(self) -> CodingQuestion:
        ids = [t.test_id for t in self.tests]
        if len(set(ids)) != len(ids):
            raise ValueError("test ids must be unique")
        if sum(not t.visible for t in self.tests) < 8:
            raise ValueError("at least 8 hidden tests are required")
        if not any(t.visible for t in self.tests):
            raise ValueError("at least one visible example is required")
        if set(self.signatures) != {"python", "javascript"}:
            raise ValueError("signatures for python and javascript are required")
        if set(self.reference_solutions) != {"python", "javascript"}:
            raise ValueError("reference solutions for python and javascript are required")
        return self

    def snapshot(self) -> CodingQuestionSnapshot:
        return CodingQuestionSnapshot(
            question_id=self.id,
            version=self.version,
            title=self.title,
            prompt=self.prompt,
            difficulty=self.difficulty,
            tags=tuple(self.tags),
            function_name=self.function_name,
            signatures=dict(self.signatures),
            tests=tuple(self.tests),
            comparison=self.comparison,
            time_limit_ms=self.time_limit_ms,
            memory_limit_mb=self.memory_limit_mb,
            rubric=tuple(self.rubric),
            optimal_complexity=self.optimal_complexity,
        )


class BehavioralQuestion(_Question):
    type: Literal["behavioral"] = "behavioral"
    competencies: list[str] = Field(min_length=1, max_length=10)
    rubric: list[RubricLevel]
    sample_answer: Annotated[str, Field(min_length=100, max_length=10_000)]
    follow_ups: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("rubric")
    @classmethod
    def _all_dimensions(cls, rubric: list[RubricLevel]) -> list[RubricLevel]:
        names = tuple(r.dimension for r in rubric)
        if names != REQUIRED_DIMENSIONS:
            raise ValueError(f"rubric dimensions must be {', '.join(REQUIRED_DIMENSIONS)}")
        return rubric

    def snapshot(self) -> BehavioralQuestionSnapshot:
        return BehavioralQuestionSnapshot(
            question_id=self.id,
            version=self.version,
            title=self.title,
            prompt=self.prompt,
            difficulty=self.difficulty,
            tags=tuple(self.tags),
            competencies=tuple(self.competencies),
            rubric=tuple(self.rubric),
            follow_ups=tuple(self.follow_ups),
        )


Question = Annotated[CodingQuestion | BehavioralQuestion, Field(discriminator="type")]
