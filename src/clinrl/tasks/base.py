"""The task contract every clinrl task implements: everything a caller may use is declared here.

A :class:`Task`

* **loads** samples for a split from a source (hub id, local file, or a synthetic generator), each with
  its **prompt** (chat messages, optional assistant pre-fill) and its target,
* **scores** a completion into a :class:`~clinrl.types.Score` (:meth:`Task.score`, :meth:`Task.score_many`:
  training scores whole batches through the latter),
* writes its **gold completion** (:meth:`Task.oracle_completion`) and the **SFT warm-up target**
  (:meth:`Task.sft_completion`),
* turns samples into dataset **rows** for TRL and **aggregates** metrics (overall and per group).

Most tasks read completions through EHRMIND's output contract, ``<think>…</think><answer>{json}</answer>``:
they derive from :class:`ContractTask`, which parses the contract, applies the reward scheme and the
``contract`` option (``ehrmind`` / ``official`` / ``lenient``), and leaves :meth:`ContractTask.load`,
:meth:`ContractTask.check_answer`, :meth:`ContractTask.oracle_answer` and :meth:`Task.sft_completion` to the
task. A task that reads the whole completion (the rubric task) derives from :class:`Task` and implements
:meth:`Task.score` itself. ``docs/adding-a-task.md`` walks through a complete example.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

from clinrl.data.sft import THINK_MODES, shorten_reasoning
from clinrl.errors import ConfigError
from clinrl.metrics import proportion
from clinrl.rewards.contract import completion_text, parse_contract, wrap_contract
from clinrl.rewards.scheme import RewardScheme
from clinrl.types import Sample, Score

#: how a :class:`ContractTask` reads completions: the strict EHRMIND contract, the benchmark's own evaluator,
#: or a generous reading (see :meth:`ContractTask.score`)
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


#: :attr:`Task.answer_prior` for a guesser that answers the most common training answer to every input
PRIOR_ALL = "all"


class Task(ABC):
    """Base class of every task. Subclasses set the class attributes and implement the abstract methods
    (:class:`ContractTask` implements :meth:`score` and :meth:`oracle_completion` for contract-read tasks)."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    card: ClassVar[TaskCard]
    #: what `clinrl quickstart --task NAME` sets when its recipe was written for another task, as fields of
    #: :class:`clinrl.cli.quickstart.QuickstartBudget` (completion_tokens, sft_max_length, light_run, real_rows)
    quickstart_budget: ClassVar[Mapping[str, Any]] = {}
    #: target fields that travel as flat dataset columns (:meth:`to_row`) and that ``clinrl score`` reads from a row
    target_fields: ClassVar[tuple[str, ...]] = ()
    #: plausible answers per sample when the answer space is small (3 trial labels, a yes/no outcome): Reliable
    #: pass@k discounts lucky guesses with it; ``None`` for open answers (values, free text)
    answer_space_size: ClassVar[int | None] = None
    #: how completions are read, recorded in eval logs: a :data:`CONTRACTS` name for a :class:`ContractTask`,
    #: ``None`` for a task that reads the whole completion
    contract: str | None = None
    #: the task's own headline number beside accuracy, as (label, dotted key into ``metrics()``), shown in
    #: held-out evaluations during training and in run reports; ``None`` when accuracy says it all
    headline: ClassVar[tuple[str, str] | None] = None
    #: the reader-free baseline a run is measured against (:func:`clinrl.training.health.answer_prior`): a
    #: :meth:`group_keys` key (``"calculator"``) within which a guesser answers the training split's most common
    #: gold answer without reading the input, :data:`PRIOR_ALL` for one group, ``None`` for open answers
    answer_prior: ClassVar[str | None] = None

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
    def score(self, completion: Any, target: Mapping[str, Any]) -> Score:
        """Score one completion (text, or a list of chat messages) against ``target``. A verifier or judge that
        cannot decide gives an unscored ``Score`` (``value=None``), never a silent 0."""

    def score_many(self, completions: Sequence[Any], targets: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Score a batch (what training's reward functions call). Default: :meth:`score` one by one; a task whose
        verifier is cheaper in batches (a judge model) overrides it."""
        return [self.score(completion, target) for completion, target in zip(completions, targets)]

    @abstractmethod
    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """The gold answer object for ``target`` (what a perfect completion answers)."""

    @abstractmethod
    def oracle_completion(self, sample_or_target: Sample | Mapping[str, Any], think: str = "") -> str:
        """A completion that states the gold answer; it must score correct."""

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        """The completion the SFT warm-up trains on for ``sample``: worked reasoning, then the gold answer. It
        must score correct, unless an option asks for a flawed teacher on purpose (MedCalc's ``teacher_slip``).
        ``think`` (``full``, ``last_line``, ``steps``, ``values``: :data:`clinrl.data.sft.THINK_MODES`) says how much
        of the reasoning to write; a task without step-wise reasoning may ignore it.

        Raise ``ValueError`` with a short reason when the sample has no worked target (e.g. ``"no explanation"``):
        the warm-up counts those samples and leaves them out. Default: no task-independent target exists."""
        raise ValueError(f"task {self.name!r} writes no SFT targets")

    # -- optional hooks -----------------------------------------------------------------------
    def reference_steps(self, sample: Sample) -> list[str] | None:
        """The gold worked steps of ``sample``, one line each, for ``grpo.step_reward`` (a shaped-reward ablation;
        held-out metrics never use it). Default None: the task has no step-wise reference."""
        return None

    def step_credit(self, completion: Any, steps: Sequence[str]) -> float | None:
        """The share of ``steps`` (from :meth:`reference_steps`) that ``completion`` reproduces; None when the task
        cannot read steps from a completion (the default)."""
        return None

    def display_answer(self, answer: Any, target: Mapping[str, Any]) -> str:
        """An extracted answer as a reader expects it (reports): whole numbers without ``.0``, lists joined.
        Tasks with typed answers (dates, scores) refine it."""
        return display_value(answer)

    def display_target(self, target: Mapping[str, Any]) -> str:
        """The gold answer of ``target`` in the same form as :meth:`display_answer`."""
        if "ground_truth" in target:
            return display_value(target["ground_truth"])
        return json.dumps(dict(target), ensure_ascii=False, default=str)

    # -- TRL integration ----------------------------------------------------------------------
    def to_row(self, sample: Sample) -> dict[str, Any]:
        """A dataset row for TRL: ``prompt`` (messages), ``id``, ``task``, the target fields, and ``target`` (the
        target as JSON): ``task`` and ``target`` are the columns the training reward functions read
        (:class:`clinrl.training.mixtures.MixtureReward`)."""
        row: dict[str, Any] = {"id": sample.id, "task": self.name, "prompt": sample.prompt}
        if sample.prefill:
            row["prefill"] = sample.prefill
        for f in self.target_fields:
            row[f] = sample.target.get(f)
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

    def failure_taxonomy(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """Optional hook: why this task's completions failed, for the report's "Failure taxonomy" section.

        ``records`` are an eval log's records (``completions``, ``target``, ``metadata``, ``category``).
        Return a dict with ``counts`` (class → n), ``by_category`` and ``examples`` (class → a few records
        with ``id``, ``category``, ``reason``, ``answer``, ``target`` and ``text``), as
        :func:`clinrl.tasks.medcalc.taxonomy.failure_taxonomy` does; the default, None, means the task has
        no taxonomy and the report leaves the section out.
        """
        return None


class ContractTask(Task):
    """A task whose completions follow EHRMIND's output contract: exactly one ``<think>…</think>``, then one
    ``<answer>{json}</answer>`` whose object has :attr:`answer_keys`.

    It implements :meth:`score` (contract parsing, the reward scheme, the ``contract`` option) and
    :meth:`oracle_completion`; a concrete task implements :meth:`load`, :meth:`check_answer`,
    :meth:`oracle_answer` and, for the SFT warm-up, :meth:`sft_completion` (usually through
    :meth:`worked_completion`).
    """

    #: keys the answer JSON must have
    answer_keys: ClassVar[tuple[str, ...]]
    #: keys the answer JSON may have in addition
    optional_answer_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, scheme: RewardScheme | None = None, contract: str = "ehrmind") -> None:
        if contract not in CONTRACTS:
            raise ConfigError(f"unknown contract {contract!r}; choose one of {', '.join(CONTRACTS)}")
        self.scheme = scheme or RewardScheme()
        self.contract = contract

    @abstractmethod
    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        """Decide whether a contract-valid answer object is correct for ``target``."""

    def extract_official(self, completion: str, target: Mapping[str, Any]) -> Score:
        """The benchmark's own scoring, for models that do not follow the contract (``contract="official"``)."""
        raise ConfigError(f"task {self.name!r} has no 'official' extraction mode")

    def extract_lenient(self, completion: str, target: Mapping[str, Any]) -> Score:
        """A generous reading of replies that do not follow the contract (``contract="lenient"``)."""
        raise ConfigError(f"task {self.name!r} has no 'lenient' extraction mode")

    def score(self, completion: Any, target: Mapping[str, Any], *, contract: str | None = None) -> Score:
        """Score one completion with the task's contract (or ``contract``). A crash inside the verifier gives
        an unscored ``Score``."""
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

    def step_credit(self, completion: Any, steps: Sequence[str]) -> float | None:
        """The share of reference steps the ``<think>`` block writes, line for line and in order (compared by
        :meth:`step_key`), over the longer of the two lists, so padding with extra lines costs credit; 0 for a
        completion that breaks the contract."""
        if not steps:
            return None
        text = completion if type(completion) is str else completion_text(completion)
        parsed = parse_contract(text, self.answer_keys, optional_keys=self.optional_answer_keys)
        if not parsed.ok:
            return 0.0
        written = [self.step_key(line) for line in (parsed.think or "").splitlines() if line.strip()]
        wanted = [self.step_key(step) for step in steps]
        return sum(a == b for a, b in zip(written, wanted)) / max(len(written), len(wanted))

    def step_key(self, line: str) -> str:
        """What :meth:`step_credit` compares of one step line: the line without whitespace (a task may compare
        only the decision a step makes)."""
        return "".join(line.split())

    def oracle_completion(self, sample_or_target: Sample | Mapping[str, Any], think: str = "") -> str:
        target = sample_or_target.target if isinstance(sample_or_target, Sample) else sample_or_target
        return wrap_contract(self.oracle_answer(target), think or "Working through the note.")

    def worked_completion(self, sample: Sample, reasoning: str, think: str = "full") -> str:
        """``reasoning`` inside ``<think>`` (shortened as ``think`` says), then the gold answer: the usual
        :meth:`sft_completion`. Raises ``ValueError("no explanation")`` when ``reasoning`` is blank."""
        if think not in THINK_MODES:
            raise ConfigError(f"sft.think must be one of {', '.join(THINK_MODES)}, got {think!r}")
        if not reasoning.strip():
            raise ValueError("no explanation")
        note = str(sample.prompt[-1].get("content") or "") if sample.prompt else ""  # what `values` copies from
        return self.oracle_completion(sample, think=f"\n{shorten_reasoning(reasoning, think, note).strip()}\n")
