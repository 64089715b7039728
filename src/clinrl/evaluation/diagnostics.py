"""EHRMIND's RLVR viability diagnostic: can GRPO alone learn a category, judged from pass@k.

**RLVR viability.** GRPO learns only from prompts whose sampled group holds both right and wrong
answers: a category where the base model almost never samples a correct answer gives no signal, and
EHRMIND found RLVR alone cannot fix such *missing knowledge* — the SFT warm-up must inject it first.
:func:`rlvr_viability` reads an eval log made on the **training** split with ``k`` samples per prompt
(temperature > 0) and gives per category: pass@1, pass@k (Reliable pass@k when the task has a small
answer space), maj@k (the majority answer's accuracy: where a policy that RL only sharpens onto its own modal
answer would land; pass@k above it is headroom that sharpening alone does not reach), the share of prompts with a
mixed group, and a verdict. clinrl's default thresholds
(not numbers from the paper; change them with the arguments): pass@k ≥ 0.5 → ``rl-viable``;
0.1 ≤ pass@k < 0.5 → ``warm-up advised``; pass@k < 0.1 → ``needs warm-up``.

The failure taxonomy of a wrong MedCalc answer is MedCalc's own: :mod:`clinrl.tasks.medcalc.taxonomy`,
reached through the task's ``failure_taxonomy`` hook.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

from clinrl.evaluation.metrics import bootstrap_mean, majority_at_k, pass_at_k, reliable_pass_at_k, scored

VIABLE, ADVISED, NEEDS = "rl-viable", "warm-up advised", "needs warm-up"


def rlvr_viability(records: Sequence[Mapping[str, Any]], *, k: int | None = None, n_choices: int | None = None,
                   viable_at: float = 0.5, advised_at: float = 0.1, group: str = "category",
                   seed: int = 0) -> dict[str, Any]:
    """Per-category RLVR viability from a multi-sample eval log on the training split."""
    draws = [len(scored(r.get("completions") or [])) for r in records]
    usable = [d for d in draws if d >= 2]
    if not usable:
        raise ValueError("RLVR viability needs >= 2 scored completions per prompt (run with --n-samples K "
                         "and --temperature > 0 on the training split)")
    k = k or min(usable)
    per: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        if len(scored(r.get("completions") or [])) >= k:
            per[str((r.get("groups") or {}).get(group, "all"))].append(r)
    rows = {}
    for key, recs in sorted(per.items()):
        p1, pk, maj, mixed = [], [], [], []
        for r in recs:
            comps = scored(r["completions"])
            flags = [bool(c["correct"]) for c in comps]
            answers = [c.get("answer") for c in comps]
            p1.append(pass_at_k(len(flags), sum(flags), 1))
            maj.append(majority_at_k(flags, answers, k, seed=seed))
            if n_choices:
                pk.append(reliable_pass_at_k(flags, answers, k, n_choices, seed=seed))
            else:
                pk.append(pass_at_k(len(flags), sum(flags), k))
            mixed.append(float(0 < sum(flags) < len(flags)))
        value = sum(pk) / len(pk)
        verdict = VIABLE if value >= viable_at else ADVISED if value >= advised_at else NEEDS
        rows[key] = {"n": len(recs), "pass_at_1": bootstrap_mean(p1, seed=seed),
                     "pass_at_k": bootstrap_mean(pk, seed=seed), "majority_at_k": bootstrap_mean(maj, seed=seed),
                     "mixed_groups": sum(mixed) / len(mixed),
                     "verdict": verdict}
    return {"k": k, "reliable": bool(n_choices), "thresholds": {"viable": viable_at, "advised": advised_at},
            "groups": rows}
