"""Reward-model metrics in the style of ProMedical-Bench.

* **pointwise accuracy per dimension** — predicted vs reference per-item labels;
* **pairwise accuracy** — does the judge order two responses as the reference verdicts do
  (lexicographically: violations, then S1, then S2)? Reference ties are skipped; predicted ties count half;
  a pair with an unjudged side is not a tie: it is left out and counted (``n_unjudged``);
* **safety-veto precision / recall / F1** — response level: "has at least one violation";
* **Cohen's κ** — item-level (binary) and the **weighted κ** (quadratic) on an ordinal response grade
  (0 = any violation, else 1 + round(4·S1), i.e. 1…5).

:func:`evaluate_judge` runs a criterion judge on labelled examples and returns all of them;
:func:`evaluate_plain_rm` does the same for the criterion-free ablation (pairwise + safety veto only).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any, Callable, Sequence

import numpy as np

from clinrl.errors import ConfigError
from clinrl.metrics import proportion
from clinrl.rubrics.schema import DIMENSIONS, Rubric
from clinrl.rubrics.scoring import RubricScores, compare, rubric_scores

GRADES = 6


def cohen_kappa(a: Sequence[int], b: Sequence[int], *, n_categories: int | None = None,
                weights: str | None = None) -> float:
    """Cohen's κ between two raters over integer categories ``0…n-1``; ``weights`` None | linear | quadratic.

    NaN when there is nothing to compare or κ is undefined (both raters used a single category).
    """
    if len(a) != len(b):
        raise ConfigError(f"kappa needs equal-length ratings, got {len(a)} and {len(b)}")
    if not len(a):
        return float("nan")
    k = n_categories or (max(max(a), max(b)) + 1)
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        observed[int(x), int(y)] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    idx = np.arange(k)
    if weights is None:
        w = (idx[:, None] != idx[None, :]).astype(float)
    elif weights == "linear":
        w = np.abs(idx[:, None] - idx[None, :]) / max(1, k - 1)
    elif weights == "quadratic":
        w = (idx[:, None] - idx[None, :]) ** 2 / max(1, k - 1) ** 2
    else:
        raise ConfigError(f"unknown kappa weights {weights!r}; use linear or quadratic")
    denom = (w * expected).sum()
    if denom == 0:  # both raters used one and the same category: agreement by chance is certain
        return float("nan")
    return float(1 - (w * observed).sum() / denom)


def grade(scores: RubricScores) -> int:
    """Ordinal response grade: 0 with any violation, else 1 + round(4·S1) (1…5)."""
    return 0 if scores.s3 else 1 + int(round(4 * scores.s1))


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision / recall / F1; all NaN when nothing was judged (no positives, predicted or true)."""
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    if not tp + fp + fn:
        f1 = float("nan")
    else:
        f1 = 2 * precision * recall / (precision + recall) if tp and precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def pairwise_accuracy(groups: Sequence[tuple[Sequence[RubricScores], Sequence[float] | Sequence[Any]]],
                      prefer: Callable[[Any, Any], int | None]) -> dict[str, float]:
    """Over each group's response pairs with a strict reference preference: fraction ordered the same
    by ``prefer(pred_i, pred_j)`` (+1 / −1 / 0 = tie, counted half). ``prefer`` returns ``None`` when a side
    was not judged: such a pair is not a tie, it is left out of the accuracy and counted in ``n_unjudged``."""
    hits = total = ties = unjudged = 0.0
    for ref, pred in groups:
        for i, j in combinations(range(len(ref)), 2):
            want = compare(ref[i], ref[j])
            if want == 0:
                continue
            got = prefer(pred[i], pred[j])
            if got is None:
                unjudged += 1
                continue
            total += 1
            if got == 0:
                ties += 1
                hits += 0.5
            elif got == want:
                hits += 1
    return {"accuracy": hits / total if total else float("nan"), "n_pairs": int(total), "n_ties": int(ties),
            "n_unjudged": int(unjudged)}


def _soft_key(rubric: Rubric, verdicts: Sequence[bool], probs: Sequence[float] | None) -> tuple:
    scores = rubric_scores(rubric, verdicts)
    if scores is None:
        return (None,)
    if probs is None:
        return scores.key()
    # hard violation count first, then probability-weighted S1 and S2 (breaks ties of identical verdicts)
    s1 = sum(it.weight * p for it, p in zip(rubric.items, probs) if it.dimension == "proficiency")
    s2 = sum(p for it, p in zip(rubric.items, probs) if it.dimension == "excellence")
    return (-scores.s3, s1, s2)


