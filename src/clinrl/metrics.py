"""Small statistics used by every task's metrics: proportions with intervals, bootstrap."""

from __future__ import annotations

import math
import random
from typing import Callable, Sequence

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well-behaved at 0 and n)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_interval(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float] | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default: the mean)."""
    values = list(values)
    if not values:
        return (float("nan"), float("nan"))
    stat = statistic or (lambda xs: sum(xs) / len(xs))
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(stat([values[rng.randrange(n)] for _ in range(n)]) for _ in range(n_resamples))
    lo_idx = int((1 - confidence) / 2 * n_resamples)
    hi_idx = min(n_resamples - 1, int((1 + confidence) / 2 * n_resamples))
    return (stats[lo_idx], stats[hi_idx])


def proportion(successes: int, n: int) -> dict[str, float | int]:
    """A proportion with its Wilson 95% interval, as a JSON-friendly dict."""
    lo, hi = wilson_interval(successes, n)
    return {"value": successes / n if n else float("nan"), "ci_low": lo, "ci_high": hi, "n": n}
