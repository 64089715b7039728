"""Task mixtures: training rows from one or several tasks, and rewards dispatched per sample.

EHRMIND studies cross-task generalisation by training on several tasks at once. A mixture is a list
of :class:`~clinrl.training.config.TaskSettings` with sampling weights; every training row carries
its ``task`` name and its JSON ``target``, so one pair of reward functions scores each completion
with its own task's verifier. Held-out samples stay per task, so accuracy is reported per task.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from clinrl.errors import ConfigError
from clinrl.prompting import render_prompt
from clinrl.registry import get_task
from clinrl.rewards.contract import completion_text
from clinrl.tasks.base import Task
from clinrl.training.config import TaskSettings
from clinrl.types import Sample, Score


@dataclass
class TaskData:
    """One task of a mixture with its loaded samples."""

    settings: TaskSettings
    task: Task
    train: list[Sample]
    heldout: list[Sample]
    dropped_overlap: int = 0  # held-out samples removed because their prompt also appears in training
    warmup: list[Sample] | None = None  # the SFT warm-up's pool when it has its own source (sft_source)
    #: samples of the training distribution held back to choose on (``validation_limit``; empty: none)
    validation: list[Sample] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def sft_pool(self) -> list[Sample]:
        """The samples the warm-up's ``sft_fraction`` subset is drawn from: ``sft_source``'s, else the training ones."""
        return self.train if self.warmup is None else self.warmup


@dataclass
class Mixture:
    tasks: list[TaskData]
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, Task]:
        return {t.name: t.task for t in self.tasks}

    @property
    def has_validation(self) -> bool:
        """Whether choices inside the run (``eval_every``, ``keep: best``) are made on a validation split."""
        return any(t.validation for t in self.tasks)

    def weights(self) -> list[float]:
        total = sum(t.settings.weight for t in self.tasks)
        return [t.settings.weight / total for t in self.tasks]


def _prompt_key(sample: Sample) -> str:
    text = json.dumps(sample.prompt, sort_keys=True) + sample.prefill
    return hashlib.sha256(text.encode()).hexdigest()


def load_mixture(settings: Sequence[TaskSettings], *, seed: int = 0) -> Mixture:
    """Load training and held-out samples for each task; held-out prompts never appear in training."""
    if not settings:
        raise ConfigError("no tasks configured: add at least one entry under `tasks:`")
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ConfigError(f"a task appears twice in the mixture: {names}")
    out: list[TaskData] = []
    notes: list[str] = []
    for ts in settings:
        if ts.weight <= 0:
            raise ConfigError(f"tasks[{ts.name}].weight must be > 0, got {ts.weight}")
        from clinrl.models import resolve_task_options  # a model spec as `tokenizer` becomes its tokenizer

        task = get_task(ts.name, **resolve_task_options(ts.options))
        check_trainable(task)
        train = task.load(ts.source, ts.train_split, limit=ts.train_limit, seed=seed)
        heldout_source = ts.heldout_source or ts.source
        # The held-out generator gets its own seed stream so synthetic splits do not share items.
        heldout = task.load(heldout_source, ts.heldout_split, limit=ts.heldout_limit, seed=seed + 1_000_003)
        if not train:
            raise ConfigError(f"task {ts.name!r}: source {ts.source!r} split {ts.train_split!r} gave no samples")
        warmup = None
        if ts.sft_source is not None:
            # Its own seed stream too: a synthetic warm-up source does not restate the GRPO prompts' patients.
            warmup = task.load(ts.sft_source, ts.train_split, limit=ts.train_limit, seed=seed + 2_000_003)
            if not warmup:
                raise ConfigError(f"task {ts.name!r}: sft_source {ts.sft_source!r} split {ts.train_split!r} gave "
                                  "no samples")
        seen = {_prompt_key(s) for s in [*train, *(warmup or [])]}
        kept = [s for s in heldout if _prompt_key(s) not in seen]
        dropped = len(heldout) - len(kept)
        if dropped:
            notes.append(f"{ts.name}: {dropped} held-out sample(s) also in training were left out of held-out")
        validation = load_validation(task, ts, seed, used=seen | {_prompt_key(s) for s in kept}, notes=notes)
        out.append(TaskData(ts, task, train, kept, dropped, warmup, validation))
    return Mixture(out, seed, notes)


def load_validation(task: Task, ts: TaskSettings, seed: int, *, used: set[str], notes: list[str]) -> list[Sample]:
    """``validation_limit`` samples of the training distribution whose prompts are in neither training nor held-out.

    They come from ``source``'s ``train_split`` with their own seed stream (a synthetic generator gives new
    patients); a file gives the same rows for every seed, so its rows after the first ``train_limit`` are read.
    """
    want = ts.validation_limit
    if want < 0:
        raise ConfigError(f"tasks[{ts.name}].validation_limit must be >= 0, got {want}")
    if not want:
        return []
    picked: list[Sample] = []
    limits = [want] + ([ts.train_limit + want] if ts.train_limit is not None else [None])
    for limit in limits:
        picked, seen = [], set(used)
        for sample in task.load(ts.source, ts.train_split, limit=limit, seed=seed + 3_000_003):
            key = _prompt_key(sample)
            if key not in seen:
                seen.add(key)
                picked.append(sample)
            if len(picked) == want:
                return picked
    if not picked:
        raise ConfigError(f"tasks[{ts.name}].validation_limit={want}: every sample of source {ts.source!r} split "
                          f"{ts.train_split!r} is already in training or held-out; lower train_limit to hold some "
                          "back, or set validation_limit: 0")
    notes.append(f"{ts.name}: {len(picked)} validation samples, not {want}: the rest of source {ts.source!r} split "
                 f"{ts.train_split!r} is in training or held-out")
    return picked


def check_trainable(task: Task) -> None:
    """Refuse a task whose completions training cannot reward honestly: ``contract="official"`` is a benchmark's
    published evaluator, quirks included, and leaves unscored the replies it would need an ``eval()`` for."""
    if task.contract == "official":
        raise ConfigError(f"task {task.name!r} reads completions with contract 'official' (the benchmark's own "
                          "evaluator, for reporting its number), which training cannot reward with; train with "
                          "options: {contract: ehrmind} (the strict <think>/<answer> contract the EHRMIND prompts "
                          "ask for) or {contract: lenient}")


def weighted_order(sizes: Sequence[int], weights: Sequence[float], n_total: int, seed: int) -> list[tuple[int, int]]:
    """``n_total`` (task index, row index) pairs: tasks drawn by weight, rows cycled in a seeded shuffle."""
    rng = random.Random(seed)
    orders = []
    for size in sizes:
        order = list(range(size))
        rng.shuffle(order)
        orders.append(order)
    cursor = [0] * len(sizes)
    picks: list[tuple[int, int]] = []
    for _ in range(n_total):
        t = rng.choices(range(len(sizes)), weights=weights)[0] if len(sizes) > 1 else 0
        picks.append((t, orders[t][cursor[t] % sizes[t]]))
        cursor[t] += 1
    return picks



def sft_subset(data: TaskData, seed: int) -> list[Sample]:
    """EHRMIND's category-balanced subset (``sft_fraction`` of the usable samples of :attr:`TaskData.sft_pool`)
    for the warm-up."""
    fraction = data.settings.sft_fraction
    if not 0 < fraction <= 1:
        raise ConfigError(f"tasks[{data.name}].sft_fraction must be in (0, 1], got {fraction}")
    pool = data.sft_pool
    if fraction >= 1:
        return pool
    from clinrl.data.sft import build_sft_examples

    picked, _ = build_sft_examples(pool, task=data.task, pct=fraction, seed=seed, val_fraction=0.0)
    ids = {str(r["id"]) for r in picked}
    return [s for s in pool if s.id in ids]


def _mix(mixture: Mixture, per_task: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    n_total = sum(len(rows) for rows in per_task)
    picks = weighted_order([len(r) for r in per_task], mixture.weights(), n_total, mixture.seed)
    return [per_task[t][i] for t, i in picks]


def sft_rows(mixture: Mixture, tokenizer: Any, think: str = "full",
             notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFTTrainer: loss on the completion only, pre-fill in the prompt.

    The completion is the task's :meth:`~clinrl.tasks.base.Task.sft_completion`. Samples without one (no worked
    explanation) are left out and counted in ``notes``; a task left with none is refused. Targets that do not
    score correct (a flawed teacher, on purpose or not) are kept and counted in ``notes``.
    """
    per_task = []
    for data in mixture.tasks:
        rows, skipped, off_gold = [], Counter(), 0
        for sample in sft_subset(data, mixture.seed):
            try:
                completion = data.task.sft_completion(sample, think)
            except ValueError as exc:
                skipped[str(exc).split(" (")[0]] += 1
                continue
            off_gold += not data.task.score(completion, sample.target).correct
            rows.append({"prompt": render_prompt(tokenizer, sample), "completion": completion,
                         "task": data.name, "id": sample.id})
        if off_gold and notes is not None:  # e.g. MedCalc's teacher_slip ablation: the warm-up imitates a flawed teacher
            notes.append(f"sft: {off_gold} of {len(rows)} {data.name} warm-up targets do not score correct against "
                         "their gold answer (the warm-up copies their mistakes; GRPO and held-out scores use the gold)")
        if not rows:
            raise ConfigError(f"task {data.name!r}: none of its {sum(skipped.values())} SFT sample(s) has an SFT "
                              f"target ({', '.join(skipped) or 'no samples'}); give it worked examples or disable "
                              "the SFT stage (sft.enabled: false)")
        if skipped and notes is not None:
            notes.append(f"sft: {sum(skipped.values())} {data.name} sample(s) without an SFT target were left out "
                         f"({', '.join(f'{why}: {n}' for why, n in skipped.items())})")
        per_task.append(rows)
    return _mix(mixture, per_task)


