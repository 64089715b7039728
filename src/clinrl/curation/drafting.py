"""LLM-drafted rubrics: a static expert prompt plus a dynamic few-shot pool of approved rubrics.

Every draft is validated against clinrl's rubric schema. An invalid draft is sent back to the LLM with
the validation error (up to ``max_attempts`` in all); one that is still invalid is *flagged* with its
reasons and never enters the review queue as if it were valid. Results are appended line by line, so
an interrupted run resumes where it stopped.

An outage is not a verdict on a draft: an instruction whose request failed in transport (HTTP error, timeout,
invalid reply, after the client's own retries) is written to the flagged file marked
``"transport_failure": true`` and is drafted again on the next run (``keep_failures=True`` keeps it as it is),
as ``clinrl data rationales`` does with its failed requests. After :data:`MAX_CONSECUTIVE_FAILURES` such
instructions in a row the run stops: the endpoint is down, and the rest waits for the next run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from clinrl.llm.json_reply import reply_json
from clinrl.curation.pool import Instruction
from clinrl.errors import DataError
from clinrl.rubrics.schema import Rubric, RubricItem

#: instructions in a row whose requests failed in transport before a run stops (the endpoint is down)
MAX_CONSECUTIVE_FAILURES = 3

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
    #: the request failed in transport (no reply to judge): retried on the next run, not a flagged draft
    transport_failure: bool = False

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
        if not result.ok:  # the client already retried: the endpoint is failing, not the draft
            errors.append(f"attempt {attempt}: call failed ({result.error})")
            return DraftOutcome(instruction.id, None, attempt, errors, transport_failure=True)
        try:
            return DraftOutcome(instruction.id, rubric_from_reply(instruction, reply_json(result.text)), attempt, errors)
        except DataError as exc:
            errors.append(f"attempt {attempt}: {exc}")
            messages = messages + [
                {"role": "assistant", "content": result.text or ""},
                {"role": "user", "content": f"That rubric is invalid: {exc}. Reply with the corrected JSON only."},
            ]
    return DraftOutcome(instruction.id, None, max_attempts, errors)


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # an interrupted append leaves at most a cut last line
                raise DataError(f"invalid JSON ({exc.msg})", source=str(path), row=n) from exc
    return rows


def _row_id(row: dict[str, Any]) -> str:
    return str(row.get("id") or row.get("instruction_id"))


def draft_all(instructions: Iterable[Instruction], client: Any, examples: Sequence[Rubric], *, out: str | Path,
              flagged: str | Path, k: int = 3, max_attempts: int = 3, progress: bool = True,
              keep_failures: bool = False) -> dict[str, Any]:
    """Draft rubrics for every instruction not yet in ``out`` or ``flagged``; append as they finish.

    Instructions flagged for a transport failure by an earlier run are drafted again (their old lines are
    removed first) unless ``keep_failures``. Returns the counts and ``failures``: reason → instructions."""
    from collections import Counter

    out, flagged = Path(out), Path(flagged)
    out.parent.mkdir(parents=True, exist_ok=True)
    flagged.parent.mkdir(parents=True, exist_ok=True)
    flagged_rows = _rows(flagged)
    retry = [] if keep_failures else [r for r in flagged_rows if r.get("transport_failure")]
    if retry:  # rewrite the flagged file without them: they get a fresh line when they fail again
        kept = [r for r in flagged_rows if not r.get("transport_failure")]
        from clinrl.data.tables import write_jsonl

        tmp = flagged.with_name(flagged.name + ".tmp")
        write_jsonl(tmp, kept)
        os.replace(tmp, flagged)
        flagged_rows = kept
    done = {_row_id(r) for r in _rows(out)} | {_row_id(r) for r in flagged_rows}
    todo = [inst for inst in instructions if inst.id not in done]
    counts: dict[str, Any] = {"drafted": 0, "flagged": 0, "failed": 0, "skipped_done": len(done), "reasked": 0,
                              "retried": len(retry), "not_tried": 0}
    failures: Counter[str] = Counter()
    from rich.progress import track

    iterator = track(todo, description="drafting rubrics") if progress and todo else todo
    in_a_row = 0
    with out.open("a", encoding="utf-8") as good, flagged.open("a", encoding="utf-8") as bad:
        for position, inst in enumerate(iterator):
            if in_a_row >= MAX_CONSECUTIVE_FAILURES:  # the endpoint is down: the rest waits for the next run
                counts["not_tried"] = len(todo) - position
                break
            outcome = draft_rubric(inst, client, examples, k=k, max_attempts=max_attempts)
            counts["reasked"] += 1 if outcome.attempts > 1 else 0
            if outcome.flagged:
                row = {"instruction_id": inst.id, "errors": outcome.errors, "instruction": inst.to_dict()}
                if outcome.transport_failure:
                    row["transport_failure"] = True
                bad.write(json.dumps(row, ensure_ascii=False) + "\n")
                bad.flush()
                counts["failed" if outcome.transport_failure else "flagged"] += 1
                if outcome.transport_failure:
                    failures[outcome.errors[-1].split("(", 1)[-1].split(":")[0].rstrip(")")[:60]] += 1
                in_a_row = in_a_row + 1 if outcome.transport_failure else 0
            else:
                good.write(json.dumps(outcome.rubric.to_dict(), ensure_ascii=False) + "\n")
                good.flush()
                counts["drafted"] += 1
                in_a_row = 0
    counts["failures"] = dict(failures)
    return counts
