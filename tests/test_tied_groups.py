"""Zero-advantage completions left out of GRPO's loss (clinrl.training.tied_groups): the pieces, then the claim
that a run's update is the one TRL computes over every completion."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from clinrl.training.tied_groups import (
    kept_rows, loss_scale, select_rows, skipped_share, why_not_skippable, zero_tied,
)


def test_zero_tied_zeroes_only_groups_whose_advantages_all_match():
    residue = torch.tensor([1e-3] * 4 + [0.5, -0.5, 0.5, -0.5] + [0.0, 0.0, 0.7, -0.7])
    out = zero_tied(residue, 4)
    assert out[:4].eq(0).all()  # a tied group's rounding residue → exactly 0
    assert torch.equal(out[4:], residue[4:])  # mixed groups untouched, including rows already at 0


def test_tied_groups_residue_is_real_for_non_binary_rewards():
    """Why zero_tied exists: TRL's r − mean(r) for eight equal rewards is often not exactly 0."""
    rewards = torch.full((8,), 0.3)
    assert (rewards - rewards.mean()).abs().max() > 0


def test_kept_rows_and_select_rows():
    inputs = {"advantages": torch.tensor([0.0, 1.0, 0.0, -1.0]), "completion_mask": torch.ones(4, 3),
              "prompt_ids": torch.arange(8).view(4, 2), "num_items_in_batch": torch.tensor(12.0), "flag": "x"}
    rows = kept_rows(inputs)
    assert rows.tolist() == [1, 3]
    kept = select_rows(inputs, rows)
    assert kept["prompt_ids"].tolist() == [[2, 3], [6, 7]] and kept["completion_mask"].shape == (2, 3)
    assert kept["num_items_in_batch"].item() == 12.0 and kept["flag"] == "x"  # not per-row: left as they were
    token_level = {"advantages": torch.tensor([[0.0, 0.0], [0.0, 2.0]])}
    assert kept_rows(token_level).tolist() == [1]


def test_loss_scale_restores_each_normalisation():
    inputs = {"advantages": torch.ones(4), "completion_mask": torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 0]])}
    kept = select_rows(inputs, torch.tensor([0, 2]))
    assert loss_scale("grpo", inputs, kept) == pytest.approx(0.5)  # mean over rows
    assert loss_scale("dr_grpo", inputs, kept) == pytest.approx(0.5)
    assert loss_scale("bnpo", inputs, kept) == pytest.approx(5 / 7)  # mean over the micro-batch's tokens
    assert loss_scale("dapo", inputs, kept) == 1.0  # normalised by the whole generation batch already


@pytest.mark.parametrize("change, reason", [
    ({"beta": 0.04}, "beta"), ({"loss_type": "made_up"}, "loss_type"), ({"top_entropy_quantile": 0.2}, "entropy mask"),
    ({"entropy_coef": 0.01}, "entropy bonus"), ({"use_adaptive_entropy": True}, "entropy bonus"),
    ({"multi_objective_aggregation": "normalize_then_sum"}, "batch"),
])
def test_why_not_skippable_names_each_reason(change, reason):
    base = dict(beta=0.0, loss_type="dapo", top_entropy_quantile=1.0, entropy_coef=0.0, use_adaptive_entropy=False,
                entropy_target=0.2, multi_objective_aggregation="sum_then_normalize")
    assert why_not_skippable(SimpleNamespace(**base)) is None
    assert reason in why_not_skippable(SimpleNamespace(**{**base, **change}))


def test_skipped_share_reads_the_log():
    assert skipped_share([{"loss": 1.0}]) is None
    assert skipped_share([{"completions_skipped": 0.25}, {"loss": 1}, {"completions_skipped": 0.75}]) == 0.5


# --- a real TRL run, with and without skipping -------------------------------------------------------------------

def _half_tied(prompts, completions, **kwargs):
    """Constant reward for about half of the prompts (their groups tie), completion-dependent for the others."""
    return [0.3 if zlib.crc32(p.encode()) % 2 else float(len(c) % 5) / 4 for p, c in zip(prompts, completions)]


def _grpo_delta(tmp_path: Path, loss_type: str, skip: bool, beta: float = 0.0):
    pytest.importorskip("trl")
    sys.path.insert(0, str(Path(__file__).parent))
    import training_toy  # noqa: F401  (registers the toy task)
    from safetensors.torch import load_file

    from clinrl.models import resolve_model
    from clinrl.training.config import GRPOSettings, RunConfig, TaskSettings
    from clinrl.training.grpo import run_grpo
    from clinrl.training.mixtures import load_mixture

    config = RunConfig(tasks=[TaskSettings(name="toy_copy", source=None, train_limit=48, heldout_limit=4)],
                       grpo=GRPOSettings(max_steps=2, num_generations=4, prompts_per_step=4, per_device_completions=8,
                                         max_completion_length=12, logging_steps=1, save_steps=10, eval_every=0,
                                         learning_rate=0.5, beta=beta, loss_type=loss_type, temperature=1.0,
                                         skip_tied_groups=skip, trl_args={"optim": "sgd", "max_grad_norm": 1e9}))
    stage = run_grpo(config, load_mixture(config.tasks), "tiny", tmp_path, reward_funcs=[_half_tied])
    before = load_file(str(Path(resolve_model("tiny")) / "model.safetensors"))
    after = load_file(str(stage.model_dir / "model.safetensors"))
    return {k: after[k] - before[k] for k in before}, stage


@pytest.mark.slow
@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "bnpo"])
def test_skipping_tied_groups_leaves_the_update_unchanged(tmp_path, loss_type):
    # plain SGD, no clipping: the update is the gradient itself, so a wrong normalisation would show as a factor
    full, full_stage = _grpo_delta(tmp_path / "full", loss_type, skip=False)
    skipped, stage = _grpo_delta(tmp_path / "skip", loss_type, skip=True)
    share = skipped_share(stage.log_history)
    assert share is not None and 0 < share < 1, share  # some completions really were left out
    assert skipped_share(full_stage.log_history) is None
    assert any("skipped the loss" in note for note in stage.notes)
    moved = max(d.abs().max().item() for d in full.values())
    assert moved > 1e-4, "GRPO did not move the weights: the comparison would be vacuous"
    for name in full:
        assert torch.allclose(skipped[name], full[name], rtol=1e-3, atol=1e-6 * moved), name


@pytest.mark.slow
def test_a_kl_term_keeps_every_completion_in_the_loss(tmp_path):
    _, stage = _grpo_delta(tmp_path, "dapo", skip=True, beta=0.04)
    assert skipped_share(stage.log_history) is None
    assert any("beta = 0.04" in note for note in stage.notes)
