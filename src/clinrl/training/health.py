"""Training health: did RL help, did it hurt, and which checkpoint to keep.

A GRPO run can raise its training reward while the held-out task gets worse (the EHR quickstart learned to
answer "no" to everything: accuracy rose to the negative rate, balanced accuracy fell to 0.5). This module
reads what a run already wrote and says so plainly:

* :func:`paired_gain` — the held-out headline metric of a later stage minus an earlier one on the same
  samples, with a paired bootstrap 95% interval (accuracy, or the task's own headline: balanced accuracy,
  macro-F1, mean rubric reward);
* :func:`check_health` — three warnings, each with the evidence:

  ``heldout_drop``     the headline metric after GRPO is below the warm-up's and the paired interval of the
                       difference lies entirely below 0 — after the stage and at each intermediate held-out
                       evaluation, whose row carries its own paired gain (:func:`gain_fields`; where no
                       warm-up records exist to pair with, below the warm-up's own 95% interval);
  ``reward_collapse``  the mean training reward of the last quarter of logged GRPO steps is more than
                       :data:`COLLAPSE_MIN_DROP` below the first quarter's, and more than two standard errors
                       of that difference, the noise of one logged step measured by the curve's successive
                       differences;
  ``constant_answers`` at least :data:`CONSTANT_SHARE` of the held-out answers are one value while the gold
                       answers are not (the most common gold answer covers less than that share);
  ``below_prior``      a trained model's held-out headline metric is no better than :func:`answer_prior`'s,
                       a guesser that answers each group's most common training answer without reading the
                       input (a warm-up or an RL gain that ends there has learned the label prior, not the task);

* :func:`choose_kept` — ``keep: last`` keeps GRPO's final model; ``keep: best`` keeps whichever evaluated
  model (the warm-up, an intermediate GRPO evaluation saved to ``RUN/grpo/best``, GRPO's final model) has
  the best held-out headline metric. The choice is made on the same held-out split it is reported on, so
  the kept model's number is optimistic; the report says so.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from clinrl.evaluation.metrics import N_RESAMPLES, paired_comparison

#: the smallest fall of the mean training reward (first → last quarter of GRPO) called a collapse
COLLAPSE_MIN_DROP = 0.1
#: share of held-out answers that makes a model "constant"
CONSTANT_SHARE = 0.95
KEEP_CHOICES = ("last", "best")


@dataclass
class HealthWarning:
    kind: str
    stage: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# -- paired gain --------------------------------------------------------------------------------------
def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def paired_gain(task: Any, samples: Sequence[Any], records_a: Sequence[Mapping[str, Any]],
                records_b: Sequence[Mapping[str, Any]], *, seed: int = 0,
                n_resamples: int = N_RESAMPLES) -> dict[str, Any]:
    """Headline metric of B minus A on the samples both scored, with a paired bootstrap 95% interval.

    Without a task headline the metric is accuracy (:func:`clinrl.evaluation.metrics.paired_comparison`).
    With one (EHR balanced accuracy, trials macro-F1, ...) the same resampled sample set is scored for both
    runs and the task's own metric recomputed, so the interval is paired too. Values are fractions (0.12 =
    +12 points). ``delta`` is ``None`` when nothing could be paired or the metric is undefined.
    """
    if task.headline is None:
        result = paired_comparison(records_a, records_b, n_resamples=n_resamples, seed=seed)
        diff = result["difference"]
        return {"metric": "accuracy", "value_a": result["accuracy_a"], "value_b": result["accuracy_b"],
                "delta": diff.get("value") if result["n_paired"] else None,
                "ci": [diff.get("ci_low"), diff.get("ci_high")] if result["n_paired"] else None,
                "n": result["n_paired"], "fixed": result["b_only"], "broken": result["a_only"]}
    from clinrl.types import Score

    by_id = {str(s.id): s for s in samples}
    a = {str(r["id"]): Score.from_record(r["completions"][0]) for r in records_a if r.get("completions")}
    b = {str(r["id"]): Score.from_record(r["completions"][0]) for r in records_b if r.get("completions")}
    common = [i for i in sorted(set(a) & set(b) & set(by_id)) if a[i].correct is not None and b[i].correct is not None]
    name = task.headline[0]
    if not common:
        return {"metric": name, "value_a": None, "value_b": None, "delta": None, "ci": None, "n": 0}
    picked = [by_id[i] for i in common]
    scores_a, scores_b = [a[i] for i in common], [b[i] for i in common]

    def headline(idx: Sequence[int]) -> tuple[float | None, float | None]:
        sub = [picked[k] for k in idx]
        return (task.headline_value(task.metrics(sub, [scores_a[k] for k in idx])),
                task.headline_value(task.metrics(sub, [scores_b[k] for k in idx])))

    value_a, value_b = headline(range(len(common)))
    if value_a is None or value_b is None:
        return {"metric": name, "value_a": value_a, "value_b": value_b, "delta": None, "ci": None, "n": len(common)}
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_resamples):
        ha, hb = headline(rng.integers(0, len(common), len(common)).tolist())
        if ha is not None and hb is not None and math.isfinite(ha) and math.isfinite(hb):
            diffs.append(hb - ha)
    ci = list(_percentile_interval(np.asarray(diffs))) if diffs else None
    return {"metric": name, "value_a": value_a, "value_b": value_b, "delta": value_b - value_a, "ci": ci,
            "n": len(common), "n_resamples_defined": len(diffs)}


def gain_fields(gain: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a :func:`paired_gain` a held-out row keeps (``heldout_eval.jsonl``, ``paired_gain``)."""
    return {key: gain.get(key) for key in ("metric", "value_a", "value_b", "delta", "ci", "n")}


