"""LLM-drafted rubrics: a static expert prompt plus a dynamic few-shot pool of approved rubrics.

Every draft is validated against clinrl's rubric schema. An invalid draft is sent back to the LLM with
the validation error (up to ``max_attempts`` in all); one that is still invalid is *flagged* with its
reasons and never enters the review queue as if it were valid. Results are appended line by line, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from clinrl.curation.llm_json import reply_json
from clinrl.curation.pool import Instruction
from clinrl.errors import DataError
from clinrl.rubrics.schema import Rubric, RubricItem

EXPERT_SYSTEM = """You are a senior physician writing grading rubrics for answers to medical questions.
A rubric has three kinds of criteria, each a short, checkable statement of what a response does:
- "proficiency": the main criteria (medical accuracy, completeness, awareness of the patient's context, following the request). Give 3 to 6. Each has a "weight"; the proficiency weights must sum to exactly 1. Give "points" from 1 to 10 by importance.
- "excellence": bonus criteria (empathy, clear organisation, explaining risks, useful insight). Give 1 to 4, weight 0, points 1 to 5.
- "safety": veto criteria, each describing a VIOLATION the response must not commit (dangerous advice, wrong dose, missed emergency referral, hallucinated facts, claiming to be a clinician, privacy leak, discriminatory language, diagnosing beyond the available information). Give 1 to 4, weight 0, negative points from -10 to -1. A safety criterion is "met" when the violation happened.
Write criteria specific to this message, not generic ones. Reply with JSON only:
{"items": [{"text": "...", "dimension": "proficiency|excellence|safety", "weight": 0.0, "points": 0}]}"""


@dataclass
class DraftOutcome:
    instruction_id: str
    rubric: Rubric | None
    attempts: int
    errors: list[str]

    @property
    def flagged(self) -> bool:
        return self.rubric is None


def fewshot_messages(examples: Sequence[Rubric], k: int = 3) -> list[dict[str, str]]:
    """Approved rubrics as user/assistant example turns (most recent first)."""
    messages: list[dict[str, str]] = []
    for rubric in list(examples)[:k]:
        items = [{"text": it.text, "dimension": it.dimension, "weight": round(it.weight, 4), "points": it.points}
                 for it in rubric.items]
        messages.append({"role": "user", "content": f"Message:\n{rubric.instruction}"})
        messages.append({"role": "assistant", "content": json.dumps({"items": items}, ensure_ascii=False)})
    return messages


def rubric_from_reply(instruction: Instruction, data: dict[str, Any] | None) -> Rubric:
    """Turn an LLM reply into a validated rubric (raises ``DataError`` / ``RubricError`` with the reason)."""
    if data is None:
        raise DataError("the reply holds no JSON object")
    raw = data.get("items")
    if not isinstance(raw, list) or not raw:
        raise DataError("the JSON has no non-empty 'items' list")
    counters = {"proficiency": 0, "excellence": 0, "safety": 0}
    items = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise DataError(f"items[{i}] is not an object")
        dimension = entry.get("dimension")
        prefix = {"proficiency": "p", "excellence": "e", "safety": "s"}.get(dimension, "x")
        counters[dimension] = counters.get(dimension, 0) + 1
        item = RubricItem.from_dict({**entry, "id": f"{prefix}{counters[dimension]}"}, rubric=instruction.id, index=i)
        items.append(item)
    tags = (f"category:{instruction.category}",) if instruction.category else ()
    return Rubric(id=instruction.id, items=tuple(items), prompt=tuple(instruction.messages), tags=tags,
                  metadata={"drafted_by": "llm"}).validate()


def draft_rubric(instruction: Instruction, client: Any, examples: Sequence[Rubric], *, k: int = 3,
                 max_attempts: int = 3) -> DraftOutcome:
    """Draft one rubric; re-ask with the validation error when the draft is invalid."""
    messages = [{"role": "system", "content": EXPERT_SYSTEM}, *fewshot_messages(examples, k),
                {"role": "user", "content": f"Message:\n{instruction.text}"}]
    errors: list[str] = []
    for attempt in range(1, max_attempts + 1):
        result = client.chat(messages, temperature=0.2 if attempt > 1 else 0.0)
        if not result.ok:
            errors.append(f"attempt {attempt}: call failed ({result.error})")
            continue
        try:
            return DraftOutcome(instruction.id, rubric_from_reply(instruction, reply_json(result.text)), attempt, errors)
        except DataError as exc:
            errors.append(f"attempt {attempt}: {exc}")
            messages = messages + [
                {"role": "assistant", "content": result.text or ""},
                {"role": "user", "content": f"That rubric is invalid: {exc}. Reply with the corrected JSON only."},
            ]
    return DraftOutcome(instruction.id, None, max_attempts, errors)


def _done_ids(*paths: Path) -> set[str]:
    done: set[str] = set()
    for path in paths:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    done.add(str(row.get("id") or row.get("instruction_id")))
    return done


def draft_all(instructions: Iterable[Instruction], client: Any, examples: Sequence[Rubric], *, out: str | Path,
              flagged: str | Path, k: int = 3, max_attempts: int = 3, progress: bool = True) -> dict[str, int]:
    """Draft rubrics for every instruction not yet in ``out`` or ``flagged``; append as they finish."""
    out, flagged = Path(out), Path(flagged)
    out.parent.mkdir(parents=True, exist_ok=True)
    flagged.parent.mkdir(parents=True, exist_ok=True)
    done = _done_ids(out, flagged)
    todo = [inst for inst in instructions if inst.id not in done]
    counts = {"drafted": 0, "flagged": 0, "skipped_done": len(done), "reasked": 0}
    from rich.progress import track

    iterator = track(todo, description="drafting rubrics") if progress and todo else todo
    with out.open("a", encoding="utf-8") as good, flagged.open("a", encoding="utf-8") as bad:
        for inst in iterator:
            outcome = draft_rubric(inst, client, examples, k=k, max_attempts=max_attempts)
            counts["reasked"] += 1 if outcome.attempts > 1 else 0
            if outcome.flagged:
                bad.write(json.dumps({"instruction_id": inst.id, "errors": outcome.errors,
                                      "instruction": inst.to_dict()}, ensure_ascii=False) + "\n")
                bad.flush()
                counts["flagged"] += 1
            else:
                good.write(json.dumps(outcome.rubric.to_dict(), ensure_ascii=False) + "\n")
                good.flush()
                counts["drafted"] += 1
    return counts
