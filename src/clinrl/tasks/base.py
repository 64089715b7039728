"""The task contract every clinrl task implements.

A task

* **loads** samples for a split from a source (hub id, local file, or a synthetic generator),
* builds the **prompt** (chat messages, optional assistant pre-fill),
* **scores** a completion into a :class:`~clinrl.types.Score`,
* exposes **TRL-compatible reward functions** ``fn(prompts, completions, **kwargs)``,
* **aggregates** metrics (overall and per category).

A concrete task implements :meth:`load`, :meth:`check_answer` and :meth:`oracle_answer`;
the strict contract parsing, the reward scheme, the TRL reward functions, dataset rows and the
default metrics come from this base class.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

from clinrl.errors import ConfigError
from clinrl.metrics import proportion
from clinrl.rewards.contract import completion_text, parse_contract, wrap_contract
from clinrl.rewards.scheme import RewardScheme
from clinrl.types import Sample, Score

RewardFunction = Callable[..., list[float | None]]
CONTRACTS = ("ehrmind", "official", "lenient")


def display_value(value: Any) -> str:
    """``3.0`` → ``3``, ``0.30000000000000004`` → ``0.3``, ``[4, 2]`` → ``4, 2``, ``None`` → ``no answer``."""
    if value is None:
        return "no answer"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}" if abs(value) >= 1e-4 else f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@dataclass(frozen=True)
class TaskCard:
    """What a user needs to know about a task before trusting its numbers."""

    summary: str
    source: str = ""
    licence: str = ""
    splits: str = ""
    scoring: str = ""
    categories: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)  # not frozen: a frozen dataclass costs ~0.6 µs more per verdict (see the verifier bench)
class AnswerCheck:
    """A task's verdict on an answer that passed the contract."""

    correct: bool | None
    answer: Any = None
    explanation: str = ""


