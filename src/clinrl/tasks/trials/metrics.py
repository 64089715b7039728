"""Classification and per-patient ranking metrics for trial matching.

Classification: accuracy, macro-F1, per-class precision / recall / F1 and the confusion matrix (rows = gold,
columns = predicted, plus an ``invalid`` column for answers whose name and index disagree or that broke the
output contract — they count as misses, never as a class).

Ranking (TREC CT's official metrics, per patient over that patient's judged trials, then averaged):
NDCG@10 with graded gains (gold 0 / 1 / 2, as trec_eval), P@10 with *eligible* as relevant (divided by 10,
as trec_eval) and MRR of the first eligible trial. Trials are ranked by a score: the predicted label by default
(eligible > excluded > not relevant > invalid), or a real-valued score when one is supplied. Predicted labels
tie a lot, so ties are handled exactly in expectation over a random order within each tie (McSherry & Najork,
2008) rather than by an arbitrary tie-break that would flatter or punish a model by accident.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

INVALID = "invalid"


def classification_metrics(gold: Sequence[int], predicted: Sequence[int | None],
                           names: Sequence[str]) -> dict[str, Any]:
    """``predicted[i]`` is a class index or ``None`` (invalid answer)."""
    k = len(names)
    matrix = [[0] * (k + 1) for _ in range(k)]
    for g, p in zip(gold, predicted):
        matrix[g][k if p is None else p] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    f1s = []
    for c, name in enumerate(names):
        tp = matrix[c][c]
        n_pred = sum(matrix[g][c] for g in range(k))
        n_gold = sum(matrix[c])
        precision = tp / n_pred if n_pred else float("nan")
        recall = tp / n_gold if n_gold else float("nan")
        if n_pred + n_gold == 0:
            f1 = float("nan")
        else:
            f1 = 2 * tp / (n_pred + n_gold)
            f1s.append(f1)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold,
                           "predicted": n_pred}
    n = len(gold)
    return {
        "n": n,
        "accuracy": sum(matrix[c][c] for c in range(k)) / n if n else float("nan"),
        "macro_f1": sum(f1s) / len(f1s) if f1s else float("nan"),
        "per_class": per_class,
        "confusion": {"labels": list(names), "columns": [*names, INVALID],
                      "matrix": {names[g]: dict(zip([*names, INVALID], matrix[g])) for g in range(k)}},
    }


def _tie_groups(items: list[tuple[float, int]]) -> list[list[int]]:
    """Gold labels grouped by equal score, best score first."""
    groups: dict[float, list[int]] = defaultdict(list)
    for score, gold in items:
        groups[score].append(gold)
    return [groups[s] for s in sorted(groups, reverse=True)]


def expected_dcg(groups: list[list[int]], k: int) -> float:
    dcg, position = 0.0, 0
    for group in groups:
        mean_gain = sum(group) / len(group)
        for offset in range(len(group)):
            if position + offset >= k:
                return dcg
            dcg += mean_gain / math.log2(position + offset + 2)
        position += len(group)
    return dcg


def expected_precision(groups: list[list[int]], k: int, relevant: int = 2) -> float:
    hits, position = 0.0, 0
    for group in groups:
        take = min(len(group), k - position)
        if take <= 0:
            break
        hits += take * sum(1 for g in group if g >= relevant) / len(group)
        position += len(group)
    return hits / k


def expected_reciprocal_rank(groups: list[list[int]], relevant: int = 2) -> float:
    position = 0
    for group in groups:
        n, r = len(group), sum(1 for g in group if g >= relevant)
        if r:
            total = math.comb(n, r)
            # P(first relevant of the group lands at its j-th slot) = C(n - j, r - 1) / C(n, r)
            return sum(math.comb(n - j, r - 1) / total / (position + j) for j in range(1, n - r + 2))
        position += n
    return 0.0


def ranking_metrics(query_ids: Sequence[str], gold: Sequence[int], scores: Sequence[float],
                    k: int = 10) -> dict[str, Any]:
    """Per-patient NDCG@k, P@k and MRR, averaged over patients (tie-aware, see module docstring).

    Patients with no gain at all are left out of NDCG, and patients with no eligible trial out of MRR;
    both counts are reported.
    """
    per_patient: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for qid, g, s in zip(query_ids, gold, scores):
        per_patient[qid].append((float(s), int(g)))
    ndcgs, precisions, rrs = [], [], []
    for items in per_patient.values():
        groups = _tie_groups(items)
        ideal = expected_dcg([[g] for g in sorted((g for _, g in items), reverse=True)], k)
        if ideal > 0:
            ndcgs.append(expected_dcg(groups, k) / ideal)
        precisions.append(expected_precision(groups, k))
        if any(g >= 2 for _, g in items):
            rrs.append(expected_reciprocal_rank(groups))
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return {
        f"ndcg@{k}": mean(ndcgs), f"p@{k}": mean(precisions), "mrr": mean(rrs),
        "n_patients": len(per_patient),
        "patients_without_gain": len(per_patient) - len(ndcgs),
        "patients_without_eligible": len(per_patient) - len(rrs),
    }
