"""Training curves for the report: each stage on its own step axis, from ``RUN/<stage>/trainer_state.json``.

The keys are the ones TRL 1.16 logs (``log_history``):

* SFT: ``loss``, ``mean_token_accuracy``;
* GRPO: ``reward`` (mean total reward), ``reward_std_within_group`` (clinrl's mean within-group standard
  deviation, :class:`clinrl.training.callbacks.GroupRewardStatsCallback`; older runs fall back to TRL's
  ``reward_std``, the spread over the whole batch), ``frac_reward_zero_std`` (share of groups whose
  completions all got the same reward: no advantage, no gradient), ``kl``, ``completions/mean_length``,
  ``completions/clipped_ratio`` (truncated at the length limit), ``entropy``, ``rewards/<function>/mean``.

Held-out points (``RUN/heldout_eval.jsonl``: the task's headline metric, or accuracy) are overlaid on the
stage they were measured in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

Series = list[tuple[float, float]]


def series(history: Sequence[dict[str, Any]], key: str) -> Series:
    """(step, value) points of one logged key, finite values only, in step order."""
    points = []
    for row in history:
        value, step = row.get(key), row.get("step")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(step, (int, float)):
            continue
        if math.isfinite(value):
            points.append((float(step), float(value)))
    return sorted(points)


def heldout_value(row: dict[str, Any]) -> tuple[str, float | None]:
    """(label, value in 0-1) of a held-out row: the task's headline metric where it has one, else accuracy."""
    headline = row.get("headline") or {}
    if headline.get("name"):
        value = headline.get("value")
        return headline["name"], float(value) if isinstance(value, (int, float)) else None
    value = row.get("accuracy")
    value = value.get("value") if isinstance(value, dict) else value
    return "accuracy", float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Panel:
    """One plot of a stage's figure: ``title`` and the keys it draws."""

    key: str
    title: str
    draw: Callable[[Any, Sequence[dict[str, Any]]], bool]


def _line(ax: Any, points: Series, label: str, colour: str, **kw: Any) -> None:
    ax.plot([p[0] for p in points], [p[1] for p in points], color=colour, lw=1.4, label=label, **kw)


def _simple(key: str, label: str, colour: str, percent: bool = False) -> Callable[[Any, Sequence], bool]:
    def draw(ax: Any, history: Sequence[dict[str, Any]]) -> bool:
        points = series(history, key)
        if not points:
            return False
        if percent:
            points = [(s, 100 * v) for s, v in points]
            ax.set_ylim(-3, 103)
        _line(ax, points, label, colour, marker="o" if len(points) < 12 else None, ms=3)
        return True
    return draw


def _reward(ax: Any, history: Sequence[dict[str, Any]]) -> bool:
    mean = dict(series(history, "reward"))
    if not mean:
        return False
    key = "reward_std_within_group" if series(history, "reward_std_within_group") else "reward_std"
    spread = dict(series(history, key))
    steps = sorted(mean)
    _line(ax, [(s, mean[s]) for s in steps], "reward mean", "#e07b39", marker="o" if len(steps) < 12 else None,
          ms=3)
    band = [s for s in steps if s in spread]
    if band:
        ax.fill_between(band, [mean[s] - spread[s] for s in band], [mean[s] + spread[s] for s in band],
                        color="#e07b39", alpha=0.2, lw=0,
                        label="± within-group std" if key == "reward_std_within_group" else "± batch std")
    return True


def _length(ax: Any, history: Sequence[dict[str, Any]]) -> bool:
    length = series(history, "completions/mean_length")
    if not length:
        return False
    _line(ax, length, "mean length (tokens)", "#3b7dd8", marker="o" if len(length) < 12 else None, ms=3)
    ax.set_ylabel("tokens")
    ax.set_ylim(bottom=0)  # from zero: a 1-token wobble must not look like a collapse
    clipped = series(history, "completions/clipped_ratio")
    if clipped:
        twin = ax.twinx()
        twin.plot([p[0] for p in clipped], [100 * p[1] for p in clipped], color="#c84c4c", lw=1.1, ls="--",
                  label="truncated (%)")
        twin.set_ylim(-3, 103)
        twin.set_ylabel("truncated (%)", color="#c84c4c")
        twin.spines["right"].set_visible(True)
    return True


def _per_function(ax: Any, history: Sequence[dict[str, Any]]) -> bool:
    keys = sorted({k for row in history for k in row if k.startswith("rewards/") and k.endswith("/mean")})
    colours = ("#4caf7a", "#a05cc8", "#c8a23c", "#3b7dd8", "#8c96a8")
    drawn = False
    for i, key in enumerate(keys):
        points = series(history, key)
        if points:
            _line(ax, points, key.split("/")[1], colours[i % len(colours)])
            drawn = True
    return drawn


