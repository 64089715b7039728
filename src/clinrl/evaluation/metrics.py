"""Evaluation metrics over eval-log records: bootstrap intervals, pass@k, Reliable pass@k, paired runs.

A *record* is one sample's entry in the eval log: ``{"id", "groups": {...}, "completions": [...]}``
where each completion carries ``correct`` (True / False / None = unscored), ``format_ok``,
``n_tokens``, ``truncated``, ``error`` and ``answer``. Unscored completions never count as wrong:
they are left out of every denominator and counted separately.

Definitions:

* **pass@k** — the unbiased estimator of Chen et al. (2021) per sample, ``1 − C(n−c, k) / C(n, k)``
  with ``n`` scored completions of which ``c`` are correct, averaged over samples.
* **Reliable pass@k** (EHRMIND) — a sample counts only when its ``k`` draws contain at least
  ``⌊k/C⌋ + 2`` correct answers *and* the entropy of the drawn answers is below ``0.8·ln C``, where
  ``C`` is the number of plausible answers (3 for TREC trial labels, 2 for binary EHR tasks). This
  discounts lucky guesses on small answer spaces. For open answer spaces (``C`` unknown, e.g. a
  MedCalc value) the floor term is 0 and the entropy rule is waived: two hits out of ``k`` are needed.
  With more draws than ``k`` the estimate averages the rule over random ``k``-subsets (exact when
  ``k`` equals the number of draws).
* **maj@k** (self-consistency, Wang et al. 2023) — the share of samples whose most common answer among ``k``
  draws is correct: votes go to parsed answers (an unparsed completion casts none; no parsed answer at all counts
  as wrong), ties are split evenly, and with more draws than ``k`` it averages over random ``k``-subsets. It is the
  accuracy a policy sharpened onto its own modal answer would reach: what RL that only *sharpens* can buy over
  greedy decoding.
* **Bootstrap 95% intervals** — percentile bootstrap over samples (1,000 resamples, fixed seed), so
  the interval of a per-category accuracy reflects that category's own size.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from clinrl.metrics import Proportion

N_RESAMPLES = 1000


# -- basic estimators ------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one sample with ``n`` draws of which ``c`` are correct (``k <= n``)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k)/C(n, k) as a product: numerically stable for large n.
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def answer_entropy(answers: Sequence[Any]) -> float:
    """Shannon entropy (nats) of the empirical distribution of answers (None is one answer: "none")."""
    counts = Counter(_answer_key(a) for a in answers)
    total = sum(counts.values())
    return -sum((v / total) * math.log(v / total) for v in counts.values()) if total else 0.0


def _answer_key(answer: Any) -> str:
    return json.dumps(answer, sort_keys=True, default=str)


def reliable_success(correct: Sequence[bool], answers: Sequence[Any], n_choices: int | None) -> bool:
    """EHRMIND's rule for one set of ``k`` draws (see the module docstring)."""
    k = len(correct)
    floor = k // n_choices if n_choices else 0
    if sum(bool(c) for c in correct) < floor + 2:
        return False
    if n_choices and n_choices > 1:
        return answer_entropy(answers) < 0.8 * math.log(n_choices)
    return True


def reliable_pass_at_k(correct: Sequence[bool], answers: Sequence[Any], k: int, n_choices: int | None, *,
                       n_subsets: int = 50, seed: int = 0) -> float:
    """Reliable pass@k of one sample from ``n >= k`` draws."""
    n = len(correct)
    if k < 1 or k > n:
        raise ValueError(f"reliable pass@k needs 1 <= k <= n (n={n}, k={k})")
    if k == n:
        return float(reliable_success(correct, answers, n_choices))
    rng = random.Random(seed)
    hits = 0
    for _ in range(n_subsets):
        idx = rng.sample(range(n), k)
        hits += reliable_success([correct[i] for i in idx], [answers[i] for i in idx], n_choices)
    return hits / n_subsets


def majority_correct(correct: Sequence[bool], answers: Sequence[Any]) -> float:
    """Expected correctness of the most common parsed answer among these draws (ties split evenly)."""
    votes: dict[str, list[bool]] = defaultdict(list)
    for ok, answer in zip(correct, answers, strict=True):
        if answer is not None:
            votes[_answer_key(answer)].append(bool(ok))
    if not votes:
        return 0.0
    top = max(len(v) for v in votes.values())
    leaders = [v for v in votes.values() if len(v) == top]
    # one answer, one verdict: the mean only matters if a verifier judged equal answers differently
    return sum(sum(v) / len(v) for v in leaders) / len(leaders)


