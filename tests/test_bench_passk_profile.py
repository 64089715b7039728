"""bench/passk_profile.py: the statistics it prints for issue 13's explanation are right on hand-made logs."""

from __future__ import annotations

import itertools
import math

import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def prof():
    return load_bench_script("passk_profile")


def test_tally_reads_signed_steps_and_nothing_else(prof):
    assert prof.tally("\n-1 = -1\n+1 = -0\n+ 1 = 1\n+0 = 1\n</think>") == [-1, 1, 1, 0]
    assert prof.tally("+1 = 1 and +1 = 2 on one line") == []
    assert prof.tally("") == [] and prof.tally(None) == []


@pytest.mark.parametrize("n,c,g", [(16, 0, 8), (16, 16, 8), (16, 5, 8), (8, 3, 8), (6, 2, 3)])
def test_mixed_group_chance_matches_enumeration(prof, n, c, g):
    flags = [True] * c + [False] * (n - c)
    groups = list(itertools.combinations(range(n), g))
    mixed = sum(0 < sum(flags[i] for i in grp) < g for grp in groups) / len(groups)
    assert math.isclose(prof.mixed_group_chance(n, c, g), mixed, abs_tol=1e-12)
    with pytest.raises(ValueError):
        prof.mixed_group_chance(4, 1, 5)


def test_profile_counts_lucky_answers_and_pass_at_k(prof):
    def comp(text, correct, answer):
        return {"text": text, "correct": correct, "answer": answer, "format_ok": True, "reward": 1.1 if correct else 0}

    log = {"spec": {"model": "m", "decoding": {"temperature": 1.0}}, "metrics": {"n_choices": 6}, "records": [
        {"id": "train-1", "completions": [comp("+1 = 1\n+1 = 2", True, 2), comp("+0 = 0\n+0 = 0", False, 0),
                                          comp("+1 = 1\n+1 = 2", True, 2), comp("+1 = 1\n+0 = 1", False, 1)]},
        {"id": "train-2", "completions": [comp("+1 = 1\n+0 = 1", True, 1), comp("+0 = 0\n+1 = 1", True, 1),
                                          comp("+1 = 1\n+0 = 1", True, 1), comp("+1 = 1\n+0 = 1", True, 1)]},
    ]}
    out = prof.profile(log, {"train-1": [1, 1], "train-2": [1, 0]}, group=2)
    assert out["pass_at_k"][1] == pytest.approx((0.5 + 1.0) / 2)
    assert out["pass_at_k"][4] == pytest.approx(1.0)
    assert out["correct_completions"] == 6 and out["correct_with_a_wrong_step"] == pytest.approx(1 / 6)
    assert out["mixed_group_chance_g2"] == pytest.approx((1 - 1 / 6 - 1 / 6) / 2)  # train-2 never mixes
    assert out["mean_distinct_answers"] == pytest.approx((3 + 1) / 2)
    # train-1: answer 2 twice (right), 0 and 1 once each -> the vote of all four is right; train-2 always right
    assert out["majority_at_k"][4] == pytest.approx(1.0)
