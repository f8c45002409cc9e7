"""Is the answer about the question? Two measures, added up:

- meaning: the cosine similarity between the answer and the question (its title and prompt,
  what its rubric asks for and what a middling and a top answer show, its follow-ups), with
  the static word-embedding model that ships inside the `wordllama` wheel (256-d, no network,
  no GPU), after both lose their component along a plain "a story about work" text, and
  the question also along what every behavioural rubric asks for (context, own part,
  actions, a measured result, reflection), which is in every question and tells none apart;
- the question's own words: the share of the content words of its title, prompt, tags,
  competencies and follow-ups that the answer uses (the same word in any inflection, never a
  synonym).

Meaning finds a story that is about the question in other words; the question's words keep a
strong story told for another question from looking on topic because it is also a story
about work. Together they replace hand-kept synonym tables. Both measure relevance, not
quality: buzzwords about the question's theme score as on topic, so the behavioural reader's
structural signals (first-person actions, figures, outcomes) decide how good an on-topic
answer is.

The model is loaded once per process, on first use, under a lock (about 0.2-0.3 s); call
`warm_up()` from a worker thread to take that off the first grading's path. Embedding an
answer costs well under a millisecond. Similarities are rounded to four decimals so that the
same answer gives the same score in every process.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from contracts.events import BehavioralQuestionSnapshot

from ai_runner.adapters.offline_grader.text import stem, words

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Vector = NDArray[np.floating[Any]]
else:
    Vector = Any

MODEL_NAME = "wordllama l2_supercat 256-d"
KEY_WORD_WEIGHT = 0.5  # one key word share counts like this much cosine similarity

# A question's text is compared with the answer after both lose their component along a
# plain "a story about work" text: every interview answer and every behavioural question
# share that component, and leaving it in lets any work story look on topic.
_WORK_STORY = (
    "Tell me about a time at work. Describe the situation, your task, the actions you took "
    "and the result, and what you learned."
)

# ... and the question loses its component along what every behavioural rubric asks for
# (context, own responsibility, actions, a measured result, reflection): it is in every
# question's text, so it says nothing about which question this one is
_ANY_RUBRIC = (
    "Describes the situation, who was involved and what was at stake. States the candidate's "
    "own responsibility. Shows the concrete actions the candidate took and why. States the "
    "result with numbers. Uses concrete details, names and figures. Shows impact beyond the "
    "task on the team or the business. Reflects on what was learned and what the candidate "
    "now does differently."
)

_load_lock = threading.Lock()
_embed_lock = threading.Lock()
_model: Any = None


def _load() -> Any:
    # wordllama's inference module calls logging.basicConfig() on import: keep the root
    # logger as the service configured it
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
        from wordllama import WordLlama
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    # the wheel carries the weights and the tokenizer (under tokenizers/, where a plain
    # load() looks in tokenizer/ and then tries to download)
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def model() -> Any:
    """The embedding model, loaded on first use (thread-safe)."""
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                _model = _load()
    return _model


def warm_up() -> None:
    """Load the model now (blocking: call it from a thread, not the event loop)."""
    model()
    _work_story()
    _any_rubric()


def embed(texts: list[str]) -> list[Vector]:
    """Unit vectors for `texts` (an empty text gets a zero vector)."""
    m = model()
    with _embed_lock:  # one tokenizer per process: keep its calls apart
        vectors = m.embed([t if t.strip() else "." for t in texts], norm=False)
    out: list[Vector] = []
    for t, v in zip(texts, vectors, strict=True):
        norm = float(np.linalg.norm(v))
        out.append(v / norm if t.strip() and norm > 0 else np.zeros_like(v))
    return out


def _without(v: Vector, direction: Vector) -> Vector:
    rest = v - float(v @ direction) * direction
    norm = float(np.linalg.norm(rest))
    return rest / norm if norm > 0 else rest


@lru_cache(maxsize=1)
def _work_story() -> Vector:
    return embed([_WORK_STORY])[0]


def question_text(question: BehavioralQuestionSnapshot) -> str:
    """What the question is about: its title and prompt, what each rubric dimension asks
    for and what a middling and a top answer show, and its follow-up questions."""
    parts = [f"{question.title}. {question.prompt}"]
    parts += [r.description for r in question.rubric]
    parts += [r.levels[band] for band in ("5", "3") for r in question.rubric if r.levels.get(band)]
    parts += list(question.follow_ups)
    return " ".join(parts)


@lru_cache(maxsize=1)
def _any_rubric() -> Vector:
    return _without(embed([_ANY_RUBRIC])[0], _work_story())


@lru_cache(maxsize=1024)
def _question_vector(text: str) -> Vector:
    return _without(_without(embed([text])[0], _work_story()), _any_rubric())


def similarity(question: BehavioralQuestionSnapshot, answer: str) -> float:
    """Cosine similarity, -1..1, of the answer and the question (work-story part removed)."""
    if not answer.strip():
        return 0.0
    q = _question_vector(question_text(question))
    a = _without(embed([answer])[0], _work_story())
    return round(float(a @ q), 4)


def best_matches(description: str, sentences: list[str], limit: int = 2) -> list[int]:
    """Indices of the sentences closest in meaning to `description`, best first."""
    if not sentences:
        return []
    d = embed([description])[0]
    sims = [round(float(v @ d), 4) for v in embed(sentences)]
    order = sorted(range(len(sentences)), key=lambda i: (-sims[i], i))
    return [i for i in order[:limit] if sims[i] > 0.2]


# words of any question, of the way questions are asked, or of any story about work: they
# say nothing about what this question is about
_NOT_KEY = frozenset(
    stem(w)
    for w in """about above after again against also always another because been before being
    below between both could describe does doing done during each either ever every example
    few from further have having here into itself just like made make many more most much
    must need never once only other over own same should since some something someone such
    tell than that their them then there these they thing things this those through time
    times under until very want well were what when where whether which while who whom whose
    will with without would your yourself happen situation handle approach result outcome
    specific share talk walk give take look think know help first keep work people feel
    learn team""".split()
)


@lru_cache(maxsize=1024)
def _key_stems(text: str) -> frozenset[str]:
    stems = (stem(w) for w in words(text) if len(w) >= 4 and w.isalpha())
    return frozenset(s for s in stems if s not in _NOT_KEY)


def key_words_text(question: BehavioralQuestionSnapshot) -> str:
    parts = [question.title, question.prompt, *question.follow_ups]
    parts += [t.replace("-", " ") for t in (*question.tags, *question.competencies)]
    return " ".join(parts)


def key_word_share(question: BehavioralQuestionSnapshot, answer: str) -> float:
    """The share of the question's key words (by stem) that the answer uses, 0..1."""
    keys = _key_stems(key_words_text(question))
    if not keys:
        return 0.0
    used = {stem(w) for w in words(answer)}
    return round(len(keys & used) / len(keys), 4)


def topicality(question: BehavioralQuestionSnapshot, answer: str) -> float:
    """How much the answer is about the question: meaning plus the question's own words."""
    return round(
        similarity(question, answer) + KEY_WORD_WEIGHT * key_word_share(question, answer), 4
    )
