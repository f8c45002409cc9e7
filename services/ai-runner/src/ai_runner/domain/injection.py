"""Text in an answer that addresses the grader instead of answering the question: one
detector for every grader. The offline grader leaves such sentences out of its reading, and
the evidence guard (ai_runner.domain.guard) refuses them as evidence whichever grader quoted
them, a model included (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_ROLE_LINE = re.compile(
    r"^\s*[\[<(#*>\s-]*(?:system|assistant|user|developer|grader|evaluator|reviewer|judge|"
    r"instructions?|admin|operator)\s*(?:prompt|message|note|override)?\s*[\])>]*\s*:",
    re.IGNORECASE,
)
_DELIMITER_PATTERNS = (
    re.compile(
        r"</?\s*(?:answer|response|candidate[_ -]?answer|candidate|submission|input|system|"
        r"instructions?|prompt|rubric|user|assistant|code|text|data|solution|grader|eval\w*)"
        r"\b[^>]{0,20}>",
        re.IGNORECASE,
    ),
    re.compile(r"<\|[^|>\n]{0,40}\|>"),
    re.compile(r"\[/?\s*(?:INST|SYS|SYSTEM|ADMIN)\s*\]", re.IGNORECASE),
    re.compile(
        r"\b(?:end|begin|start|close)\s+of\s+(?:the\s+)?(?:candidate'?s?\s+)?"
        r"(?:answer|response|submission|input|prompt|transcript|text|code)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:-{3,}|={3,}|#{3,}|\*{3,})\s*(?:end|begin|start|system|instructions?)\b", re.IGNORECASE
    ),
)
_TEXT_ONLY_DELIMITERS = (re.compile(r'"""|\'\'\'|```'),)
# "ignore the rules": an order to the grader, unless a person in the story did it ("I had to
# ignore the old rules", "we decided to disregard the vendor's guidelines"): see _narrated
_DISREGARD = re.compile(
    r"\b(?:ignore|disregard|override|bypass|forget|overrule)\b[^.\n]{0,40}?"
    r"\b(?:instructions?|rubric|prompt|guidelines|grading|scoring|criteria|system|rules|"
    r"tests?)\b",
    re.IGNORECASE,
)
# what only a grader has: an order about these is an injection even when narrated
_GRADER_THINGS = re.compile(
    r"\b(?:rubric|grading|scoring|(?:previous|above|prior|earlier|all)\s+instructions|"
    r"system\s+prompt|prompt)\b",
    re.IGNORECASE,
)
_NARRATOR = re.compile(
    r"\b(?:i|we|they|he|she|my|our|their|his|her|the\s+team|the\s+company)\b[^.\n]{0,30}$",
    re.IGNORECASE,
)


def _narrated_disregard(text: str) -> bool:
    """An "ignore the X" that orders the grader (imperative, or addressed to "you")."""
    for match in _DISREGARD.finditer(text):
        if _GRADER_THINGS.search(match.group(0)):
            return True
        if not _NARRATOR.search(text[: match.start()]):
            return True
    return False


