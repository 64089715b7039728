"""Core value types shared by every task, reward and evaluator.

``Sample`` is one prompt with its gold target; ``Score`` is what a verifier or judge says about
one completion. A ``Score`` whose ``value`` is ``None`` means *could not score* (a crashed
verifier, a failed judge call): it is counted and reported, and left out of group baselines. It is
never silently turned into 0.0 or False.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

Message = dict[str, str]


@dataclass(frozen=True)
class Sample:
    """One task instance.

    Attributes:
        id: stable identifier, unique within a task and source (e.g. the MedCalc row number,
            ``"{query_id}::{trial_id}"`` for trial matching).
        prompt: chat messages (``system`` / ``user``) ending before the assistant turn.
        target: the gold fields the verifier needs (JSON-serialisable, flat where possible so the
            fields can travel as dataset columns into TRL reward functions).
        metadata: source, split, category, seed and other descriptive fields.
        prefill: text the assistant turn starts with (EHRMIND pre-fills
            ``"Let me solve this step by step.\\n<think>"``); empty when unused.
    """

    id: str
    prompt: list[Message]
    target: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    prefill: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Sample":
        return cls(
            id=str(data["id"]),
            prompt=list(data["prompt"]),
            target=dict(data["target"]),
            metadata=dict(data.get("metadata") or {}),
            prefill=str(data.get("prefill") or ""),
        )

    @property
    def category(self) -> str | None:
        return self.metadata.get("category")


@dataclass(frozen=True)
class Score:
    """The verdict on one completion.

    Attributes:
        value: the reward under the task's scheme; ``None`` when the completion could not be scored.
        format_ok: whether the completion followed the output contract (``None`` if unknown).
        answer: the extracted answer (task-specific, JSON-serialisable), ``None`` when absent.
        correct: whether the answer is right; ``None`` when it could not be decided.
        explanation: a short human-readable reason (shown in reports and error analysis).
    """

    value: float | None
    format_ok: bool | None
    answer: Any = None
    correct: bool | None = None
    explanation: str = ""

    @property
    def scored(self) -> bool:
        return self.value is not None

    def to_record(self) -> dict[str, Any]:
        """The score's fields in a scored row (eval-log completions, `clinrl score` output): ``value`` is written
        as ``reward``."""
        return {"format_ok": self.format_ok, "answer": self.answer, "correct": self.correct, "reward": self.value,
                "explanation": self.explanation}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Score":
        """The inverse of :meth:`to_record` (other keys of the row are ignored)."""
        return cls(value=record.get("reward"), format_ok=record.get("format_ok"), answer=record.get("answer"),
                   correct=record.get("correct"), explanation=record.get("explanation") or "")

    @classmethod
    def unscored(cls, reason: str) -> "Score":
        """A completion that could not be scored (never counted as wrong)."""
        return cls(value=None, format_ok=None, answer=None, correct=None, explanation=reason)
