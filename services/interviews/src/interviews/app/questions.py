"""The question bank's admin use cases: publish a new question, a new version of one, retire
one. A coding question is accepted only if its reference solutions pass its own tests in the
sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from servicekit.mongo import Document
from servicekit.problems import DomainError

from interviews.app.ports import Judge, QuestionStore
from interviews.domain.questions import QUESTION


class QuestionNotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class QuestionExists(DomainError):
    status = 409
    code = "question_exists"
    title = "Question exists"


class ReferenceSolutionFails(DomainError):
    status = 422
    code = "reference_solution_fails"
    title = "Reference solution fails"


def validated(data: dict[str, Any]) -> Any:
    """`data` as a question of the bank, or 422 with every problem listed."""
    try:
        return QUESTION.validate_python(data)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        raise DomainError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)[:1000],
            status=422,
            code="validation_error",
            title="Validation failed",
            errors=errors,
        ) from None


async def check_reference_solutions(judge: Judge, question: Any) -> None:
    """A coding question is accepted only if its reference solutions pass its own tests."""
    if question.type != "coding":
        return
    for language, source in question.reference_solutions.items():
        report = await judge.run(
            language=language,
            source=source,
            function_name=question.function_name,
            tests=question.tests,
            comparison=question.comparison,
            time_limit_ms=question.time_limit_ms,
            memory_limit_mb=question.memory_limit_mb,
        )
        if report.passed != report.total:
            failing = [r.test_id for r in report.results if r.verdict != "accepted"]
            raise ReferenceSolutionFails(
                f"The {language} reference solution fails tests {', '.join(failing[:10])}."
            )


class QuestionAdmin:
    """An administrator's changes to the bank. `bank` is read at each call (the store exists
    once the service has started); `new_judge` gives the sandbox a check runs in."""

    def __init__(self, bank: Callable[[], QuestionStore], new_judge: Callable[[], Judge]) -> None:
        self._bank = bank
        self._new_judge = new_judge

    async def check(self, question: Any) -> None:
        await check_reference_solutions(self._new_judge(), question)

    async def create(self, data: dict[str, Any]) -> Document:
        bank = self._bank()
        # validated before anything reads the store: an `id` such as {"$ne": null} never
        # reaches a query
        question = validated(data | {"version": 1})
        if await bank.exists(question.id):
            raise QuestionExists("A question with this id exists; PUT a new version instead.")
        await self.check(question)
        return await bank.publish(question)

    async def update(self, question_id: str, data: dict[str, Any]) -> Document:
        bank = self._bank()
        current = await bank.get(question_id)
        if current is None:
            raise QuestionNotFound("No such question.")
        question = validated(data | {"id": question_id, "version": current["version"] + 1})
        await self.check(question)
        return await bank.publish(question)

    async def retire(self, question_id: str) -> None:
        if not await self._bank().deactivate(question_id):
            raise QuestionNotFound("No such question.")