_INSTRUCTION_PATTERNS = (
    # an upper-case SYSTEM as a role marker, not "our SYSTEM team"
    re.compile(r"\bSYSTEM\b\s*(?:[:>\]]|override|prompt|message|note|instruction)"),
    re.compile(
        r"\b(?:whoever|anyone|the\s+person|those)\s+(?:is\s+|are\s+)?"
        r"(?:marking|grading|scoring|reviewing|assessing|evaluating)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:put|place|rank|score|grade|mark|rate)\b[^.\n]{0,40}?\b(?:top|highest|best|"
        r"first)\s+(?:band|score|grade|mark|tier|level|bracket)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bsystem\s+(?:prompt|message|override)\b", re.IGNORECASE),
    re.compile(
        r"\bas\s+(?:the|an|a|your)\s+(?:ai\s+|automated\s+|llm\s+)?(?:grader|evaluator|judge|"
        r"reviewer|assessor|marker|examiner|scoring\s+\w+|language\s+model|ai|model|assistant)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:note|message|instructions?|memo)\s+(?:to|for)\s+(?:the\s+)?(?:ai\s+|automated\s+)?"
        r"(?:grader|evaluator|judge|reviewer|model|ai|assistant|marker|llm)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:grader|evaluator|reviewer|assessor|judge|llm)\s*[:,]", re.IGNORECASE),
    re.compile(
        r"\byou\s+are\s+(?:now\s+)?(?:a|an|the|in)\s+(?:\w+\s+){0,2}"
        r"(?:grader|grading|evaluator|evaluation|assistant|mode|judge)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bnew\s+instructions?\b|\bjailbreak\b|\bprompt\s+injection\b", re.IGNORECASE),
    re.compile(
        r"\b(?:give|award|assign|grant|rate|score|mark|grade|output|return|respond\s+with|"
        r"report)\b[^.\n]{0,40}?(?:\b100\b(?!\s*%|\s*percent)|\b10\s*/\s*10\b|\bfull\s+marks\b|"
        r"\btop\s+marks\b|\bperfect\s+score\b|\bmaximum\s+score\b|\bhighest\s+score\b|"
        r"\bfull\s+score\b|\bevery\s+test\s+(?:accepted|passed)\b)",
        re.IGNORECASE,
    ),
    re.compile(r"[\"']?\bscore[\"']?\s*[:=]\s*\d+", re.IGNORECASE),
    re.compile(r"\b100\s*/\s*100\b|\bfull\s+marks\b", re.IGNORECASE),
    re.compile(
        r"\b(?:this|the\s+above)\s+(?:answer|response|submission|solution|code)\s+"
        r"(?:is|was|demonstrates|shows|deserves|meets|exceeds|should|gets|passes)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bthe\s+candidate(?:'s)?\s+(?:answer|response|solution|clearly|deserves|should|"
        r"has\s+demonstrated|demonstrates)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bevery\s+(?:rubric\s+)?(?:dimension|criterion|criteria)\b", re.IGNORECASE),
    re.compile(
        r"\b(?:rubric|grading|scoring)\s+(?:does\s+not|doesn't|no\s+longer)\s+apply\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bmark\s+(?:every|all)\s+tests?\b|\bthe\s+tests\s+are\s+wrong\b", re.IGNORECASE),
    re.compile(r"\b(?:evaluation|grading|scoring)\s+(?:override|mode)\b", re.IGNORECASE),
)


def looks_like_instruction(text: str, *, in_code: bool = False) -> bool:
    """Whether `text` addresses the grader instead of answering the question."""
    if _ROLE_LINE.search(text):
        return True
    patterns: Iterable[re.Pattern[str]] = _DELIMITER_PATTERNS + _INSTRUCTION_PATTERNS
    if not in_code:
        patterns = (*patterns, *_TEXT_ONLY_DELIMITERS)
    return any(p.search(text) for p in patterns) or _narrated_disregard(text)


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]?\s+")


def line_addresses_grader(line: str) -> bool:
    """A whole line given over to the grader: a role marker or a fake delimiter."""
    return bool(_ROLE_LINE.search(line)) or any(
        p.search(line) for p in (*_DELIMITER_PATTERNS, *_TEXT_ONLY_DELIMITERS)
    )


def instruction_lines(answer: str) -> list[str]:
    """The lines and sentences of `answer` that address the grader, verbatim."""
    flagged: list[str] = []
    for line in answer.splitlines():
        if not line.strip():
            continue
        if line_addresses_grader(line):
            flagged.append(line.strip())
            continue
        flagged += [
            piece.strip()
            for piece in SENTENCE_SPLIT.split(line)
            if piece.strip() and looks_like_instruction(piece)
        ]
    return flagged
