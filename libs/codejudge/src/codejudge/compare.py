"""How a returned value is compared with the expected one.

Values arrive as JSON from both languages, so the rules are about JSON values: a boolean is
never a number (Python's `True == 1` would otherwise pass), an integral float equals the
integer (JavaScript has no integers, Python writes `2.0`), and tuples are lists.

- exact: structural equality.
- unordered: the order of a top-level list is ignored; both lists are sorted by the
  canonical JSON of their items and compared item by item.
- float: numbers match within 1e-6 relative or absolute, recursively through lists and
  objects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from contracts.events import Comparison

FLOAT_TOLERANCE = 1e-6
PREVIEW_CHARS = 200

NumberRule = Callable[[float, float], bool]


def _exact_numbers(a: float, b: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _close_numbers(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(expected: Any, got: Any, numbers: NumberRule) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    if _is_number(expected) and _is_number(got):
        return numbers(expected, got)
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
        return len(expected) == len(got) and all(
            _same(e, g, numbers) for e, g in zip(expected, got, strict=True)
        )
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(
            _same(expected[key], got[key], numbers) for key in expected
        )
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, str) and isinstance(got, str):
        return expected == got
    return False


def _normalized(value: Any) -> Any:
    """Integral floats become ints, so that 2 and 2.0 sort and compare as one value."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(_normalized(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def matches(expected: Any, got: Any, comparison: Comparison) -> bool:
    if comparison == "exact":
        return _same(expected, got, _exact_numbers)
    if comparison == "float":
        return _same(expected, got, _close_numbers)
    if comparison == "unordered":
        if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
            if len(expected) != len(got):
                return False
            ordered_expected = sorted(expected, key=canonical_json)
            ordered_got = sorted(got, key=canonical_json)
            return _same(ordered_expected, ordered_got, _exact_numbers)
        return _same(expected, got, _exact_numbers)
    raise ValueError(f"unknown comparison {comparison!r}")


def preview(value: Any) -> str:
    """A short rendering for `expected X, got Y` (visible tests only)."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > PREVIEW_CHARS:
        return text[:PREVIEW_CHARS] + "..."
    return text