def majority_at_k(correct: Sequence[bool], answers: Sequence[Any], k: int, *, n_subsets: int = 50,
                  seed: int = 0) -> float:
    """maj@k of one sample from ``n >= k`` draws (exact when ``k == n``, else over random ``k``-subsets)."""
    n = len(correct)
    if k < 1 or k > n or len(answers) != n:
        raise ValueError(f"maj@k needs 1 <= k <= n and one answer per draw (n={n}, k={k}, answers={len(answers)})")
    if k == n:
        return majority_correct(correct, answers)
    rng = random.Random(seed)
    total = 0.0
    for _ in range(n_subsets):
        idx = rng.sample(range(n), k)
        total += majority_correct([correct[i] for i in idx], [answers[i] for i in idx])
    return total / n_subsets


def bootstrap_mean(values: Sequence[float], *, n_resamples: int = N_RESAMPLES, seed: int = 0,
                   confidence: float = 0.95) -> Proportion:
    """Mean with a percentile-bootstrap interval (``nan`` when empty)."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return Proportion(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_resamples, arr.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Proportion(float(arr.mean()), float(lo), float(hi), int(arr.size))


def default_ks(n: int) -> list[int]:
    """1, 2, 4, … up to ``n``, plus ``n`` itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n >= 1 and ks[-1] != n:
        ks.append(n)
    return ks


# -- record-level summaries ------------------------------------------------------------------------
def scored(completions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in completions if c.get("correct") is not None]


def first_correct(record: Mapping[str, Any]) -> bool | None:
    """Correctness of a record's first completion (the greedy / headline answer)."""
    comps = record.get("completions") or []
    return comps[0].get("correct") if comps else None


def _grouped(records: Sequence[Mapping[str, Any]], value_of: Any) -> dict[str, dict[str, list[float]]]:
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        value = value_of(record)
        if value is None:
            continue
        for group, key in (record.get("groups") or {}).items():
            groups[group][str(key)].append(float(value))
    return groups


def bootstrap_table(records: Sequence[Mapping[str, Any]], value_of: Any, *, seed: int = 0) -> dict[str, Any]:
    """Overall and per-group bootstrap means of ``value_of(record)`` (records giving None are skipped)."""
    values = [v for v in (value_of(r) for r in records) if v is not None]
    return {
        "overall": bootstrap_mean([float(v) for v in values], seed=seed),
        "groups": {g: {k: bootstrap_mean(v, seed=seed) for k, v in sorted(per.items())}
                   for g, per in _grouped(records, value_of).items()},
    }


def pass_at_k_of(record: Mapping[str, Any], k: int) -> float | None:
    comps = scored(record.get("completions") or [])
    if len(comps) < k:
        return None
    return pass_at_k(len(comps), sum(bool(c["correct"]) for c in comps), k)


def reliable_of(record: Mapping[str, Any], k: int, n_choices: int | None, seed: int = 0) -> float | None:
    comps = scored(record.get("completions") or [])
    if len(comps) < k:
        return None
    return reliable_pass_at_k([bool(c["correct"]) for c in comps], [c.get("answer") for c in comps], k,
                              n_choices, seed=seed)


def majority_of(record: Mapping[str, Any], k: int, seed: int = 0) -> float | None:
    comps = scored(record.get("completions") or [])
    if len(comps) < k:
        return None
    return majority_at_k([bool(c["correct"]) for c in comps], [c.get("answer") for c in comps], k, seed=seed)


