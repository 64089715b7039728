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
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from clinrl.errors import ConfigError
from clinrl.prompting import render_prompt
from clinrl.registry import get_task
from clinrl.rewards.contract import completion_text
from clinrl.tasks.base import Task
from clinrl.training.config import THINK_MODES, TaskSettings
from clinrl.types import Sample, Score


@dataclass
class TaskData:
    """One task of a mixture with its loaded samples."""

    settings: TaskSettings
    task: Task
    train: list[Sample]
    heldout: list[Sample]
    dropped_overlap: int = 0  # held-out samples removed because their prompt also appears in training

    @property
    def name(self) -> str:
        return self.task.name


@dataclass
class Mixture:
    tasks: list[TaskData]
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, Task]:
        return {t.name: t.task for t in self.tasks}

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
        train = task.load(ts.source, ts.train_split, limit=ts.train_limit, seed=seed)
        heldout_source = ts.heldout_source or ts.source
        # The held-out generator gets its own seed stream so synthetic splits do not share items.
        heldout = task.load(heldout_source, ts.heldout_split, limit=ts.heldout_limit, seed=seed + 1_000_003)
        if not train:
            raise ConfigError(f"task {ts.name!r}: source {ts.source!r} split {ts.train_split!r} gave no samples")
        seen = {_prompt_key(s) for s in train}
        kept = [s for s in heldout if _prompt_key(s) not in seen]
        dropped = len(heldout) - len(kept)
        if dropped:
            notes.append(f"{ts.name}: {dropped} held-out sample(s) also in training were left out of held-out")
        out.append(TaskData(ts, task, train, kept, dropped))
    return Mixture(out, seed, notes)


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



#: one criterion line of a point-score explanation (:class:`clinrl.calculators._tally.Tally`)
_TALLY_LINE = re.compile(r"^- (?P<criterion>.+?): (?P<finding>.+) -> (?P<points>-?[\d.]+) points?(?:\(s\))?; "
                         r"total (?:stays (?P<same>\S+?)|.+ = (?P<new>\S+?))\.$")


def compact_steps(explanation: str) -> str:
    """A point-score explanation as a worked tally: one ``+points = running total`` line per criterion.

    The criteria come in the calculator's fixed order, so each line is one local step — decide the
    criterion's points from the note, add them to the previous total — and the last total is the answer.
    A 5-criterion score costs ~25 tokens where the full explanation costs ~280, which keeps CPU GRPO
    affordable; and unlike ``last_line`` the model never has to produce the score in one jump. An
    explanation with no criterion lines (a formula) keeps its last line, as ``last_line`` does.
    """
    steps = []
    for line in explanation.splitlines():
        match = _TALLY_LINE.match(line.strip())
        if match:
            points = match["points"]
            sign = "" if points.startswith("-") else "+"
            steps.append(f"{sign}{points} = {match['same'] or match['new']}")
    if steps:
        return "\n".join(steps)
    lines = [line for line in explanation.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def sft_target(task: Task, sample: Sample, think: str = "full") -> str:
    """The SFT completion: the sample's worked explanation in ``<think>``, then the gold answer.

    A data builder may store a ready target in ``metadata['sft_target']``. Otherwise the explanation
    comes from :func:`clinrl.data.sft.explanation_for` (MedCalc-Bench's step-by-step explanation, or the
    calculator's for synthetic rows). ``think="last_line"`` keeps only the final line of the explanation
    (the computation with the note's values): short completions make CPU GRPO affordable for the tiny
    model; GPU recipes keep the full explanation (EHRMIND).
    """
    if think not in THINK_MODES:
        raise ConfigError(f"sft.think must be one of {', '.join(THINK_MODES)}, got {think!r}")
    ready = sample.metadata.get("sft_target")
    if isinstance(ready, str) and ready.strip():
        return ready
    from clinrl.data.sft import explanation_for

    explanation, _ = explanation_for(sample)
    if think == "last_line" and explanation:
        explanation = [line for line in explanation.splitlines() if line.strip()][-1]
    elif think == "steps" and explanation:
        explanation = compact_steps(explanation)
    return task.oracle_completion(sample, think=f"\n{explanation.strip()}\n" if explanation.strip() else "\n")


def sft_subset(data: TaskData, seed: int) -> list[Sample]:
    """EHRMIND's category-balanced subset (``sft_fraction`` of the usable samples) for the warm-up."""
    fraction = data.settings.sft_fraction
    if not 0 < fraction <= 1:
        raise ConfigError(f"tasks[{data.name}].sft_fraction must be in (0, 1], got {fraction}")
    if fraction >= 1:
        return data.train
    from clinrl.data.sft import build_sft_examples

    picked, _ = build_sft_examples(data.train, pct=fraction, seed=seed, val_fraction=0.0, task=data.task)
    ids = {str(r["id"]) for r in picked}
    return [s for s in data.train if s.id in ids]


def _rows(mixture: Mixture, build, *, sft: bool = False) -> list[dict[str, Any]]:
    per_task = [[build(t, s) for s in (sft_subset(t, mixture.seed) if sft else t.train)] for t in mixture.tasks]
    n_total = sum(len(rows) for rows in per_task)
    picks = weighted_order([len(r) for r in per_task], mixture.weights(), n_total, mixture.seed)
    return [per_task[t][i] for t, i in picks]


def sft_rows(mixture: Mixture, tokenizer: Any, think: str = "full") -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFTTrainer: loss on the completion only, pre-fill in the prompt."""
    return _rows(mixture, lambda t, s: {"prompt": render_prompt(tokenizer, s),
                                        "completion": sft_target(t.task, s, think),
                                        "task": t.name, "id": s.id}, sft=True)


def grpo_rows(mixture: Mixture, tokenizer: Any) -> list[dict[str, Any]]:
    """Prompt rows for TRL's GRPOTrainer: rendered text (so the pre-fill is respected), task, target."""
    return _rows(mixture, lambda t, s: {"prompt": render_prompt(tokenizer, s), "task": t.name, "id": s.id,
                                        "target": json.dumps(s.target, sort_keys=True, default=str)})


class MixtureReward:
    """TRL reward functions that score each completion with its own row's task.

    Two functions whose sum is the task's reward (EHRMIND: −2 / 0 / 1.1; a rubric task: its rubric
    reward), so TRL logs format and content separately: ``format`` carries the whole value of a
    malformed completion (``Score.format_ok is False``) and 0 otherwise; ``correct`` carries the rest.
    A completion that cannot be scored gets ``None`` from *both* functions, which TRL treats as
    unscorable (left out of the group baseline, zero advantage) instead of the 0 a lone ``None`` would
    be summed into. Scores are computed once per batch (tasks with ``score_many`` — judged rubric tasks
    — are scored in one batched call) and shared by the two functions.
    """

    def __init__(self, tasks: dict[str, Task]):
        self.tasks = tasks
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
            if hasattr(task, "score_many"):
                got = task.score_many([texts[i] for i in rows], parsed)
            else:
                got = [task.score(texts[i], t, contract="ehrmind") for i, t in zip(rows, parsed)]
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
        return [format_reward, correct_reward]