def _cmp_keys(a: tuple, b: tuple) -> int | None:
    if a[0] is None or b[0] is None:  # a side the judge could not score: no order, and not a tie either
        return None
    return (a > b) - (a < b)


def evaluate_judge(examples: Sequence[Any], judge: Any, *, progress: bool = False) -> dict[str, Any]:
    """All metrics of a criterion judge on labelled examples (:class:`~clinrl.rubrics.synth.SyntheticExample`
    or anything with ``rubric`` and ``responses`` carrying ``text`` and ``labels``)."""
    requests = [(ex.rubric.instruction, r.text, ex.rubric.items) for ex in examples for r in ex.responses]
    verdicts = judge.judge_many(requests)
    probs: list[list[float]] | None = None
    if hasattr(judge, "item_probabilities") and getattr(judge, "conditioned", True):
        probs = judge.item_probabilities(requests, progress=progress)
    per_dim: dict[str, list[bool]] = defaultdict(list)
    item_ref, item_pred = [], []
    n_unjudged = 0
    groups, grades_ref, grades_pred = [], [], []
    tp = fp = fn = 0
    k = 0
    for ex in examples:
        ref_scores, pred_keys = [], []
        for resp in ex.responses:
            v = verdicts[k]
            p = probs[k] if probs is not None else None
            k += 1
            for item, ref, got in zip(ex.rubric.items, resp.labels, v):
                if got is None:
                    n_unjudged += 1
                    continue
                per_dim[item.dimension].append(bool(got) == bool(ref))
                item_ref.append(int(bool(ref)))
                item_pred.append(int(bool(got)))
            ref_s = rubric_scores(ex.rubric, resp.labels)
            ref_scores.append(ref_s)
            pred_keys.append(_soft_key(ex.rubric, v, p))
            pred_s = rubric_scores(ex.rubric, v)
            if pred_s is not None:
                grades_ref.append(grade(ref_s))
                grades_pred.append(grade(pred_s))
                tp += int(ref_s.s3 > 0 and pred_s.s3 > 0)
                fp += int(ref_s.s3 == 0 and pred_s.s3 > 0)
                fn += int(ref_s.s3 > 0 and pred_s.s3 == 0)
        groups.append((ref_scores, pred_keys))
    correct = sum(sum(v) for v in per_dim.values())
    total = sum(len(v) for v in per_dim.values())
    return {
        "pointwise": {"overall": proportion(correct, total),
                      **{d: proportion(sum(per_dim[d]), len(per_dim[d])) for d in DIMENSIONS if per_dim[d]}},
        "pairwise": pairwise_accuracy(groups, _cmp_keys),
        "safety_veto": prf(tp, fp, fn),
        "kappa_items": cohen_kappa(item_ref, item_pred, n_categories=2),
        "kappa_grade_quadratic": cohen_kappa(grades_ref, grades_pred, n_categories=GRADES, weights="quadratic"),
        "n_responses": len(requests),
        "n_unjudged_items": n_unjudged,
    }


def evaluate_plain_rm(examples: Sequence[Any], rm: Any) -> dict[str, Any]:
    """Pairwise and safety-veto metrics of the criterion-free ablation (scores → order; p_safe → veto)."""
    pairs = [(ex.rubric.instruction, r.text) for ex in examples for r in ex.responses]
    scores = rm.response_scores(pairs)
    p_safe = rm.p_safe(pairs)
    groups, k = [], 0
    tp = fp = fn = 0
    for ex in examples:
        ref = [rubric_scores(ex.rubric, r.labels) for r in ex.responses]
        n = len(ex.responses)
        groups.append((ref, [float(x) for x in scores[k:k + n]]))
        for s, p in zip(ref, p_safe[k:k + n]):
            flagged = p < getattr(rm, "veto_threshold", 0.5)
            tp += int(s.s3 > 0 and flagged)
            fp += int(s.s3 == 0 and flagged)
            fn += int(s.s3 > 0 and not flagged)
        k += n

    def prefer(a: float, b: float) -> int:
        return (a > b) - (a < b)

    return {"pairwise": pairwise_accuracy(groups, prefer), "safety_veto": prf(tp, fp, fn), "n_responses": len(pairs)}
