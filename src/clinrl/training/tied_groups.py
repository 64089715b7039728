"""Leave zero-advantage completions out of GRPO's loss: the same update for less compute.

A group whose rewards all tie has advantage 0 for every completion, and with ``beta = 0`` (no KL term) such a
completion contributes exactly nothing to the policy-gradient loss. TRL still runs the forward and backward pass
over it. On the quickstart 17–72 % of groups tie (by seed and setting), and the loss's passes are about three
quarters of a CPU GRPO step (BENCHMARKS.md), so much of that work is multiplied by zero.

:func:`grpo_trainer_class` returns a subclass of TRL's ``GRPOTrainer`` that

1. sets the advantage of every completion of a tied group to exactly 0 (TRL computes ``r − mean(r)``, which for
   equal rewards that are not binary fractions leaves a rounding residue of ~1 ulp, scaled by ``1 / (0 + 1e-4)``
   for group scaling: ~1e-3 of a real advantage, pointing nowhere), and
2. gives TRL's own loss only the rows whose advantage is non-zero, rescaling the result where TRL's loss type
   averages over rows or tokens of the micro-batch, so the gradient is the one TRL would have computed.

It applies only where dropping a row cannot change the gradient (:func:`why_not_skippable`); otherwise TRL's
trainer runs unchanged. TRL's per-micro-batch logs (entropy, clip ratios) then describe the kept rows only;
``completions_skipped`` in the log is the share of completions left out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: loss types whose value is a mean over the micro-batch's rows (rescaled by kept / total rows)
ROW_MEAN_LOSSES = ("grpo", "sapo", "luspo", "dr_grpo")
#: loss types normalised by the micro-batch's completion tokens (rescaled by kept / total tokens)
TOKEN_MEAN_LOSSES = ("bnpo",)
#: loss types normalised by the whole generation batch's token count (``num_items_in_batch``): no rescaling
BATCH_NORMALISED_LOSSES = ("dapo", "cispo", "vespo")
#: per-row inputs that are not plain (rows, …) tensors: multimodal batches are left to TRL
MULTIMODAL_KEYS = ("pixel_values", "image_grid_thw", "pixel_attention_mask", "spatial_shapes", "image_sizes",
                   "num_images", "num_tiles", "image_position_ids", "mm_token_type_ids")


def why_not_skippable(args: Any) -> str | None:
    """Why leaving zero-advantage rows out could change the update under these ``GRPOConfig`` ``args``
    (``None``: it cannot)."""
    if getattr(args, "beta", 0.0):
        return f"beta = {args.beta:g}: the KL term pulls on every completion, tied or not"
    loss_type = getattr(args, "loss_type", "dapo")
    if loss_type not in ROW_MEAN_LOSSES + TOKEN_MEAN_LOSSES + BATCH_NORMALISED_LOSSES:
        return f"loss_type {loss_type!r} is not one whose normalisation clinrl knows"
    if getattr(args, "top_entropy_quantile", 1.0) < 1.0:
        return "top_entropy_quantile < 1: the entropy mask is a quantile over the whole micro-batch"
    if getattr(args, "entropy_coef", 0.0) or getattr(args, "use_adaptive_entropy", False):
        return "an entropy bonus acts on every completion"
    if getattr(args, "multi_objective_aggregation", "sum_then_normalize") != "sum_then_normalize":
        return "normalize_then_sum advantages are centred on the batch, not the group"
    return None


def zero_tied(advantages, num_generations: int):
    """``advantages`` (global, in group order) with every completion of an all-equal group set to exactly 0."""
    grouped = advantages.view(-1, num_generations)
    tied = (grouped == grouped[:, :1]).all(dim=1, keepdim=True).expand_as(grouped).reshape(-1)
    return advantages.masked_fill(tied, 0.0)


def kept_rows(inputs: dict[str, Any]):
    """Indices of the micro-batch's rows whose advantage is non-zero."""
    advantages = inputs["advantages"]
    nonzero = advantages != 0 if advantages.dim() == 1 else (advantages != 0).any(dim=1)
    return nonzero.nonzero(as_tuple=True)[0]


def select_rows(inputs: dict[str, Any], rows) -> dict[str, Any]:
    """The micro-batch restricted to ``rows``: every (rows, …) tensor indexed, everything else as it was."""
    import torch

    size = inputs["advantages"].size(0)
    return {key: value.index_select(0, rows.to(value.device))
            if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.size(0) == size else value
            for key, value in inputs.items()}


def loss_scale(loss_type: str, inputs: dict[str, Any], kept: dict[str, Any]) -> float:
    """The factor that turns TRL's loss over the kept rows into its loss over all rows."""
    if loss_type in ROW_MEAN_LOSSES:
        return kept["advantages"].size(0) / inputs["advantages"].size(0)
    if loss_type in TOKEN_MEAN_LOSSES:
        def tokens(batch: dict[str, Any]) -> float:
            mask = batch["completion_mask"]
            if "tool_mask" in batch:
                mask = mask * batch["tool_mask"]
            return float(mask.sum().clamp(min=1.0))
        return tokens(kept) / tokens(inputs)
    return 1.0


def skipped_share(log_history: list[dict[str, Any]]) -> float | None:
    """Mean share of completions left out of the loss over a stage's logged steps (``None``: not logged)."""
    values = [row["completions_skipped"] for row in log_history if row.get("completions_skipped") is not None]
    return sum(values) / len(values) if values else None


@lru_cache(maxsize=None)
def grpo_trainer_class(base: type) -> type:
    """``base`` (TRL's ``GRPOTrainer``) with zero-advantage rows left out of the loss where that is exact."""

    class TiedGroupSkippingGRPOTrainer(base):
        """TRL's GRPOTrainer; tied groups' completions skip the loss's forward and backward passes."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # decided once: the settings and the model (a router loss) do not change during training
            self.skips_tied = why_not_skippable(self.args) is None and not self.aux_loss_enabled

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            local = output["advantages"]
            if self.skips_tied and self.model.training and local.dim() == 1:
                everyone = self.accelerator.gather(local)  # group order across processes
                start = self.accelerator.process_index * local.size(0)
                output["advantages"] = zero_tied(everyone, self.num_generations)[start:start + local.size(0)]
            return output

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not (self.skips_tied and self.model.training) or any(key in inputs for key in MULTIMODAL_KEYS):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            rows = kept_rows(inputs)
            total = inputs["advantages"].size(0)
            self._metrics["train"]["completions_skipped"].append(1.0 - rows.numel() / total)
            if rows.numel() == total:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if rows.numel() == 0:
                # nothing to learn from this micro-batch; one row times zero keeps every parameter in the graph
                # (distributed data parallel expects a gradient for each) at the cost of one row
                one = select_rows(inputs, rows.new_zeros(1))
                return super().compute_loss(model, one, return_outputs, num_items_in_batch) * 0.0
            kept = select_rows(inputs, rows)
            loss = super().compute_loss(model, kept, return_outputs, num_items_in_batch)
            return loss * loss_scale(self.loss_type, inputs, kept)

    return TiedGroupSkippingGRPOTrainer
