"""Binary-classification metrics for the EHR task.

EHRMIND reports **balanced accuracy** (positive rates are 1–14 %, so plain accuracy rewards always
answering "no"); EHRSHOT reports **AUROC** and **AUPRC**, which need a score per sample — here the
fraction of sampled completions that voted 1.

Conventions: a completion whose answer could not be read (malformed, or a label that is not 0/1)
counts as a *wrong* prediction — it is neither a true positive nor a true negative. Unscored
completions (a crashed verifier) are left out. A sample whose completions all failed to give a
label gets the uninformative score 0.5 for AUROC/AUPRC.

Undefined is NaN, never a number that looks like a result: balanced accuracy, AUROC and AUPRC need
**both** classes among the scored samples (with no positive, an always-negative model would otherwise
score balanced accuracy 1.0 — common with ``--limit`` at 1–14 % prevalence and in per-task groups).
Sensitivity is NaN without a positive, specificity without a negative. ``n_positive`` / ``n_negative``
are reported next to them so a reader sees why.
"""

from __future__ import annotations

from typing import Any, Sequence


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann–Whitney U with average ranks for ties); NaN with one class."""
    pairs = sorted(zip(scores, labels))
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auprc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Average precision (area under the precision–recall step curve, tied scores taken together).

    NaN with one class: without a positive it is 0/0, and with only positives it is 1.0 for any scores."""
    n_pos = sum(1 for y in labels if y)
    if n_pos == 0 or n_pos == len(labels):
        return float("nan")
    order = sorted(zip(scores, labels), key=lambda p: -p[0])
    tp = fp = 0
    ap, prev_recall, i = 0.0, 0.0, 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][0] == order[i][0]:
            tp += order[j][1] == 1
            fp += order[j][1] != 1
            j += 1
        recall, precision = tp / n_pos, tp / (tp + fp)
        ap += (recall - prev_recall) * precision
        prev_recall, i = recall, j
    return ap


def classification_metrics(labels: Sequence[int], predictions: Sequence[int | None],
                           scores: Sequence[float] | None = None) -> dict[str, Any]:
    """Balanced accuracy, sensitivity, specificity (+ AUROC / AUPRC when ``scores`` are given).

    ``predictions[i]`` is ``None`` when completion ``i`` gave no readable label (counted wrong).
    Balanced accuracy (and AUROC / AUPRC) are NaN unless both classes are present.
    """
    n_pos = sum(1 for y in labels if y == 1)
    n_neg = len(labels) - n_pos
    tp = sum(1 for y, p in zip(labels, predictions) if y == 1 and p == 1)
    tn = sum(1 for y, p in zip(labels, predictions) if y == 0 and p == 0)
    sensitivity = tp / n_pos if n_pos else float("nan")
    specificity = tn / n_neg if n_neg else float("nan")
    out: dict[str, Any] = {
        "n": len(labels), "n_positive": n_pos, "n_negative": n_neg,
        "n_unreadable": sum(1 for p in predictions if p is None),
        "balanced_accuracy": (sensitivity + specificity) / 2 if n_pos and n_neg else float("nan"),
        "sensitivity": sensitivity, "specificity": specificity,
        "predicted_positive_rate": (sum(1 for p in predictions if p == 1) / len(predictions)
                                    if predictions else float("nan")),
    }
    if scores is not None:
        out["auroc"] = auroc(labels, scores)
        out["auprc"] = auprc(labels, scores)
    return out
