"""What interviews' use cases need from the outside, as protocols: the adapters in
`interviews.adapters` (and the sandbox's judge) fit them; tests may hand in others."""

from __future__ import annotations

from typing import Any, Protocol

from servicekit.mongo import Document


class Judge(Protocol):
    """The code sandbox (`codejudge.Judge`): runs a solution against tests."""

    async def run(self, **kwargs: Any) -> Any: ...


class QuestionStore(Protocol):
    """The question bank (`interviews.adapters.bank.QuestionBank`)."""

    async def exists(self, question_id: str) -> bool: ...

    async def get(self, question_id: str) -> Document | None: ...

    async def publish(self, question: Any) -> Document: ...

    async def deactivate(self, question_id: str) -> bool: ...
