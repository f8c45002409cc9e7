"""Answers that say too little are `insufficient` with a reason, never given a made-up
score; answers that say something are left to the graders."""

from __future__ import annotations

import pytest
from ai_runner.domain.sufficiency import MIN_WORDS, insufficient_reason

STORY = (
    "Last March our payments API started timing out during a sale. As the on-call lead my "
    "task was to restore checkout within the hour. I rolled back the release and added the "
    "missing index; errors fell from 18% to 0.2%."
)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("I fixed it fast.", "too short"),
        (
            "asdkjh qwpeoiru zxmcnvb lkjhgfdsa poiuytrewq mnbvcxz asdfghjkl qwertyuiop zxcvbnm "
            "lkjhg fdsapoiu qwer tyuiop",
            "does not read as English",
        ),
        (
            "aaaaaaa bbbbbbb cccccc ddddddd eeeeeee fffffff ggggggg hhhhhhh iiiiiii jjjjjjj "
            "kkkkkkk lllllll",
            "does not read as sentences",
        ),
        ("!!! ??? ### $$$ %%% ^^^ &&& *** ((( ))) --- +++ a b c d e f g h i j k l", "not words"),
        (
            "El año pasado nuestro servicio de pagos falló durante una venta. Como responsable "
            "de guardia, mi tarea era restaurar el servicio en una hora.",
            "English",
        ),
        (
            "В прошлом году наш платёжный сервис упал во время распродажи. Я откатил релиз и "  # noqa: RUF001
            "добавил индекс, и ошибки упали до нуля.",
            "English",
        ),
    ],
)
def test_answers_that_say_too_little_get_a_reason(answer: str, words: str) -> None:
    reason = insufficient_reason(answer)
    assert reason is not None and words in reason, reason


@pytest.mark.parametrize(
    "answer",
    [
        STORY,
        "I am a team player and I always communicate well with everyone on my team.",
        "We shipped it. " * MIN_WORDS,
    ],
)
def test_answers_in_english_sentences_go_to_the_graders(answer: str) -> None:
    assert insufficient_reason(answer) is None


def test_code_is_only_insufficient_when_empty() -> None:
    assert insufficient_reason("  ", coding=True) == "The answer is empty."
    assert insufficient_reason("def f(): pass", coding=True) is None
