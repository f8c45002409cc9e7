"""What every bench counts with: nearest-rank percentiles, a latency distribution, and the
exception a bench raises when its figures could not be trusted.

A bench imports this before it takes bench/ off sys.path (its own file names shadow the
service packages), e.g. `from _stats import BenchFailure, Dist, percentile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class BenchFailure(Exception):
    """The bench could not produce trustworthy figures; the message says why."""


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(p / 100 * len(ordered) + 0.999999)))
    return ordered[rank - 1]


@dataclass
class Dist:
    """A latency distribution in milliseconds."""

    n: int
    mean: float
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Dist:
        if not values_ms:
            raise BenchFailure("no samples")
        return cls(
            n=len(values_ms),
            mean=sum(values_ms) / len(values_ms),
            p50=percentile(values_ms, 50),
            p99=percentile(values_ms, 99),
            max=max(values_ms),
        )

    @classmethod
    def of_ns(cls, values_ns: Sequence[int]) -> Dist:
        return cls.of([v / 1e6 for v in values_ns])