def gain_text(gain: Mapping[str, Any], *, from_stage: str = "sft", to_stage: str = "grpo") -> str:
    """``"GRPO over SFT: accuracy +12.3 points [95% CI +6.0, +18.5] on 200 paired samples"``."""
    label = f"{to_stage.upper()} over {from_stage.upper()}"
    if gain.get("delta") is None:
        return f"{label}: {gain.get('metric', 'accuracy')} gain undefined ({gain.get('n', 0)} paired samples)"
    ci = gain.get("ci") or [None, None]
    interval = "" if None in ci else f" [95% CI {100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"
    return (f"{label}: {gain['metric']} {100 * gain['delta']:+.1f} points{interval} on {gain['n']} paired samples "
            f"({100 * gain['value_a']:.1f}% → {100 * gain['value_b']:.1f}%)")


# -- warnings ------------------------------------------------------------------------------------------
def heldout_drop(gain: Mapping[str, Any], stage: str = "grpo") -> HealthWarning | None:
    """The final held-out headline fell below the warm-up's (or the starting model's), beyond its paired interval."""
    ci = gain.get("ci")
    if gain.get("delta") is None or not ci or ci[1] is None or ci[1] >= 0:
        return None
    return HealthWarning("heldout_drop", stage,
                         f"RL hurt: held-out {gain['metric']} fell from {100 * gain['value_a']:.1f}% to "
                         f"{100 * gain['value_b']:.1f}% ({100 * gain['delta']:+.1f} points, 95% CI "
                         f"{100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})")


def intermediate_drop(row: Mapping[str, Any], baseline: Mapping[str, Any]) -> HealthWarning | None:
    """A held-out (or validation: the row's ``split``) evaluation during GRPO that fell below the warm-up's.

    With the row's ``paired_gain`` (the evaluation's samples paired with the warm-up's, as the final check
    does): when that interval lies entirely below 0. Without one (no warm-up records to pair with): when the
    value is below the warm-up's own 95% interval, or 5 points below a headline metric that carries none. A
    ``baseline`` row of stage ``base`` (GRPO from a model this run did not warm up) is named the starting model."""
    start = "the starting model's" if baseline.get("stage") == "base" else "the warm-up's"
    split = str(row.get("split") or "held-out")  # a validation evaluation is compared with the warm-up's validation
    gain = row.get("paired_gain") or {}
    ci = gain.get("ci")
    if gain.get("delta") is not None and ci and ci[1] is not None:
        if ci[1] >= 0:
            return None
        return HealthWarning("heldout_drop", str(row.get("stage")),
                             f"{split} {gain['metric']} at {row.get('stage')} step {row.get('step')} is "
                             f"{100 * gain['value_b']:.1f}%, below {start} {100 * gain['value_a']:.1f}% "
                             f"({100 * gain['delta']:+.1f} points, paired 95% CI {100 * ci[0]:+.1f} to "
                             f"{100 * ci[1]:+.1f})")
    value, base = headline_of(row), headline_of(baseline)
    low = (baseline.get("accuracy_ci") or [None])[0] if not baseline.get("headline") else None
    if value is None or base is None:
        return None
    floor = low if low is not None else base - 0.05  # headline metrics carry no interval in the row: 5 points
    if value >= floor:
        return None
    return HealthWarning("heldout_drop", str(row.get("stage")),
                         f"{split} {headline_name(row)} at {row.get('stage')} step {row.get('step')} is "
                         f"{100 * value:.1f}%, below {start} {100 * base:.1f}% (floor {100 * floor:.1f}%)")


