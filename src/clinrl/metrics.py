"""Small statistics used by every task's metrics: proportions with intervals, bootstrap."""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

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


# -- showing metrics -----------------------------------------------------------------------------
#: keys every task's metrics carry, shown on their own (not as headline rows)
BASE_KEYS = frozenset({"task", "task_version", "groups", "accuracy", "format_valid", "n_unscored", "n"})
#: keys the evaluation harness adds next to a task's metrics (shown in its own "generation" table)
HARNESS_KEYS = frozenset({"n_samples", "n_completions", "n_generation_errors", "n_unscored_completions",
                          "format_valid_rate", "truncation_rate", "mean_completion_tokens", "accuracy_bootstrap",
                          "n_choices", "mean_accuracy_over_draws", "pass_at_k", "reliable_pass_at_k"})


def format_proportion(p: dict[str, Any]) -> str:
    """``"34.0%  [22.2, 48.3]  n=47"`` for a :func:`proportion` dict; ``"-"`` when nothing was counted."""
    if not p.get("n"):
        return "-"
    return f"{100 * p['value']:.1f}%  [{100 * p['ci_low']:.1f}, {100 * p['ci_high']:.1f}]  n={p['n']}"


def format_number(x: float) -> str:
    if x != x:  # NaN: undefined here (e.g. sensitivity without a positive case)
        return "- (undefined)"
    return str(x) if isinstance(x, int) else f"{x:.4f}"


def _is_count(name: str) -> bool:
    return name == "n" or name.startswith("n_")


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """A task's own headline numbers beyond accuracy (macro-F1, balanced accuracy, NDCG@10, mean reward,
    HealthBench score, ...) as ``(name, text)`` rows: top-level numbers, intervals, and the numbers one
    level down. The evaluation harness's own keys are left out (they have their own table)."""
    rows = []
    for key, value in metrics.items():
        if key in BASE_KEYS or key in HARNESS_KEYS:
            continue
        if isinstance(value, dict) and "value" in value and "n" in value:
            rows.append((key.replace("_", " "), format_proportion(value)))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((key.replace("_", " "), format_number(value)))
        elif isinstance(value, dict):
            if isinstance(value.get("n_positive"), int) and isinstance(value.get("n_negative"), int):
                # a binary metric block: the class counts say why balanced accuracy / AUROC may be undefined
                rows.append((f"{key.replace('_', ' ')}: gold positive / negative",
                             f"{value['n_positive']} / {value['n_negative']}"))
            rows += [(f"{key.replace('_', ' ')}: {sub.replace('_', ' ')}", format_number(v))
                     for sub, v in value.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool) and not _is_count(sub)
                     and sub not in metrics and not key.endswith("_config")]
    return rows
