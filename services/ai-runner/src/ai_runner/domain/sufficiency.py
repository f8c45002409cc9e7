"""Whether an answer says enough to be scored at all (pure, no I/O). An answer that is empty,
too short, garbled or not in the interview's language gets the verdict `insufficient` with a
reason a person can read, never a made-up number from a grader asked to score it anyway.

The tests are deliberately plain and explainable:
- empty: nothing but whitespace;
- too short: fewer than MIN_WORDS words for a behavioural answer (a story needs a situation,
  an action and a result);
- garbled: fewer than half of the words look like words (letters of one alphabet, a vowel,
  no long runs of one character), or the text is mostly not letters;
- not English (the interview's language): most letters outside the Latin alphabet, or
  almost none of the commonest English words in a text long enough to have them.
"""

from __future__ import annotations

import re

MIN_WORDS = 12
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_VOWELS = frozenset("aeiouyAEIOUY")
_RUN = re.compile(r"(.)\1{3,}")
_ENGLISH_COMMON = frozenset(
    "a an and the i we my our me us to of in on at for with was were is are be been it that "
    "this they he she them their had have has did do not but so as by from or when then "
    "what which who how after before because about team time".split()
)


def _looks_like_a_word(word: str) -> bool:
    return (
        len(word) <= 20
        and (len(word) <= 3 or any(c in _VOWELS for c in word))
        and not _RUN.search(word.lower())
    )


def insufficient_reason(answer: str, *, coding: bool = False) -> str | None:
    """Why `answer` cannot be scored, or None when it can."""
    text = answer.strip()
    if not text:
        return "The answer is empty."
    if coding:
        return None  # code is judged by its tests; the judge explains what it lacks
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS:
        return (
            f"The answer is too short to score ({len(words)} words): tell what happened, what "
            f"you did and how it ended, in at least {MIN_WORDS} words."
        )
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii() or "\u00c0" <= c <= "\u024f")
    if letters and latin / len(letters) < 0.5:
        return "The answer is not in English, the language of this interview."
    if len(letters) < 0.5 * len(text.replace(" ", "")):
        return "The answer is mostly not words, so there is nothing to score."
    wordlike = sum(1 for w in words if _looks_like_a_word(w))
    if wordlike < 0.5 * len(words):
        return "The answer does not read as sentences, so there is nothing to score."
    common = sum(1 for w in words if w.lower() in _ENGLISH_COMMON)
    if common < 0.08 * len(words):
        return (
            "The answer does not read as English, the language of this interview, so there "
            "is nothing to score."
        )
    return None
