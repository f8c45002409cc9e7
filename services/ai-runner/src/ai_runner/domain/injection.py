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


# What makes a sentence an instruction to the grader rather than part of a story is whom it
# addresses and what it is about, not any single word. Four signals, each a small grammar:
#
# 1. it addresses the reader as the one who grades: a vocative or a label naming that role
#    ("Reviewer, ...", "grading hint: ...", "[evaluator instruction: ...]"), "if you are an
#    AI", "for the AI doing the scoring", "whoever is marking this", "before you score this";
_GRADER = (
    r"(?:ai|a\.i\.|llm|language\s+model|model|assistant|chatbot|bot|grader|evaluator|marker|"
    r"assessor|examiner|scorer|reviewer|judge)"
)
_GRADING = r"(?:marking|grading|scoring|reviewing|assessing|evaluating|rating|reading|checking)"
_ADDRESSES_GRADER = (
    # "Reviewer, give ...", "Grader: ...": the role as a vocative at the start of a clause
    re.compile(rf"(?:^|[(\[{{<>;:.!?]\s*)\W*(?:dear\s+|hey\s+|hi\s+)?{_GRADER}\s*[:,]", re.I),
    # a label that names grading ("grading instruction:", "[evaluator note: ...")
    re.compile(
        rf"\b(?:{_GRADER}|grading|scoring|marking|evaluation|assessment|rubric|system)\s+"
        r"(?:instructions?|hint|note|notice|message|directive|override|guidance|memo|tip)s?\s*:",
        re.I,
    ),
    # "note to the AI grader", "P.S. for the AI", "to the person grading this"
    re.compile(
        rf"\b(?:note|message|instructions?|memo|p\.?\s?s\.?|reminder|hint)?\s*(?:to|for)\s+"
        rf"(?:the|any|an?|you,?\s+the)\s+(?:ai\s+|automated\s+|llm\s+)?{_GRADER}\b"
        rf"(?!\s+(?:team|teams|group|vendor|project|library|feature|code|pipeline|training))",
        re.I,
    ),
    re.compile(
        rf"\b(?:whoever|anyone|the\s+person|those|you)\s+(?:who\s+)?(?:is\s+|are\s+)?{_GRADING}"
        r"\s+(?:this|the\s+(?:answer|response|submission))\b|"
        rf"\b(?:whoever|anyone|the\s+person|those)\s+(?:is\s+|are\s+)?{_GRADING}\b",
        re.I,
    ),
    re.compile(rf"\b{_GRADER}\s+(?:that\s+is\s+|who\s+is\s+)?{_GRADING}\s+(?:this|the)\b", re.I),
    re.compile(rf"\bif\s+you\s+are\s+(?:a|an|the)\s+(?:\w+\s+){{0,2}}?{_GRADER}\b", re.I),
    re.compile(
        r"\byou\s+are\s+(?:now\s+)?(?:a|an|the|in)\s+(?:\w+\s+){0,2}"
        r"(?:grader|grading|evaluator|evaluation|assistant|mode|judge)\b",
        re.I,
    ),
    re.compile(
        rf"\bas\s+(?:the|an|a|your)\s+(?:ai\s+|automated\s+|llm\s+)?(?:{_GRADER}|"
        r"scoring\s+\w+|language\s+model)\b(?=[^.\n]{0,60}\b(?:you|must|should|score|grade|"
        r"rate|mark|output)\b)",
        re.I,
    ),
    re.compile(r"\bbefore\s+you\s+(?:score|grade|mark|rate|review|evaluate|assess)\b", re.I),
)
# 2. it is about the grader's own instructions: overriding them, or declaring them met;
_OVERRIDES_INSTRUCTIONS = (
    re.compile(
        r"\b(?:previous|above|prior|earlier|original|your|all(?:\s+the)?(?:\s+previous)?|"
        r"any(?:\s+other)?|system)\s+(?:instructions?|prompts?|guidelines\s+for\s+grading)\b",
        re.I,
    ),
    re.compile(r"\binstructions?\s+(?:no\s+longer|do\s+not|don't)\s+apply\b", re.I),
    re.compile(
        r"\b(?:rubric|grading|scoring|criteria)\s+(?:does\s+not|doesn't|no\s+longer)\s+apply\b|"
        r"\b(?:rubric|criteria)\s+(?:has|have|is|are)\s+(?:already\s+)?(?:been\s+)?"
        r"(?:satisfied|met|fulfilled)\b",
        re.I,
    ),
    re.compile(r"\bsystem\s+(?:prompt|message|override)\b", re.I),
    re.compile(r"\bnew\s+instructions?\b|\bjailbreak\b|\bprompt\s+injection\b", re.I),
    re.compile(r"\b(?:evaluation|grading|scoring)\s+(?:override|mode)\b", re.I),
    # an upper-case SYSTEM as a role marker, not "our SYSTEM team"
    re.compile(r"\bSYSTEM\b\s*(?:[:>\]]|override|prompt|message|note|instruction)"),
)
# 3. it asks for a mark: the top of a scale or a verdict, as the object of an order ("give",
#    "reply with", "mark it as", "should be rated") or said of this answer itself;
_TOP_MARK = (
    r"(?:\b100\b(?!\s*%|\s*percent)|\b10\s*/\s*10\b|\b100\s*/\s*100\b|\b5\s*/\s*5\b|"
    r"\bfive\s+out\s+of\s+five\b|\bten\s+out\s+of\s+ten\b|\bfull\s+(?:marks|score|points)\b|"
    r"\btop\s+(?:marks|band|score|grade|tier|level|bracket|rating)\b|\bperfect\s+score\b|"
    r"\bmaximum(?:\s+(?:marks?|score|points|rating|grade))?\b|\bmax\s+score\b|"
    r"\bhighest\s+(?:possible\s+)?(?:score|band|grade|mark|marks|rating|level|tier)\b|"
    r"\bstrong\s+hire\b|\bexemplary\b|\bexcellent\s+(?:answer|response)\b|\bpre-approved\b|"
    r"\bevery\s+test\s+(?:accepted|passed)\b|\bevery\s+(?:rubric\s+)?(?:dimension|criterion|"
    r"criteria)\b)"
)
_ASKS_FOR_A_MARK = (
    re.compile(
        r"\b(?:give|award|assign|grant|rate|score|mark|grade|output|return|respond\s+with|"
        r"reply\s+with|answer\s+with|report|treat|consider|put|place|rank|print|classify|"
        r"be\s+(?:rated|scored|marked|graded|treated|given|ranked|placed))\b"
        rf"[^.\n]{{0,50}}?{_TOP_MARK}",
        re.I,
    ),
    re.compile(r"[\"']?\bscore[\"']?\s*[:=]\s*\d+", re.I),
    re.compile(r"\bmark\s+(?:every|all)\s+tests?\b|\bthe\s+tests\s+are\s+wrong\b", re.I),
)
# 4. it grades the answer itself: "this answer deserves ...", "the candidate clearly ..."
_GRADES_ITSELF = (
    re.compile(
        r"\b(?:this|the\s+above|the\s+following)\s+(?:answer|response|submission|solution|code)"
        r"\s+(?:is|was|demonstrates|shows|deserves|meets|exceeds|should|gets|passes|be)\b|"
        r"\bthe\s+(?:answer|response|submission)\s+(?:below|above)\s+(?:is|was|deserves|should)\b",
        re.I,
    ),
    re.compile(
        r"\bthe\s+candidate(?:'s)?\s+(?:answer|response|solution|clearly|deserves|should|"
        r"has\s+demonstrated|demonstrates|is\s+pre-approved)\b",
        re.I,
    ),
)
_INSTRUCTION_PATTERNS = (
    *_ADDRESSES_GRADER,
    *_OVERRIDES_INSTRUCTIONS,
    *_ASKS_FOR_A_MARK,
    *_GRADES_ITSELF,
)


def looks_like_instruction(text: str, *, in_code: bool = False) -> bool:
    """Whether `text` addresses the grader instead of answering the question."""
    if _ROLE_LINE.search(text):
        return True
    patterns: Iterable[re.Pattern[str]] = _DELIMITER_PATTERNS + _INSTRUCTION_PATTERNS
    if not in_code:
        patterns = (*patterns, *_TEXT_ONLY_DELIMITERS)
    return any(p.search(text) for p in patterns) or _narrated_disregard(text)


# a sentence ends at . ! or ?, but not after a dotted abbreviation ("P.S.", "e.g.", "i.e.")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])(?<!\b[A-Za-z]\.[A-Za-z]\.)[\"')\]]?\s+")


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
