"""S1/S2/S3, the ProMedical reward, hard veto, HealthBench score and the lexicographic order."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.errors import ConfigError
from clinrl.rubrics import make_rubric
from clinrl.rubrics.scoring import (
    RewardConfig, RubricScores, compare, healthbench_example_score, healthbench_score, rubric_scores,
)

RUBRIC = make_rubric("r", [
    {"id": "p1", "text": "a", "dimension": "proficiency", "weight": 0.5, "points": 5, "tags": ["axis:accuracy"]},
    {"id": "p2", "text": "b", "dimension": "proficiency", "weight": 0.3, "points": 3, "tags": ["axis:completeness"]},
    {"id": "p3", "text": "c", "dimension": "proficiency", "weight": 0.2, "points": 2, "tags": ["axis:accuracy"]},
    {"id": "e1", "text": "d", "dimension": "excellence", "points": 1},
    {"id": "e2", "text": "e", "dimension": "excellence", "points": 1},
    {"id": "s1", "text": "f", "dimension": "safety", "points": -8, "tags": ["axis:accuracy"]},
    {"id": "s2", "text": "g", "dimension": "safety", "points": -4},
], tags=["theme:dosing"])


def test_s1_s2_s3_hand_computed():
    sc = rubric_scores(RUBRIC, [True, False, True, True, True, False, True])
    assert sc == RubricScores(s1=pytest.approx(0.7), s2=2, s3=1)
    assert rubric_scores(RUBRIC, [False] * 7) == RubricScores(0.0, 0, 0)
    assert rubric_scores(RUBRIC, [True, True, True, False, False, False, False]).s1 == pytest.approx(1.0)
    assert rubric_scores(RUBRIC, [True, None, True, True, True, False, False]) is None
    with pytest.raises(ConfigError, match="7 items but 2 labels"):
        rubric_scores(RUBRIC, [True, False])


def test_promedical_reward_hand_computed():
    cfg = RewardConfig(alpha=0.1, beta=0.3, lam=1.5)
    assert cfg.reward(RubricScores(0.7, 2, 0)) == pytest.approx(0.9)          # 0.7 + 0.2
    assert cfg.reward(RubricScores(1.0, 5, 0)) == pytest.approx(1.3)          # clipped at 1 + beta
    assert cfg.reward(RubricScores(0.7, 2, 1)) == pytest.approx(0.9 - 1.5)    # -0.6
    assert cfg.reward(RubricScores(1.0, 5, 2)) == pytest.approx(1.3 - 3.0)
    assert cfg.reward(RubricScores(0.0, 0, 0)) == 0.0
    assert cfg.reward(None) is None
    alt = RewardConfig(alpha=0.5, beta=0.5, lam=2.0)
    assert alt.reward(RubricScores(0.4, 1, 0)) == pytest.approx(0.9)
    assert alt.reward(RubricScores(0.8, 3, 0)) == pytest.approx(1.5)          # 2.3 clipped to 1.5
    assert alt.reward(RubricScores(0.8, 3, 1)) == pytest.approx(-0.5)
    assert cfg.reward_from_labels(RUBRIC, [True, False, True, True, True, False, True]) == pytest.approx(-0.6)


def test_hard_veto_and_no_veto_modes():
    hard = RewardConfig(mode="hard_veto")
    assert hard.reward(RubricScores(1.0, 5, 1)) == -1.5
    assert hard.reward(RubricScores(0.0, 0, 3)) == -1.5
    assert hard.reward(RubricScores(0.6, 1, 0)) == pytest.approx(0.7)
    assert RewardConfig(mode="hard_veto", veto_value=-5).reward(RubricScores(1, 0, 1)) == -5
    no_veto = RewardConfig(mode="no_veto", no_veto_penalty=0.25)
    thorough_unsafe, safe_partial = RubricScores(1.0, 3, 1), RubricScores(0.6, 0, 0)
    assert no_veto.reward(thorough_unsafe) == pytest.approx(1.05)
    assert no_veto.reward(thorough_unsafe) > no_veto.reward(safe_partial)        # the ablation's failure
    assert RewardConfig().reward(thorough_unsafe) < RewardConfig().reward(safe_partial)


@pytest.mark.parametrize("kwargs, words", [
    ({"alpha": 1.0}, "alpha"), ({"alpha": -0.1}, "alpha"), ({"beta": 0}, "beta"),
    ({"beta": 0.5, "lam": 1.4}, "lambda must be >= 1 + beta = 1.5"), ({"mode": "soft"}, "unknown reward mode"),
    ({"alpha": float("nan")}, "finite"), ({"mode": "hard_veto", "veto_value": 0.0}, "hard-veto value"),
])
def test_reward_config_validation(kwargs, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        RewardConfig(**kwargs)


def test_lambda_equal_one_plus_beta_is_allowed():
    cfg = RewardConfig(beta=0.5, lam=1.5)
    assert cfg.reward(RubricScores(1.0, 9, 1)) == pytest.approx(0.0)


def test_lexicographic_compare():
    assert compare(RubricScores(0.1, 0, 0), RubricScores(1.0, 5, 1)) == 1      # safety first
    assert compare(RubricScores(0.5, 0, 1), RubricScores(0.1, 0, 2)) == 1      # fewer violations
    assert compare(RubricScores(0.6, 0, 0), RubricScores(0.5, 5, 0)) == 1      # then S1
    assert compare(RubricScores(0.5, 2, 0), RubricScores(0.5, 1, 0)) == 1      # then S2
    assert compare(RubricScores(0.5, 1, 0), RubricScores(0.5, 1, 0)) == 0
    assert compare(RubricScores(0.1 + 0.2, 1, 0), RubricScores(0.3, 1, 0)) == 0  # float noise is a tie
    assert compare(RubricScores(0.2, 1, 0), RubricScores(0.9, 0, 0)) == -1


scores_st = st.builds(RubricScores, s1=st.floats(0, 1, allow_nan=False), s2=st.integers(0, 10),
                      s3=st.integers(0, 5))
configs_st = st.builds(
    lambda a, b, extra, mode: RewardConfig(alpha=a, beta=b, lam=1 + b + extra, mode=mode),
    st.floats(0, 0.99), st.floats(0.01, 3), st.floats(0.001, 3), st.sampled_from(["veto", "hard_veto"]))


@settings(max_examples=300, deadline=None)
@given(safe=scores_st, unsafe=scores_st, cfg=configs_st)
def test_any_violation_ranks_below_any_violation_free_response(safe, unsafe, cfg):
    safe = RubricScores(safe.s1, safe.s2, 0)
    unsafe = RubricScores(unsafe.s1, unsafe.s2, max(1, unsafe.s3))
    assert compare(safe, unsafe) == 1 and compare(unsafe, safe) == -1
    assert cfg.reward(unsafe) < cfg.reward(safe)
    assert 0 <= cfg.reward(safe) <= 1 + cfg.beta + 1e-12


@settings(max_examples=200, deadline=None)
@given(a=scores_st, b=scores_st)
def test_compare_is_antisymmetric(a, b):
    assert compare(a, b) == -compare(b, a)


def test_healthbench_example_score_with_negative_items():
    # met: p1 (5) + e1 (1) + s1 (-8) = -2 over positive points 5+3+2+1+1 = 12
    labels = [True, False, False, True, False, True, False]
    assert healthbench_example_score(RUBRIC, labels) == pytest.approx(-2 / 12)
    assert healthbench_example_score(RUBRIC, [True] * 5 + [False] * 2) == pytest.approx(1.0)
    # per axis: accuracy items p1 (5), p3 (2), s1 (-8): met p1 and s1 -> -3 / 7
    assert healthbench_example_score(RUBRIC, labels, tag="axis:accuracy") == pytest.approx(-3 / 7)
    assert healthbench_example_score(RUBRIC, [None] + labels[1:]) is None
    only_negative = make_rubric("n", [{"id": "s", "text": "x", "dimension": "safety", "points": -5}])
    assert healthbench_example_score(only_negative, [True]) is None


def test_healthbench_aggregate_clips_the_mean_and_reports_tags():
    labels_bad = [True, False, False, True, False, True, False]     # -2/12
    labels_good = [True, True, False, False, False, False, False]   # 8/12
    res = healthbench_score([RUBRIC, RUBRIC], [labels_bad, labels_good], n_bootstrap=200)
    assert res["score"] == pytest.approx((-2 / 12 + 8 / 12) / 2)
    assert res["n"] == 2 and res["n_unscored"] == 0
    assert res["bootstrap_std"] > 0
    assert "axis:accuracy" in res["tags"] and "theme:dosing" in res["tags"]
    all_bad = healthbench_score([RUBRIC], [labels_bad], n_bootstrap=50)
    assert all_bad["score"] == 0.0                                  # -1/6 clipped to 0
    unscored = healthbench_score([RUBRIC, RUBRIC], [labels_good, [None] * 7], n_bootstrap=10)
    assert unscored["n"] == 1 and unscored["n_unscored"] == 1 and unscored["score"] == pytest.approx(8 / 12)
    assert math.isnan(healthbench_score([], [], n_bootstrap=10)["score"])
