"""Text handling shared by the offline grader's readers: words, sentences as verbatim slices
of the answer, and quotes short enough to show as evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ai_runner.domain import guard

MAX_QUOTE_CHARS = 220

WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text)


_SUFFIXES = tuple(
    "ations ation ments ment ness ities ity ings ing ies ied ers er ed es ly s e y".split()
)


def stem(word: str) -> str:
    """A crude stem ("disagreed", "disagreement" -> "disagre"): enough to match a word
    with its inflections, never a synonym."""
    w = word.lower().replace("\u2019", "'").removesuffix("'s")
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    # "disagreement" -> "disagree", "disagreed" -> "disagre": both "disagr"
    bare = w.rstrip("e")
    return bare if len(bare) >= 4 else w


@dataclass
class Sentence:
    """One sentence of an answer: `text` is a verbatim slice (one line, stripped)."""

    text: str
    index: int
    words: list[str]
    injected: bool  # addresses the grader (ai_runner.domain.injection): never read, never quoted


def one_line(text: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def clamp(value: float, low: int = 0, high: int = 100) -> int:
    return int(max(low, min(high, round(value))))


def quote(s: Sentence, offset: int | None = None) -> str:
    """A verbatim quote from `s`: the whole sentence, or the clause around `offset`."""
    text = s.text
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    at = offset or 0
    start = 0
    for m in re.finditer(r"[,;:]\s+", text[:at]):
        start = m.end()
    end_m = re.compile(r"[,;](?=\s)").search(text, max(at, start) + 40)
    end = end_m.start() if end_m else len(text)
    if end - start > MAX_QUOTE_CHARS:
        end = text.rfind(" ", start, start + MAX_QUOTE_CHARS)
        end = end if end > start else start + MAX_QUOTE_CHARS
    return text[start:end].strip()


def quotes(items: Iterable[tuple[Sentence, int]], limit: int = 2) -> tuple[str, ...]:
    """Up to `limit` distinct quotes, each long enough for the evidence guard to accept."""
    out: list[str] = []
    for s, offset in items:
        q = quote(s, offset)
        if len(q) >= guard.MIN_QUOTE_CHARS and q not in out:
            out.append(q)
        if len(out) >= limit:
            break
    return tuple(out)
