"""A run where GRPO is forced to hurt: the run says so (console and metrics.json) and `keep: best` keeps the
warm-up. The warm-up learns a one-word task well in a few dozen steps; a callback then wrecks the weights at
GRPO's first step (the deterministic stand-in for a learning rate that destroys the policy)."""

from __future__ import annotations

import json
import random
from typing import Any, Mapping

import pytest

pytest.importorskip("trl")

from clinrl.registry import register_task  # noqa: E402
from clinrl.rewards.contract import EHRMIND_PREFILL  # noqa: E402
from clinrl.tasks.base import PRIOR_ALL, AnswerCheck, ContractTask, TaskCard  # noqa: E402
from clinrl.types import Sample  # noqa: E402

pytestmark = pytest.mark.slow


@register_task("toy_flag")
class ToyFlagTask(ContractTask):
    name = "toy_flag"
    answer_keys = ("answer",)
    answer_prior = PRIOR_ALL  # the reader-free guess: the more common flag value, for every note
    card = TaskCard(summary="Say 1 when the note's flag is on, 0 when it is off (test task).",
                    source="generated in memory from the seed", scoring="exact match")

    def load(self, source: str | None = None, split: str = "train", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        out = []
        for i in range(limit or 32):
            rng = random.Random(f"{seed}:{split}:{i}")
            value = rng.randint(0, 1)
            padding = " ".join(rng.choice(("calm", "stable", "alert", "awake")) for _ in range(rng.randint(1, 4)))
            flag = f"flag {'on' if value else 'off'}"
            prompt = [{"role": "user", "content": f"Note: patient {padding}; {flag}."}]
            out.append(Sample(id=f"{split}-{i}", prompt=prompt, target={"value": value},
                              metadata={"explanation": "Read the flag.", "category": flag}, prefill=EHRMIND_PREFILL))
        return out

    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        ok = answer["answer"] == target["value"] and not isinstance(answer["answer"], bool)
        return AnswerCheck(ok, answer["answer"], "correct" if ok else "wrong")

    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        return {"answer": target["value"]}

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        return self.worked_completion(sample, sample.metadata["explanation"], think)


def wreck_weights_callback(at_step: int = 1):
    import torch
    from transformers import TrainerCallback

    class Wreck(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == at_step:
                with torch.no_grad():
                    generator = torch.Generator().manual_seed(0)
                    for p in model.parameters():
                        p.add_(torch.randn(p.shape, generator=generator) * 2.0)
            return control

    return Wreck()


def hurt_config():
    from clinrl.training.config import EvalSettings, GRPOSettings, RunConfig, SFTSettings, TaskSettings

    return RunConfig(
        tasks=[TaskSettings(name="toy_flag", source=None, train_limit=64, heldout_limit=24)],
        sft=SFTSettings(max_steps=40, learning_rate=2e-3, per_device_train_batch_size=8, logging_steps=10,
                        save_steps=1000, think="full"),
        grpo=GRPOSettings(max_steps=2, num_generations=4, prompts_per_step=2, max_completion_length=24,
                          temperature=1.0, learning_rate=1e-5, eval_every=1, save_steps=1000, logging_steps=1,
                          keep="best"),
        eval=EvalSettings(max_new_tokens=24, stages=["sft", "grpo"]),
    )


@pytest.fixture(scope="module")
def hurt_run(tmp_path_factory):
    """Warm-up, then GRPO wrecked at its first step: (run directory, RunResult, the lines the run said)."""
    from clinrl.training.run import run_training

    run_dir = tmp_path_factory.mktemp("hurt") / "run"
    said = []
    result = run_training(hurt_config(), run_dir, command=["test"], say=said.append,
                          callbacks={"grpo": [wreck_weights_callback()]})
    return run_dir, result, said


def test_grpo_that_hurts_is_reported_and_best_keeps_the_warm_up(hurt_run):
    run_dir, result, said = hurt_run
    tmp_path = run_dir.parent
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    sft_accuracy = result.evals["sft"][0]["accuracy"]
    assert sft_accuracy >= 0.75, "the warm-up must learn the toy task for the drop to be measurable"
    assert result.evals["grpo"][0]["accuracy"] <= 0.25
    gain = metrics["paired_gain"]
    assert gain["delta"] < 0 and gain["ci"][1] < 0 and gain["n"] == result.evals["sft"][0]["n"] >= 10
    kinds = {w["kind"] for w in metrics["health"]}
    assert "heldout_drop" in kinds
    (prior,) = metrics["answer_prior"]
    assert prior["task"] == "toy_flag" and 0 < prior["value"] < sft_accuracy  # the training split's more common flag
    below = [w["stage"] for w in metrics["health"] if w["kind"] == "below_prior"]
    assert below == ["grpo"]  # the wrecked model guesses worse than the prior; the warm-up reads the flag
    assert any(m.startswith("warning: RL hurt") for m in said)
    kept = metrics["kept_checkpoint"]
    assert (kept["policy"], kept["stage"]) == ("best", "sft") and kept["metric"] == pytest.approx(sft_accuracy)
    assert result.kept == str(result.stages["sft"].model_dir)
    from clinrl.training.callbacks import read_heldout

    (during,) = [r for r in read_heldout(tmp_path / "run") if r["stage"] == "grpo" and r["step"] == 1]
    assert during["paired_gain"]["n"] == gain["n"]  # step 1, paired with the warm-up's records, not only its row
    assert during["paired_gain"]["value_a"] == pytest.approx(sft_accuracy) and during["paired_gain"]["delta"] < 0
    live = [w["message"] for w in metrics["health"] if w["kind"] == "heldout_drop" and "step 1 " in w["message"]]
    assert live and "paired 95% CI" in live[0]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "RL hurt" in report
    assert "vs warm-up, points [paired 95% CI]" in report
    assert "no better than a reader-free guess" in report and "Reader-free baseline on toy_flag" in report
    changed = report[report.index("## By group: what grpo changed"):report.index("## Training")]
    assert "| category | n | sft | grpo | grpo − sft, points [95% CI] | fixed / broken |" in changed
    assert "| flag off |" in changed and "| flag on |" in changed  # the wrecked model, flag by flag


def test_grpo_from_a_given_warm_up_is_compared_with_its_starting_model(hurt_run, tmp_path):
    """``clinrl train grpo --model RUN/sft/final`` with ``eval.stages: [base, grpo]``: this run trained no warm-up,
    so the base evaluation (GRPO's starting point) is what the paired gain, the live warning and ``keep: best``
    compare with."""
    from clinrl.training.callbacks import read_heldout
    from clinrl.training.run import run_training

    warm_dir, warm_result, _ = hurt_run
    config = hurt_config()
    config.model.spec = str(warm_result.stages["sft"].model_dir)
    config.eval.stages = ["base", "grpo"]
    said = []
    result = run_training(config, tmp_path / "grpo_only", stages=("grpo",), command=["test"], say=said.append,
                          callbacks={"grpo": [wreck_weights_callback()]})
    metrics = json.loads((tmp_path / "grpo_only" / "metrics.json").read_text())
    start = result.evals["base"][0]["accuracy"]
    assert start == pytest.approx(warm_result.evals["sft"][0]["accuracy"])  # the same model, the same greedy answers
    gain = metrics["paired_gain"]
    assert (gain["from_stage"], gain["to_stage"]) == ("base", "grpo") and gain["ci"][1] < 0
    assert gain["value_a"] == pytest.approx(start)
    (during,) = [r for r in read_heldout(tmp_path / "grpo_only") if r["stage"] == "grpo" and r["step"] == 1]
    assert during["paired_gain"]["from_stage"] == "base" and during["paired_gain"]["delta"] < 0
    messages = [w["message"] for w in metrics["health"] if w["kind"] == "heldout_drop"]
    assert any("step 1 " in m and "below the starting model's" in m for m in messages)
    assert any(m.startswith("RL hurt") for m in messages)
    kept = metrics["kept_checkpoint"]
    assert (kept["stage"], kept["path"]) == ("base", config.model.spec) and result.kept == config.model.spec
    report = (tmp_path / "grpo_only" / "report.md").read_text()
    assert "vs base, points [paired 95% CI]" in report
