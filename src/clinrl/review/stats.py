"""Per-round review statistics and inter-rater agreement."""

from __future__ import annotations

import difflib
import math
import statistics
from typing import Any, Hashable, Sequence

from clinrl.review.store import APPROVED, REJECTED, ReviewStore
from clinrl.rubrics import metrics


def rubric_text(rubric: dict[str, Any]) -> str:
    """A canonical text rendering of a rubric's items (what an edit changes)."""
    return "\n".join(f"{it['dimension']}|{float(it.get('weight', 0)):.3f}|{it['text']}" for it in rubric["items"])


def edit_distance(original: dict[str, Any], current: dict[str, Any]) -> float:
    """0 = untouched, 1 = rewritten entirely (1 − difflib similarity of the canonical texts)."""
    a, b = rubric_text(original), rubric_text(current)
    if a == b:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def round_stats(store: ReviewStore) -> list[dict[str, Any]]:
    """Per round: counts, pass rate (approved ÷ decided), mean edit distance, median time per rubric."""
    out = []
    for rnd in store.rounds():
        rows = store.round_rows(rnd)
        decided = [r for r in rows if r["status"] in (APPROVED, REJECTED)]
        approved = [r for r in decided if r["status"] == APPROVED]
        edits = [edit_distance(r["original"], r["current"]) for r in decided]
        times = [r["seconds_spent"] for r in decided if r["seconds_spent"] > 0]
        out.append({
            "round": rnd, "total": len(rows), "pending": len(rows) - len(decided), "approved": len(approved),
            "rejected": len(decided) - len(approved),
            "pass_rate": len(approved) / len(decided) if decided else None,
            "mean_edit_distance": statistics.fmean(edits) if edits else None,
            "edited_fraction": sum(e > 0 for e in edits) / len(edits) if edits else None,
            "median_seconds_per_rubric": statistics.median(times) if times else None,
        })
    return out


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], *, weights: str | None = None,
                categories: Sequence[Hashable] | None = None) -> float | None:
    """Cohen's κ between two reviewers over any hashable labels (:func:`clinrl.rubrics.metrics.cohen_kappa`).

    ``weights`` = None, ``"linear"`` or ``"quadratic"`` (ordinal categories, in the order of
    ``categories``). Pairs where either label is ``None`` are left out; ``None`` when nothing is left or
    agreement by chance is certain (κ is undefined then).
    """
    if len(a) != len(b):
        raise ValueError(f"rater label lists differ in length ({len(a)} vs {len(b)})")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    cats = list(categories) if categories is not None else sorted({v for p in pairs for v in p}, key=str)
    if not pairs or len(cats) < 2:
        return None
    index = {c: i for i, c in enumerate(cats)}
    value = metrics.cohen_kappa([index[x] for x, _ in pairs], [index[y] for _, y in pairs],
                                n_categories=len(cats), weights=weights)
    return None if math.isnan(value) else value


def adjudication_agreement(export_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """κ between the first two reviewers over every criterion both labelled, plus counts."""
    first, second = [], []
    for row in export_rows:
        for criterion, a in row["first"].items():
            first.append(a)
            second.append(row["second"].get(criterion))
    both = sum(1 for x, y in zip(first, second) if x is not None and y is not None)
    agree = sum(1 for x, y in zip(first, second) if x is not None and x == y)
    resolved = sum(1 for row in export_rows for v in row["labels"].values() if v is not None)
    total = sum(len(row["labels"]) for row in export_rows)
    return {"kappa": cohen_kappa(first, second, categories=[False, True]), "pairs": both,
            "raw_agreement": agree / both if both else None, "resolved": resolved, "unresolved": total - resolved}
