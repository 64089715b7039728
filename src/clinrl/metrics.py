"""Small statistics used by every task's metrics: proportions with their intervals, and how metrics are shown."""

from __future__ import annotations

import math
from typing import Any, Mapping

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


class Proportion(dict):
    """A proportion (or a mean) with its 95% interval: ``value``, ``ci_low``, ``ci_high``, ``n``.

    A ``dict`` subclass with exactly those four keys, so metrics stay plain JSON (eval logs, ``metrics.json``)
    in the shape they always had, while code reads the typed attributes. :meth:`read` lifts one that came
    back from JSON as a plain dict. ``value`` and the bounds are ``nan`` when ``n`` is 0.
    """

    __slots__ = ()
    KEYS = ("value", "ci_low", "ci_high", "n")

    def __init__(self, value: Any = float("nan"), ci_low: float = float("nan"), ci_high: float = float("nan"),
                 n: int = 0) -> None:
        if isinstance(value, (int, float)) or value is None:
            super().__init__(value=value, ci_low=ci_low, ci_high=ci_high, n=n)
        else:  # dict's own constructor form (pairs or a mapping), which copy and dataclasses.asdict use
            super().__init__(value)

    @property
    def value(self) -> float:
        return self["value"]

    @property
    def ci_low(self) -> float:
        return self["ci_low"]

    @property
    def ci_high(self) -> float:
        return self["ci_high"]

    @property
    def n(self) -> int:
        return self["n"]

    @property
    def interval(self) -> tuple[float, float]:
        return (self["ci_low"], self["ci_high"])

    @classmethod
    def read(cls, data: Any) -> "Proportion | None":
        """``data`` as a Proportion when it has the four keys (e.g. read back from an eval log), else None."""
        if isinstance(data, cls):
            return data
        if isinstance(data, dict) and all(k in data for k in cls.KEYS):
            return cls(data["value"], data["ci_low"], data["ci_high"], data["n"])
        return None


def proportion(successes: int, n: int) -> Proportion:
    """A proportion with its Wilson 95% interval."""
    lo, hi = wilson_interval(successes, n)
    return Proportion(successes / n if n else float("nan"), lo, hi, n)


# -- showing metrics -----------------------------------------------------------------------------
#: keys every task's metrics carry, shown on their own (not as headline rows)
BASE_KEYS = frozenset({"task", "task_version", "groups", "accuracy", "format_valid", "n_unscored", "n"})
#: keys the evaluation harness adds next to a task's metrics (shown in its own "generation" table)
HARNESS_KEYS = frozenset({"n_samples", "n_completions", "n_generation_errors", "n_unscored_completions",
                          "format_valid_rate", "truncation_rate", "mean_completion_tokens", "accuracy_bootstrap",
                          "n_choices", "mean_accuracy_over_draws", "pass_at_k", "reliable_pass_at_k",
                          "majority_at_k"})


def format_proportion(p: dict[str, Any]) -> str:
    """``"34.0%  [22.2, 48.3]  n=47"`` for a :func:`proportion` dict; ``"-"`` when nothing was counted."""
    if not p.get("n"):
        return "-"
    return f"{100 * p['value']:.1f}%  [{100 * p['ci_low']:.1f}, {100 * p['ci_high']:.1f}]  n={p['n']}"


def format_prior(prior: Mapping[str, Any]) -> str:
    """``"reader-free baseline on medcalc: accuracy 37.3% (each calculator's most common training answer, without
    reading the input; n=220)"``: a run's ``answer_prior`` entry (:func:`clinrl.training.health.answer_prior`), as
    the console and the report say it."""
    return (f"reader-free baseline on {prior.get('task', '–')}: {prior.get('metric', 'accuracy')} "
            f"{100 * prior['value']:.1f}% ({prior.get('guess', 'the most common training answer')}, without reading "
            f"the input; n={prior.get('n', '–')})")


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
        if Proportion.read(value) is not None:
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