def grpo_rows(mixture: Mixture, tokenizer: Any, *, steps: bool = False) -> list[dict[str, Any]]:
    """Prompt rows for TRL's GRPOTrainer: rendered text (so the pre-fill is respected), task, target; with
    ``steps``, also each sample's gold worked steps as JSON (``null`` where the task has none), for the
    ``grpo.step_reward`` ablation."""
    def row(t: TaskData, s: Sample) -> dict[str, Any]:
        out = {"prompt": render_prompt(tokenizer, s), "task": t.name, "id": s.id,
               "target": json.dumps(s.target, sort_keys=True, default=str)}
        if steps:
            out["steps"] = json.dumps(t.task.reference_steps(s))
        return out

    return _mix(mixture, [[row(t, s) for s in t.train] for t in mixture.tasks])


def check_step_reward(mixture: Mixture, weight: float) -> str | None:
    """Refuse ``grpo.step_reward`` when no training sample has reference steps; else a note for the run's report
    saying that the training reward is shaped and how many prompts carry steps."""
    if not weight:
        return None
    with_steps = sum(1 for t in mixture.tasks for s in t.train if t.task.reference_steps(s))
    total = sum(len(t.train) for t in mixture.tasks)
    if not with_steps:
        raise ConfigError(f"grpo.step_reward is {weight} but no training sample of {', '.join(mixture.by_name())} "
                          "has reference steps (MedCalc point scores do; formulas and the other tasks do not): "
                          "set grpo.step_reward: 0")
    return (f"grpo: shaped-reward ablation: each well-formed completion also earns {weight:g} x the share of its "
            f"sample's gold worked steps it writes ({with_steps} of {total} training prompts have steps); held-out "
            "metrics use the task's verifier alone")


