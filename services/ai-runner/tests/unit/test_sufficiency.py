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
            # Portuguese with "a", "do" and "no" in it, all of them English words too: its
            # function words still fit Portuguese far better than English
            "No meu último emprego, o diretor pediu que a minha equipa fizesse uma página "
            "nova em uma semana, mas estávamos a terminar a migração do sistema de pagamentos.",
            "reads as Portuguese",
        ),
        (
            "Letztes Jahr ist unser Zahlungsdienst während eines Verkaufs ausgefallen, und ich "
            "habe das Release zurückgerollt.",
            "reads as German",
        ),
        (
            # real English words, some of them function words, but no sentence
            "banana window seventeen purple quickly under the lamp because elephant spoon "
            "tomorrow river keyboard the of and table",
            "does not read as English sentences",
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
        # a terse answer with few function words is still English sentences
        "Quick learner. Picked up Kotlin in two weeks for the Android rewrite; shipped the "
        "login screen and it is still in production.",
    ],
)
def test_answers_in_english_sentences_go_to_the_graders(answer: str) -> None:
    assert insufficient_reason(answer) is None


def test_code_is_only_insufficient_when_empty() -> None:
    assert insufficient_reason("  ", coding=True) == "The answer is empty."
    assert insufficient_reason("def f(): pass", coding=True) is None
