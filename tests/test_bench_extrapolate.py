"""bench/extrapolate_grpo.py: the weight blend, the validation choice and its errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "extrapolate_grpo.py"


def _bench():
    spec = importlib.util.spec_from_file_location("extrapolate_grpo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_blend_moves_along_grpos_update_and_keeps_integer_buffers():
    bench = _bench()
    warm = {"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor([3])}
    grpo = {"w": torch.tensor([2.0, 1.0]), "steps": torch.tensor([7])}
    assert torch.equal(bench.blend(warm, grpo, 0.0)["w"], warm["w"])
    assert torch.equal(bench.blend(warm, grpo, 1.0)["w"], grpo["w"])
    assert torch.allclose(bench.blend(warm, grpo, 1.5)["w"], torch.tensor([2.5, 0.5]))
    assert torch.allclose(bench.blend(warm, grpo, 0.5)["w"], torch.tensor([1.5, 1.5]))
    assert torch.equal(bench.blend(warm, grpo, 2.0)["steps"], grpo["steps"])


def test_the_choice_is_the_best_validation_score_and_a_tie_goes_to_the_trained_model():
    bench = _bench()
    assert bench.pick({0.0: 0.50, 1.0: 0.55, 1.5: 0.60, 2.0: 0.58}) == 1.5
    assert bench.pick({0.0: 0.60, 1.0: 0.60, 2.0: 0.60}) == 1.0
    assert bench.pick({0.0: 0.60, 0.5: 0.62, 1.5: 0.62}) in (0.5, 1.5)  # equally far from 1: either
    assert bench.pick({0.0: None, 1.0: 0.4}) == 1.0
    with pytest.raises(SystemExit, match="no α was scored"):
        bench.pick({1.0: None})


def test_a_directory_without_both_stages_is_one_error(tmp_path, capsys):
    bench = _bench()
    (tmp_path / "run" / "sft" / "final").mkdir(parents=True)
    (tmp_path / "run" / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(SystemExit) as exit_info:
        bench.main([str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "not a run directory with config.yaml, sft/final and grpo/final" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path / "run"), "--sft-only", "a", "b"])
    assert "--sft-only takes one directory per run (1), got 2" in capsys.readouterr().err


@pytest.mark.slow
def test_alpha_0_and_1_reproduce_the_runs_own_warm_up_and_grpo_numbers(tmp_path, capsys):
    """A real run (the toy task of the health tests, GRPO wrecked at its first step): α 0 is the warm-up and α 1 GRPO's
    final model, to the held-out number the run itself reported; the choice reads the validation split."""
    pytest.importorskip("trl")
    import json

    from test_training_health_run import hurt_config, wreck_weights_callback

    from clinrl.training.run import run_training

    config = hurt_config()
    config.grpo.eval_every = 0
    result = run_training(config, tmp_path / "run", command=["test"], say=lambda m: None,
                          callbacks={"grpo": [wreck_weights_callback()]})
    assert _bench().main([str(tmp_path / "run"), "--alphas", "0.5", "--out", str(tmp_path / "x")]) == 0
    (summary,) = json.loads((tmp_path / "x" / "summary.json").read_text())
    rows = {row["alpha"]: row for row in summary["rows"]}
    assert set(rows) == {0.0, 0.5, 1.0}
    assert rows[0.0]["heldout"] == pytest.approx(result.evals["sft"][0]["accuracy"])
    assert rows[1.0]["heldout"] == pytest.approx(result.evals["grpo"][0]["accuracy"])
    assert summary["n_validation"] > 0 and summary["chosen_alpha"] == max(
        rows, key=lambda a: (rows[a]["validation"], -abs(a - 1)))
    assert "| 0 |" in capsys.readouterr().out