def summarize(records: Sequence[Mapping[str, Any]], *, n_choices: int | None = None, ks: Sequence[int] | None = None,
              seed: int = 0) -> dict[str, Any]:
    """Everything the harness adds to a task's own metrics (see the module docstring)."""
    all_comps = [c for r in records for c in (r.get("completions") or [])]
    n_draws = min((len(r.get("completions") or []) for r in records), default=0)
    ks = list(ks) if ks is not None else default_ks(n_draws)
    out: dict[str, Any] = {
        "n_samples": len(records),
        "n_completions": len(all_comps),
        "n_generation_errors": sum(1 for c in all_comps if c.get("error")),
        "n_unscored_completions": sum(1 for c in all_comps if c.get("correct") is None),
        "format_valid_rate": _rate(c.get("format_ok") for c in all_comps),
        "truncation_rate": _rate(c.get("truncated") for c in all_comps if not c.get("error")),
        "mean_completion_tokens": _mean(c.get("n_tokens") for c in all_comps if not c.get("error")),
        "accuracy_bootstrap": bootstrap_table(records, first_correct, seed=seed),
        "n_choices": n_choices,
    }
    if n_draws > 1:
        def mean_acc(r: Mapping[str, Any]) -> float | None:
            comps = scored(r.get("completions") or [])
            return sum(bool(c["correct"]) for c in comps) / len(comps) if comps else None

        out["mean_accuracy_over_draws"] = bootstrap_table(records, mean_acc, seed=seed)
    out["pass_at_k"] = {str(k): bootstrap_table(records, lambda r, k=k: pass_at_k_of(r, k), seed=seed) for k in ks}
    out["reliable_pass_at_k"] = {
        str(k): bootstrap_table(records, lambda r, k=k: reliable_of(r, k, n_choices, seed), seed=seed)
        for k in ks if k >= 2
    }
    out["majority_at_k"] = {
        str(k): bootstrap_table(records, lambda r, k=k: majority_of(r, k, seed), seed=seed) for k in ks if k >= 2
    }
    return out


def _rate(flags: Iterable[Any]) -> float | None:
    values = [bool(f) for f in flags if f is not None]
    return sum(values) / len(values) if values else None


def _mean(values: Iterable[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float))]
    return sum(nums) / len(nums) if nums else None


# -- comparing two runs ----------------------------------------------------------------------------
def paired_comparison(records_a: Sequence[Mapping[str, Any]], records_b: Sequence[Mapping[str, Any]], *,
                      n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Accuracy of B minus A on the samples both runs scored, with a paired bootstrap 95% interval.

    Pairs are matched by sample id; samples that either run left unscored are counted in
    ``n_dropped_unscored`` and left out (a failed call is not a wrong answer). ``b_only`` / ``a_only``
    count discordant pairs (the inputs of McNemar's test).
    """
    a = {str(r["id"]): first_correct(r) for r in records_a}
    b = {str(r["id"]): first_correct(r) for r in records_b}
    common = sorted(set(a) & set(b))
    pairs = [(a[i], b[i]) for i in common if a[i] is not None and b[i] is not None]
    diffs = np.asarray([float(y) - float(x) for x, y in pairs])
    result: dict[str, Any] = {
        "n_common": len(common),
        "n_paired": len(pairs),
        "n_dropped_unscored": len(common) - len(pairs),
        "n_only_in_a": len(set(a) - set(b)),
        "n_only_in_b": len(set(b) - set(a)),
        "b_only": sum(1 for x, y in pairs if y and not x),
        "a_only": sum(1 for x, y in pairs if x and not y),
    }
    if not pairs:
        return {**result, "accuracy_a": None, "accuracy_b": None, "difference": bootstrap_mean([])}
    result["accuracy_a"] = sum(bool(x) for x, _ in pairs) / len(pairs)
    result["accuracy_b"] = sum(bool(y) for _, y in pairs) / len(pairs)
    result["difference"] = bootstrap_mean(diffs, n_resamples=n_resamples, seed=seed)
    return result


def paired_by_group(records_a: Sequence[Mapping[str, Any]], records_b: Sequence[Mapping[str, Any]], *,
                    n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`paired_comparison` inside each group of each grouping of the samples (the records' ``groups``: MedCalc's
    category and calculator, EHR's labeling task and gold label, ...), taken from B's records: ``{grouping: {group:
    comparison}}``, both sorted by name. A sample A did not score is counted in ``n_only_in_b``, as overall."""
    members: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for record in records_b:
        for grouping, key in (record.get("groups") or {}).items():
            members[grouping][str(key)].append(record)
    by_id = {str(r["id"]): r for r in records_a}
    return {grouping: {key: paired_comparison([by_id[str(r["id"])] for r in group if str(r["id"]) in by_id], group,
                                              n_resamples=n_resamples, seed=seed)
                       for key, group in sorted(groups.items())}
            for grouping, groups in sorted(members.items())}
