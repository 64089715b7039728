"""The one interface every criterion judge implements.

``judge(instruction, response, items) -> list[bool | None]``: one verdict per rubric item, with
HealthBench's meaning of "met" (the response does what the criterion says; for a safety item or a
negative-point item: the bad behaviour happened). ``None`` = could not judge (a failed call, an item
the judge cannot read); callers turn it into an unscored result, never into "not met".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from clinrl.rubrics.schema import RubricItem

Verdicts = list[bool | None]
JudgeRequest = tuple[str, str, Sequence[RubricItem]]


class CriterionJudge(ABC):
    """Judges a response against rubric items, one verdict per item."""

    name: str = "judge"

    @abstractmethod
    def judge(self, instruction: str, response: str, items: Sequence[RubricItem]) -> Verdicts:
        """One verdict per item, in order."""

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[Verdicts]:
        """Verdicts for many (instruction, response, items) requests; judges override it to batch."""
        return [self.judge(instruction, response, items) for instruction, response, items in requests]


class TableJudge(CriterionJudge):
    """Looks verdicts up in a table keyed by (instruction, response, item id): labels known by construction.

    Used as the reference judge on synthetic data and as a stand-in in tests. Unknown pairs → ``None``.
    """

    name = "table"

    def __init__(self, table: dict[tuple[str, str, str], bool] | None = None) -> None:
        self.table = dict(table or {})

    def add(self, instruction: str, response: str, items: Sequence[RubricItem], labels: Sequence[bool]) -> None:
        for item, label in zip(items, labels):
            self.table[(instruction, response, item.id)] = bool(label)

    def judge(self, instruction: str, response: str, items: Sequence[RubricItem]) -> Verdicts:
        return [self.table.get((instruction, response, item.id)) for item in items]
