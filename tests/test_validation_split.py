"""The validation split (``tasks[].validation_limit``): samples of the training distribution held back from training,
which the evaluations inside a stage and ``keep: best`` read, so that the held-out split scores only models chosen
without it."""

from __future__ import annotations

import json
from typing import Any, Mapping

import pytest

from clinrl.errors import ConfigError
from clinrl.registry import register_task
from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.tasks.base import AnswerCheck, ContractTask, TaskCard
from clinrl.training.config import TaskSettings
from clinrl.training.mixtures import _prompt_key, load_mixture
from clinrl.types import Sample


@register_task("toy_rows")
class ToyRowsTask(ContractTask):
    """A file-like source: the same rows in the same order for every seed, ``limit`` takes the first ones."""

    name = "toy_rows"
    answer_keys = ("answer",)
    card = TaskCard(summary="Echo the row's number (test task).", source="a fixed list of 100 rows", scoring="exact")

    def load(self, source: str | None = None, split: str = "train", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        rows = [Sample(id=f"{split}-{i}", prompt=[{"role": "user", "content": f"{split} row {i}"}],
                       target={"value": i}, prefill=EHRMIND_PREFILL) for i in range(100)]
        return rows[:limit] if limit is not None else rows

    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        ok = answer["answer"] == target["value"]
        return AnswerCheck(ok, answer["answer"], "correct" if ok else "wrong")

    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        return {"answer": target["value"]}


def _keys(samples):
    return {_prompt_key(s) for s in samples}


def test_synthetic_validation_is_new_patients_of_the_training_distribution():
    settings = TaskSettings(name="medcalc", source="synthetic:calculators=51,45,20;n=600;difficulty=template",
                            train_limit=300, heldout_limit=40, validation_limit=50, options={"prompt_style": "compact"})
    mixture = load_mixture([settings], seed=3)
    data = mixture.tasks[0]
    assert mixture.has_validation and len(data.validation) == 50
    assert not _keys(data.validation) & (_keys(data.train) | _keys(data.heldout))
    assert {s.target["calculator_id"] for s in data.validation} == {51, 45, 20}
    # the training and held-out samples do not change when a validation split is held back
    plain = load_mixture([TaskSettings(**{**settings.__dict__, "validation_limit": 0})], seed=3).tasks[0]
    assert [s.id for s in plain.train] == [s.id for s in data.train] and not plain.validation
    assert [s.id for s in plain.heldout] == [s.id for s in data.heldout]
    assert not load_mixture([TaskSettings(**{**settings.__dict__, "validation_limit": 0})], seed=3).has_validation


def test_a_file_source_gives_the_rows_after_training():
    mixture = load_mixture([TaskSettings(name="toy_rows", source=None, train_split="train", heldout_split="test",
                                         train_limit=60, heldout_limit=10, validation_limit=15)], seed=0)
    data = mixture.tasks[0]
    assert [s.target["value"] for s in data.validation] == list(range(60, 75))
    assert not mixture.notes


def test_a_file_source_short_of_rows_says_so_and_one_with_none_left_is_refused():
    mixture = load_mixture([TaskSettings(name="toy_rows", source=None, train_limit=90, heldout_limit=10,
                                         validation_limit=25)], seed=0)
    assert [s.target["value"] for s in mixture.tasks[0].validation] == list(range(90, 100))
    assert any("10 validation samples, not 25" in note for note in mixture.notes)
    with pytest.raises(ConfigError, match=r"validation_limit=5: every sample .* lower train_limit"):
        load_mixture([TaskSettings(name="toy_rows", source=None, train_limit=None, heldout_limit=10,
                                   validation_limit=5)], seed=0)
    with pytest.raises(ConfigError, match="validation_limit must be >= 0"):
        load_mixture([TaskSettings(name="toy_rows", source=None, train_limit=10, validation_limit=-1)], seed=0)


def test_kept_text_names_the_split_it_chose_on():
    from clinrl.cli.train import kept_text

    on_validation = kept_text({"path": "RUN/grpo/best", "stage": "grpo", "step": 20, "metric": 0.62, "heldout": 0.6,
                               "chosen_on": "validation", "policy": "best"}, "accuracy")
    assert "validation accuracy 62.0%" in on_validation and "held-out accuracy 60.0%" in on_validation
    assert "optimistic" not in on_validation
    on_heldout = kept_text({"path": "RUN/grpo/final", "stage": "grpo", "step": 30, "metric": 0.63,
                            "chosen_on": "held-out", "policy": "best"}, "accuracy")
    assert "optimistic" in on_heldout and "validation_limit" in on_heldout


# -- a run that chooses on its validation split -----------------------------------------------------------
@pytest.mark.slow
def test_keep_best_chooses_on_validation_and_scores_the_kept_model_on_held_out(tmp_path):
    """GRPO at learning rate 0 leaves step 1 equal to the warm-up (a tie goes to the later model, so step 1 is kept);
    the weights are wrecked at step 2. Every choice reads the validation split; held-out scores the warm-up, the final
    model and, after the choice, the kept one."""
    pytest.importorskip("trl")
    from test_training_health_run import ToyFlagTask, hurt_config, wreck_weights_callback  # noqa: F401 (registers)

    from clinrl.training.callbacks import read_heldout
    from clinrl.training.run import run_training

    config = hurt_config()
    config.tasks[0].validation_limit = 24
    config.grpo.learning_rate = 0.0
    said: list[str] = []
    run_dir = tmp_path / "run"
    result = run_training(config, run_dir, command=["test"], say=said.append,
                          callbacks={"grpo": [wreck_weights_callback(at_step=2)]})
    metrics = json.loads((run_dir / "metrics.json").read_text())
    validation = read_heldout(run_dir, "validation")
    assert sorted((r["stage"], r["step"], bool(r.get("final"))) for r in validation) == [
        ("grpo", 1, False), ("grpo", 2, True), ("sft", 40, True)]
    assert all(r["split"] == "validation" and r["n"] == 24 for r in validation)
    heldout = read_heldout(run_dir)
    assert sorted(r["stage"] for r in heldout) == ["grpo", "kept", "sft"]  # no held-out evaluation inside a stage
    assert all(r.get("final") for r in heldout)
    warm = next(r for r in validation if r["stage"] == "sft")["accuracy"]
    step1 = next(r for r in validation if r["step"] == 1)
    assert warm >= 0.75 and step1["accuracy"] == pytest.approx(warm)
    assert step1["paired_gain"]["n"] == 24 and step1["paired_gain"]["delta"] == pytest.approx(0)
    final = next(r for r in validation if r["stage"] == "grpo" and r.get("final"))
    assert final["paired_gain"]["from_stage"] == "sft" and final["paired_gain"]["delta"] < 0  # the wrecked model
    kept = metrics["kept_checkpoint"]
    assert (kept["stage"], kept["step"], kept["chosen_on"]) == ("grpo", 1, "validation")
    assert kept["path"] == str(run_dir / "grpo" / "best") == result.kept
    assert kept["metric"] == pytest.approx(warm)
    assert kept["heldout"] == pytest.approx(result.evals["kept"][0]["accuracy"])
    assert kept["heldout"] == pytest.approx(result.evals["sft"][0]["accuracy"])  # the same weights as the warm-up
    (gain,) = kept["paired_gains"]
    assert (gain["from_stage"], gain["to_stage"], gain["delta"]) == ("sft", "kept", pytest.approx(0))
    assert metrics["heldout"]["kept"]["toy_flag"]["n"] == result.evals["sft"][0]["n"]
    assert set(metrics["validation"]) == {"sft", "grpo"}
    assert any(m.startswith("scoring the kept model (GRPO step 1)") for m in said)
    assert any(m.startswith("warning: RL hurt") for m in said)  # the wrecked final model, on held-out
    report = (run_dir / "report.md").read_text()
    assert "### Validation accuracy" in report and "| grpo | 1 | toy_flag |" in report
    assert "chosen on the validation split" in report and "optimistic" not in report
    assert (run_dir / "eval" / "validation" / "grpo" / "eval_log.json").is_file()
    assert (run_dir / "eval" / "kept" / "eval_log.json").is_file()