def reward_collapse(log_history: Sequence[Mapping[str, Any]], stage: str = "grpo") -> HealthWarning | None:
    """The training reward's last quarter is clearly below its first quarter.

    "Clearly" is measured against the run's own step-to-step noise: the variance of one logged reward is
    estimated from the successive differences of the whole curve (half their mean square), which a trend
    barely inflates and which exists even when a quarter holds a single logged step. A run with few prompts a
    step (the EHR light run: 2) swings by tens of points from one logged step to the next, so a lucky first
    step is not a collapse."""
    rewards = [float(r["reward"]) for r in log_history if isinstance(r.get("reward"), (int, float))]
    if len(rewards) < 4:
        return None
    quarter = max(1, len(rewards) // 4)
    first, last = rewards[:quarter], rewards[-quarter:]
    drop = statistics.fmean(first) - statistics.fmean(last)
    step_variance = statistics.fmean((b - a) ** 2 for a, b in zip(rewards, rewards[1:])) / 2
    standard_error = math.sqrt(step_variance * (1 / len(first) + 1 / len(last)))
    if drop <= COLLAPSE_MIN_DROP or drop <= 2 * standard_error:
        return None
    return HealthWarning("reward_collapse", stage,
                         f"training reward collapsed: mean {statistics.fmean(first):.3f} over the first "
                         f"{len(first)} logged steps, {statistics.fmean(last):.3f} over the last {len(last)} "
                         f"(a fall of {drop:.3f}; step-to-step noise gives a standard error of {standard_error:.3f})")


def constant_answers(task: Any, records: Sequence[Mapping[str, Any]], stage: str) -> HealthWarning | None:
    """One answer for (almost) every held-out input, while the gold answers vary."""
    import json

    answers = [json.dumps(r["completions"][0].get("answer"), sort_keys=True, default=str) for r in records
               if r.get("completions") and r["completions"][0].get("answer") is not None]
    golds = [json.dumps(task.oracle_answer(r["target"]), sort_keys=True, default=str) for r in records
             if isinstance(r.get("target"), Mapping)]
    if len(answers) < 10:
        return None
    value, count = Counter(answers).most_common(1)[0]
    gold_share = Counter(golds).most_common(1)[0][1] / len(golds) if golds else 1.0
    share = count / len(answers)
    if share < CONSTANT_SHARE or gold_share >= CONSTANT_SHARE:
        return None
    return HealthWarning("constant_answers", stage,
                         f"the {stage} model gives the answer {value} to {100 * share:.0f}% of held-out {task.name} inputs "
                         f"(the most common gold answer covers {100 * gold_share:.0f}%)")


# -- the reader-free baseline ----------------------------------------------------------------------------
def answer_prior(task: Any, train: Sequence[Any], heldout: Sequence[Any]) -> dict[str, Any] | None:
    """The held-out headline metric of a guesser that never reads the input: each held-out sample gets the most
    common gold answer among the training samples of its group (``task.answer_prior``, a :meth:`group_keys` key:
    MedCalc's calculator, EHR's labeling task; ``"all"``: one group), or of all training samples when its group
    has none. The guess is the task's own oracle completion of that answer, scored by the task's verifier, so it
    is read exactly as a model's reply is. ``None`` when the task has no such baseline (open answers) or no
    sample to guess from."""
    import json

    from clinrl.tasks.base import PRIOR_ALL

    key = getattr(task, "answer_prior", None)
    if key is None or not train or not heldout:
        return None

    def group(sample: Any) -> str:
        return PRIOR_ALL if key == PRIOR_ALL else str(task.group_keys(sample).get(key))

    counts: dict[str, Counter] = {}
    example: dict[str, Any] = {}  # answer → one training target that has it
    for sample in train:
        answer = json.dumps(task.oracle_answer(sample.target), sort_keys=True, default=str)
        counts.setdefault(group(sample), Counter())[answer] += 1
        example.setdefault(answer, sample.target)
    overall = sum(counts.values(), Counter())
    guesses = [(counts.get(group(s)) or overall).most_common(1)[0][0] for s in heldout]
    completions = {answer: task.oracle_completion(example[answer]) for answer in set(guesses)}
    scores = [task.score(completions[answer], s.target) for answer, s in zip(guesses, heldout)]
    metrics = task.metrics(list(heldout), scores)
    if task.headline is not None:
        value, name = task.headline_value(metrics), task.headline[0]
    else:
        value, name = metrics["accuracy"]["value"], "accuracy"
    if value is None or value != value:
        return None
    guess = ("the most common training answer for every input" if key == PRIOR_ALL
             else f"each {key.replace('_', ' ')}'s most common training answer")
    return {"task": task.name, "metric": name, "value": float(value), "group": key, "guess": guess,
            "n": len(heldout), "n_train": len(train)}


def below_prior(row: Mapping[str, Any], prior: Mapping[str, Any], stage: str) -> HealthWarning | None:
    """A trained model's held-out headline metric is no better than the reader-free baseline's."""
    value = headline_of(row)
    if value is None or prior.get("value") is None or value > prior["value"]:
        return None
    return HealthWarning("below_prior", stage,
                         f"the {stage} model's held-out {headline_name(row)} on {prior.get('task')} "
                         f"({100 * value:.1f}%) is no better than a reader-free guess ({100 * prior['value']:.1f}%: "
                         f"{prior.get('guess')}): it learned the answers' distribution, not to read the input")


# -- which model to keep -------------------------------------------------------------------------------
def headline_of(row: Mapping[str, Any]) -> float | None:
    """The row's headline value (the task's own metric when it has one, else accuracy)."""
    headline = row.get("headline")
    if headline:
        return headline.get("value")
    return row.get("accuracy")


def headline_name(row: Mapping[str, Any]) -> str:
    headline = row.get("headline")
    return str(headline.get("name")) if headline else "accuracy"


def mean_headline(rows: Sequence[Mapping[str, Any]]) -> float | None:
    values = [headline_of(r) for r in rows]
    if not values or any(v is None for v in values):
        return None
    return statistics.fmean(values)


@dataclass
class Candidate:
    stage: str
    step: int
    path: str
    metric: float | None


def choose_kept(policy: str, candidates: Sequence[Candidate]) -> Candidate:
    """``last``: the last candidate; ``best``: the highest metric (ties go to the later model)."""
    if policy not in KEEP_CHOICES:
        from clinrl.errors import ConfigError

        raise ConfigError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {policy!r}")
    if policy == "last" or not candidates:
        return candidates[-1]
    scored = [(c.metric, i) for i, c in enumerate(candidates) if c.metric is not None]
    if not scored:
        return candidates[-1]
    return candidates[max(scored)[1]]


BEST_MARKER = "clinrl_best.json"


def save_best(model: Any, tokenizer: Any, directory: Any, *, step: int, metric: float) -> None:
    """Save the best model so far (``keep: best``) with a marker naming its step and metric."""
    import json
    from pathlib import Path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    if hasattr(model, "merge_and_unload"):  # LoRA: save the adapters merged into a copy's full weights
        import copy

        model = copy.deepcopy(model).merge_and_unload()
    use_cache = model.config.use_cache
    model.config.use_cache = True
    model.save_pretrained(directory, safe_serialization=True)
    model.config.use_cache = use_cache
    tokenizer.save_pretrained(directory)
    (directory / BEST_MARKER).write_text(json.dumps({"step": step, "metric": metric}))


def read_best(directory: Any) -> dict[str, Any] | None:
    import json
    from pathlib import Path

    marker = Path(directory) / BEST_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None