class MixtureReward:
    """TRL reward functions that score each completion with its own row's task.

    Two functions whose sum is the task's reward (EHRMIND: −2 / 0 / 1.1; a rubric task: its rubric
    reward), so TRL logs format and content separately: ``format`` carries the whole value of a
    malformed completion (``Score.format_ok is False``) and 0 otherwise; ``correct`` carries the rest.
    A completion that cannot be scored gets ``None`` from *both* functions, which TRL treats as
    unscorable (left out of the group baseline, zero advantage) instead of the 0 a lone ``None`` would
    be summed into. Each task scores its rows with its own contract in one
    :meth:`~clinrl.tasks.base.Task.score_many` call per batch (one judge batch for a rubric task); the scores
    are shared by the two functions.
    """

    def __init__(self, tasks: dict[str, Task], *, step_reward: float = 0.0):
        for task in tasks.values():
            check_trainable(task)
        self.tasks = tasks
        self.step_reward = step_reward
        self.unscored = 0
        self._cache: tuple[Any, list[Score]] | None = None

    def _scores(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> list[Score]:
        names = kwargs.get("task")
        targets = kwargs.get("target")
        if names is None or targets is None:
            raise ConfigError("mixture rewards need the dataset columns 'task' and 'target' "
                              "(build rows with clinrl.training.mixtures.grpo_rows)")
        texts = [completion_text(c) for c in completions]
        key = (tuple(texts), tuple(map(str, names)), tuple(map(str, targets)))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        by_task: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            if name not in self.tasks:
                raise ConfigError(f"row of task {name!r} but the mixture has {', '.join(self.tasks)}")
            by_task.setdefault(name, []).append(i)
        scores: list[Score | None] = [None] * len(texts)
        for name, rows in by_task.items():
            task = self.tasks[name]
            parsed = [json.loads(targets[i]) if isinstance(targets[i], str) else targets[i] for i in rows]
            got = task.score_many([texts[i] for i in rows], parsed)
            for i, score in zip(rows, got):
                scores[i] = score
        result = [s if s is not None else Score.unscored("not scored") for s in scores]
        self.unscored += sum(1 for s in result if s.value is None)
        self._cache = (key, result)
        return result

    def functions(self) -> list:
        def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            return [None if s.value is None else (float(s.value) if s.format_ok is False else 0.0)
                    for s in self._scores(completions, kwargs)]

        def correct_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            return [None if s.value is None else (0.0 if s.format_ok is False else float(s.value))
                    for s in self._scores(completions, kwargs)]

        format_reward.__name__ = "format"
        correct_reward.__name__ = "correct"
        if not self.step_reward:
            return [format_reward, correct_reward]

        def step_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            """``step_reward`` x the share of reference steps written, for well-formed completions (the ablation)."""
            scores = self._scores(completions, kwargs)
            references = kwargs.get("steps")
            if references is None:
                raise ConfigError("grpo.step_reward needs the dataset column 'steps' "
                                  "(build rows with grpo_rows(..., steps=True))")
            out: list[float | None] = []
            for score, completion, name, reference in zip(scores, completions, kwargs["task"], references):
                steps = json.loads(reference) if isinstance(reference, str) else reference
                if score.value is None:
                    out.append(None)
                elif not score.format_ok or not steps:
                    out.append(0.0)
                else:
                    credit = self.tasks[name].step_credit(completion_text(completion), steps)
                    out.append(0.0 if credit is None else self.step_reward * credit)
            return out

        step_reward.__name__ = "steps"
        return [format_reward, correct_reward, step_reward]
