"""The offline grader, a package beside the model adapter it stands in for (see `grader`)."""

from ai_runner.adapters.offline_grader.behavioural import grade_behavioral_answer
from ai_runner.adapters.offline_grader.code_analysis import (
    estimate_complexity,
    format_complexity,
    parse_complexity,
)
from ai_runner.adapters.offline_grader.grader import (
    MODEL,
    PROMPT_VERSION,
    OfflineGrader,
    introduction,
)
from ai_runner.adapters.offline_grader.injection import looks_like_instruction
from ai_runner.adapters.offline_grader.review import review_code_answer

__all__ = [
    "MODEL",
    "PROMPT_VERSION",
    "OfflineGrader",
    "estimate_complexity",
    "format_complexity",
    "grade_behavioral_answer",
    "introduction",
    "looks_like_instruction",
    "parse_complexity",
    "review_code_answer",
]
