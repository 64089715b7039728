"""A toy verifiable task for training smoke tests: copy one number out of a one-line note."""

from __future__ import annotations

import random
from typing import Any, Mapping

from clinrl.registry import register_task
from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.tasks.base import AnswerCheck, ContractTask, TaskCard
from clinrl.types import Sample


@register_task("toy_copy")
class ToyCopyTask(ContractTask):
    name = "toy_copy"
    answer_keys = ("answer",)
    # a complete card: once imported, the task is in the registry and the registry-wide contract tests see it
    card = TaskCard(summary="Copy the heart rate out of a one-line note (test task).",
                    source="generated in memory from the seed", scoring="exact integer match")

    def load(self, source: str | None = None, split: str = "train", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        n = limit or 32
        offset = 0 if split == "train" else 10_000
        out = []
        for i in range(n):
            rng = random.Random(seed + offset + i)
            value = rng.randint(40, 9999)
            prompt = [{"role": "user", "content": f"Note: heart rate {value} bpm. What is the heart rate?"}]
            out.append(Sample(id=f"{split}-{i}", prompt=prompt, target={"value": value},
                              metadata={"split": split, "explanation": f"The note says {value}."},
                              prefill=EHRMIND_PREFILL))
        return out

    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        value = answer["answer"]
        ok = isinstance(value, int) and not isinstance(value, bool) and value == target["value"]
        return AnswerCheck(ok, value, "correct" if ok else "wrong")

    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        return {"answer": target["value"]}

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        return self.worked_completion(sample, sample.metadata["explanation"], think)