SFT_PANELS = (
    Panel("loss", "loss", _simple("loss", "loss", "#3b7dd8")),
    Panel("mean_token_accuracy", "token accuracy (%)", _simple("mean_token_accuracy", "token accuracy", "#4caf7a",
                                                               percent=True)),
)
GRPO_PANELS = (
    Panel("reward", "reward mean ± within-group std", _reward),
    Panel("frac_reward_zero_std", "groups with tied rewards (%)",
          _simple("frac_reward_zero_std", "tied groups", "#8c96a8", percent=True)),
    Panel("kl", "KL to the reference", _simple("kl", "KL", "#a05cc8")),
    Panel("completions/mean_length", "completion length and truncation", _length),
    # TRL logs it over the completions its loss saw: with grpo.skip_tied_groups, those of groups with an advantage
    Panel("entropy", "entropy (nats / token, completions in the loss)", _simple("entropy", "entropy", "#c8a23c")),
    Panel("rewards/", "reward by function", _per_function),
)
PANELS = {"sft": SFT_PANELS, "grpo": GRPO_PANELS}
STAGE_TITLES = {"sft": "SFT warm-up", "grpo": "GRPO"}


def available_panels(stage: str, history: Sequence[dict[str, Any]]) -> list[Panel]:
    keys = {k for row in history for k in row}
    return [p for p in PANELS.get(stage, ()) if any(k == p.key or k.startswith(p.key) for k in keys)
            and (p.key != "rewards/" or any(k.endswith("/mean") for k in keys if k.startswith("rewards/")))]


def _overlay_heldout(ax: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Held-out points on a right-hand 0-100% axis (one marker series per task and metric)."""
    by_label: dict[str, Series] = {}
    for row in rows:
        name, value = heldout_value(row)
        if value is None or not isinstance(row.get("step"), (int, float)):
            continue
        label = (f"{row.get('split') or 'held-out'} {name}"
                 + (f" ({row.get('task')})" if len({r.get('task') for r in rows}) > 1 else ""))
        by_label.setdefault(label, []).append((float(row["step"]), 100 * value))
    if not by_label:
        return
    twin = ax.twinx()
    for i, (label, points) in enumerate(sorted(by_label.items())):
        points = sorted(points)
        twin.plot([p[0] for p in points], [p[1] for p in points], color=("#23864f", "#1d2330", "#b7791f")[i % 3],
                  marker="D", ms=5, lw=1, ls=":", label=label)
    twin.set_ylim(-3, 103)
    splits = sorted({str(r.get("split") or "held-out") for r in rows})
    twin.set_ylabel(f"{' / '.join(splits)} (%)", color="#23864f")
    twin.spines["right"].set_visible(True)
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    ax.legend(handles + more, labels + more_labels, frameon=False, fontsize=8, loc="best")


def stage_figure(stage: str, history: Sequence[dict[str, Any]], heldout: Sequence[dict[str, Any]],
                 plt: Any) -> tuple[Any, list[str]] | None:
    """The stage's figure and the titles of the panels drawn (None when it logged nothing to plot)."""
    panels = available_panels(stage, history)
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 3.1 * rows), squeeze=False)
    titles = []
    # held-out points go on the panel a reader compares them with: GRPO's reward, SFT's token accuracy (or loss)
    overlay_on = "reward" if stage == "grpo" else ("mean_token_accuracy" if any(
        p.key == "mean_token_accuracy" for p in panels) else panels[0].key)
    for ax, panel in zip(axes.flat, panels):
        panel.draw(ax, history)
        title = panel.title
        if panel.key == "reward" and not series(history, "reward_std_within_group"):
            title = "reward mean ± batch std (TRL reward_std)"  # a run logged without clinrl's group spread
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"{STAGE_TITLES.get(stage, stage)} step")
        ax.grid(alpha=0.25)
        if panel.key == overlay_on and heldout:
            _overlay_heldout(ax, heldout)
            titles.append(title + " (held-out points overlaid)")
        else:
            if len(ax.get_legend_handles_labels()[0]) > 1:
                ax.legend(frameon=False, fontsize=8)
            titles.append(title)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(STAGE_TITLES.get(stage, stage), fontsize=12, fontweight="bold")
    fig.tight_layout()
    return fig, titles


SUMMARY_KEYS = {
    "sft": (("loss", "loss", "{:.3f}"), ("mean_token_accuracy", "token accuracy", "pct")),
    "grpo": (("reward", "reward mean", "{:.3f}"), ("reward_std_within_group", "reward within-group std", "{:.3f}"),
             ("reward_std", "reward batch std (TRL)", "{:.3f}"), ("frac_reward_zero_std", "groups tied", "pct"),
             ("kl", "KL", "{:.2e}"), ("completions/mean_length", "mean completion length", "{:.1f}"),
             ("completions/clipped_ratio", "truncated", "pct"), ("entropy", "entropy", "{:.3f}")),
}


def summary_rows(stage: str, history: Sequence[dict[str, Any]]) -> list[list[str]]:
    """[signal, first, last, min, max] per logged signal of a stage (for the tables under the figures)."""
    out = []
    for key, label, fmt in SUMMARY_KEYS.get(stage, ()):
        points = series(history, key)
        if not points:
            continue
        values = [v for _, v in points]

        def show(v: float) -> str:
            return f"{100 * v:.1f}%" if fmt == "pct" else fmt.format(v)

        out.append([label, f"{show(values[0])} (step {points[0][0]:g})", f"{show(values[-1])} "
                    f"(step {points[-1][0]:g})", show(min(values)), show(max(values))])
    return out
