"""Where the offline grader meets text addressed to it: it uses the one detector every grader
shares (`ai_runner.domain.injection`) and only decides what that means for its reading.

A sentence that addresses the grader is left out before anything is measured and is never
quoted; such text can only lower a score."""

from __future__ import annotations

from ai_runner.adapters.offline_grader.text import Sentence, words
from ai_runner.domain.injection import (
    SENTENCE_SPLIT,
    line_addresses_grader,
    looks_like_instruction,
)

__all__ = ["looks_like_instruction", "split_sentences", "unique_sentences"]


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of `text`, each a verbatim slice; those addressing the grader are flagged."""
    out: list[Sentence] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        line_flag = line_addresses_grader(line)
        for piece in SENTENCE_SPLIT.split(line):
            piece = piece.strip()
            if not piece:
                continue
            found = words(piece)
            injected = line_flag or looks_like_instruction(piece)
            if not found and not injected:
                continue
            out.append(Sentence(piece, len(out), found, injected))
    return out


def unique_sentences(sentences: list[Sentence]) -> list[Sentence]:
    """The sentences not addressed to the grader, each once (repetition adds no evidence),
    renumbered in order."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for s in sentences:
        key = " ".join(s.text.lower().split())
        if s.injected or key in seen:
            continue
        seen.add(key)
        out.append(Sentence(s.text, len(out), s.words, False))
    return out
