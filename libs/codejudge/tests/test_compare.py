"""Comparison rules, as a question author relies on them."""

from __future__ import annotations

import pytest
from codejudge.compare import matches


@pytest.mark.parametrize(
    ("expected", "got", "comparison", "ok"),
    [
        ([0, 1], [0, 1], "exact", True),
        ([0, 1], [1, 0], "exact", False),
        (2, 2.0, "exact", True),
        (True, 1, "exact", False),
        (1, True, "exact", False),
        (None, 0, "exact", False),
        ({"a": [1, 2]}, {"a": [1, 2]}, "exact", True),
        ({"a": 1}, {"a": 1, "b": 2}, "exact", False),
        ([[1, 2], [3]], [[3], [1, 2]], "unordered", True),
        ([[1, 2], [3]], [[3], [2, 1]], "unordered", False),  # only the top level is unordered
        ([1, 1, 2], [1, 2, 2], "unordered", False),
        ([1, 2.0], [2, 1], "unordered", True),
        ("ab", "ab", "unordered", True),
        (0.1 + 0.2, 0.3, "float", True),
        ([1.0, {"x": 2.0000001}], [1, {"x": 2.0}], "float", True),
        (1.0, 1.01, "float", False),
        (1e-9, 0.0, "float", True),
        (float("nan"), float("nan"), "float", True),
        (True, 1.0, "float", False),
    ],
)
def test_comparison_rules(expected: object, got: object, comparison: str, ok: bool) -> None:
    assert matches(expected, got, comparison) is ok  # type: ignore[arg-type]