class Task(ABC):
    """Base class of every task. Subclasses set the class attributes and the three abstract methods."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    card: ClassVar[TaskCard]
    #: what `clinrl quickstart --task NAME` sets when its recipe was written for another task, as fields of
    #: :class:`clinrl.cli.quickstart.QuickstartBudget` (completion_tokens, sft_max_length, light_run, real_rows)
    quickstart_budget: ClassVar[Mapping[str, Any]] = {}
    #: keys the answer JSON must have (EHRMIND contract)
    answer_keys: ClassVar[tuple[str, ...]]
    #: keys the answer JSON may have in addition
    optional_answer_keys: ClassVar[tuple[str, ...]] = ()
    #: target fields that travel as dataset columns into reward functions
    target_fields: ClassVar[tuple[str, ...]] = ()
    #: False for tasks graded without the <think>/<answer> contract (e.g. rubric-graded answers)
    uses_answer_contract: ClassVar[bool] = True
    #: the task's own headline number beside accuracy, as (label, dotted key into ``metrics()``), shown in
    #: held-out evaluations during training and in run reports; ``None`` when accuracy says it all
    headline: ClassVar[tuple[str, str] | None] = None

    def headline_value(self, metrics: Mapping[str, Any]) -> float | None:
        """The :attr:`headline` number from a metrics dict (``None`` when absent or undefined)."""
        if self.headline is None:
            return None
        value: Any = metrics
        for part in self.headline[1].split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping):
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return None
        return float(value)

    def __init__(self, *, scheme: RewardScheme | None = None, contract: str = "ehrmind") -> None:
        if contract not in CONTRACTS:
            raise ConfigError(f"unknown contract {contract!r}; choose one of {', '.join(CONTRACTS)}")
        self.scheme = scheme or RewardScheme()
        self.contract = contract

    # -- to implement -------------------------------------------------------------------------
    @abstractmethod
    def load(self, source: str | None = None, split: str = "test", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        """Load samples. ``source`` is a hub id, a local path, or ``"synthetic"`` where supported."""

    def validate_target(self, target: Mapping[str, Any]) -> None:
        """Raise :class:`~clinrl.errors.TargetError` (naming the field) when ``target`` cannot score a completion
        honestly. ``clinrl score`` calls it on targets carried by completion rows, so a bad one is refused
        with its file, row and field; :meth:`score` of such a target is unscored. Default: accept."""

    def load_for_scoring(self, source: str | None = None, split: str = "test", **kwargs: Any) -> list[Sample]:
        """Samples whose targets score completions made elsewhere (``clinrl score``): every sample with a
        target, including ones :meth:`load` leaves out of training and evaluation because their prompt is
        unusable (the prompt is not used when scoring). Default: :meth:`load`."""
        return self.load(source, split, **kwargs)

    @abstractmethod
    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        """Decide whether a contract-valid answer object is correct for ``target``."""

    @abstractmethod
    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """The gold answer object for ``target`` (must score correct)."""

    # -- optional hooks -----------------------------------------------------------------------
    def extract_official(self, completion: str, target: Mapping[str, Any]) -> Score:
        """The benchmark's own scoring, for models that do not follow the contract (``contract="official"``)."""
        raise ConfigError(f"task {self.name!r} has no 'official' extraction mode")

    def extract_lenient(self, completion: str, target: Mapping[str, Any]) -> Score:
        """A generous reading of replies that do not follow the contract (``contract="lenient"``)."""
        raise ConfigError(f"task {self.name!r} has no 'lenient' extraction mode")

    def categories(self) -> tuple[str, ...]:
        return self.card.categories

    def display_answer(self, answer: Any, target: Mapping[str, Any]) -> str:
        """An extracted answer as a reader expects it (reports): whole numbers without ``.0``, lists joined.
        Tasks with typed answers (dates, scores) refine it."""
        return display_value(answer)

    def display_target(self, target: Mapping[str, Any]) -> str:
        """The gold answer of ``target`` in the same form as :meth:`display_answer`."""
        if "ground_truth" in target:
            return display_value(target["ground_truth"])
        return json.dumps(dict(target), ensure_ascii=False, default=str)

    # -- scoring ------------------------------------------------------------------------------
    def score(self, completion: str, target: Mapping[str, Any], *, contract: str | None = None) -> Score:
        """Score one completion. A crash inside the verifier gives an unscored ``Score``."""
        mode = contract or self.contract
        try:
            if mode == "official":
                return self.extract_official(completion_text(completion), target)
            if mode == "lenient":
                return self.extract_lenient(completion_text(completion), target)
            text = completion if type(completion) is str else completion_text(completion)
            parsed = parse_contract(text, self.answer_keys, optional_keys=self.optional_answer_keys)
            if not parsed.ok:
                return Score(value=self.scheme.malformed, format_ok=False, answer=None, correct=False,
                             explanation=parsed.error)
            check = self.check_answer(parsed.answer or {}, target)
        except ConfigError:
            raise
        except Exception as exc:  # a verifier bug must be visible, not a silent 0
            return Score.unscored(f"verifier error: {exc.__class__.__name__}: {exc}")
        if check.correct is None:
            return Score(value=None, format_ok=True, answer=check.answer, correct=None,
                         explanation=check.explanation or "could not decide")
        scheme = self.scheme
        return Score(scheme.correct if check.correct else scheme.wrong, True, check.answer, check.correct,
                     check.explanation)

    def score_sample(self, completion: str, sample: Sample, *, contract: str | None = None) -> Score:
        return self.score(completion, sample.target, contract=contract)

    def oracle_completion(self, sample_or_target: Sample | Mapping[str, Any], think: str = "") -> str:
        target = sample_or_target.target if isinstance(sample_or_target, Sample) else sample_or_target
        return wrap_contract(self.oracle_answer(target), think or "Working through the note.")

    # -- TRL integration ----------------------------------------------------------------------
    def targets_from_columns(self, n: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rebuild per-sample targets from dataset columns passed to a reward function.

        Accepts either a ``target`` column (dicts or JSON strings) or the task's flat
        ``target_fields`` columns.
        """
        if "target" in columns and columns["target"] is not None:
            out = []
            for value in columns["target"]:
                out.append(json.loads(value) if isinstance(value, str) else dict(value))
            return out
        missing = [f for f in self.target_fields if f not in columns]
        if missing:
            raise ConfigError(
                f"task {self.name!r}: reward function needs dataset column(s) {', '.join(missing)} "
                "(or a 'target' column); build the dataset with Task.to_row()"
            )
        return [{f: columns[f][i] for f in self.target_fields} for i in range(n)]

    def reward_functions(self) -> list[RewardFunction]:
        """``[format_reward, correctness_reward]``; with weight 1 each their sum is the scheme."""
        task = self

        def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            out: list[float | None] = []
            for completion in completions:
                ok = parse_contract(completion_text(completion), task.answer_keys,
                                    optional_keys=task.optional_answer_keys).ok
                out.append(0.0 if ok else task.scheme.malformed)
            return out

        def correctness_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            targets = task.targets_from_columns(len(completions), kwargs)
            out: list[float | None] = []
            for completion, target in zip(completions, targets):
                score = task.score(completion, target, contract="ehrmind")
                if score.value is None:
                    out.append(None)
                else:
                    out.append(task.scheme.correct if score.correct else task.scheme.wrong)
            return out

        format_reward.__name__ = f"{self.name}_format"
        correctness_reward.__name__ = f"{self.name}_correct"
        return [format_reward, correctness_reward]

    def reward_function(self) -> RewardFunction:
        """One reward function returning the full scheme value (−2 / 0 / 1.1 by default)."""
        task = self

        def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            targets = task.targets_from_columns(len(completions), kwargs)
            return [task.score(c, t, contract="ehrmind").value for c, t in zip(completions, targets)]

        reward.__name__ = f"{self.name}_reward"
        return reward

    def to_row(self, sample: Sample) -> dict[str, Any]:
        """A dataset row for TRL: ``prompt`` (messages), ``id``, ``task`` and the target fields."""
        row: dict[str, Any] = {"id": sample.id, "task": self.name, "prompt": sample.prompt}
        if sample.prefill:
            row["prefill"] = sample.prefill
        if self.target_fields:
            for f in self.target_fields:
                row[f] = sample.target.get(f)
        else:
            row["target"] = json.dumps(sample.target, sort_keys=True)
        if sample.category is not None:
            row["category"] = sample.category
        return row

    # -- metrics ------------------------------------------------------------------------------
    def group_keys(self, sample: Sample) -> dict[str, str]:
        """Groupings reported next to the overall metric (default: category)."""
        return {"category": str(sample.category)} if sample.category is not None else {}

    def metrics(self, samples: Sequence[Sample], scores: Sequence[Score]) -> dict[str, Any]:
        """Accuracy overall and per group with Wilson 95% intervals, format-valid and unscored counts.

        Unscored completions are reported and excluded from accuracy denominators.
        """
        if len(samples) != len(scores):
            raise ConfigError(f"{len(samples)} samples but {len(scores)} scores")
        scored = [(s, sc) for s, sc in zip(samples, scores) if sc.correct is not None]
        n_correct = sum(1 for _, sc in scored if sc.correct)
        n_format = sum(1 for sc in scores if sc.format_ok)
        groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for sample, sc in scored:
            for group, key in self.group_keys(sample).items():
                groups[group][key].append(bool(sc.correct))
        return {
            "task": self.name,
            "task_version": self.version,
            "n": len(samples),
            "n_unscored": len(samples) - len(scored),
            "accuracy": proportion(n_correct, len(scored)),
            "format_valid": proportion(n_format, len(scores)),
            "groups": {
                group: {key: proportion(sum(v), len(v)) for key, v in sorted(per.items())}
                for group, per in groups.items()
            },
        }


def iter_limit(items: Iterable[Any], limit: int | None) -> list[Any]:
    out = []
    for item in items:
        if limit is not None and len(out) >= limit:
            break
        out.append(item)
    return out
