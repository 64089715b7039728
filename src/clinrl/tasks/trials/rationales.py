"""Teacher rationales for the trial-matching SFT warm-up (EHRMIND's recipe).

A teacher model behind an OpenAI-compatible endpoint (:class:`clinrl.llm.ChatClient`) is shown the matching
task *and its gold decision* and asked for the reasoning that reaches that decision from the note and the
criteria, written as if worked out unaided (it must not say the decision was given), plus a 1–5 confidence
that the texts really support the decision. Then:

* a reply that is not the requested JSON, or whose rationale leaks the given decision ("gold label", "I was
  told", …) or contains contract tags, is **invalid**;
* a confidence below ``min_confidence`` is **low_confidence** (EHRMIND drops these);
* a call that still fails after the client's retries is **failed**: never counted as a rationale, and
  requested again on the next run;
* the rest are **ok** and become SFT rows: ``prefill + "\\n{rationale}\\n</think>\\n<answer>{gold}</answer>"``,
  checked by the task's own scorer before they are written.

Selection is class-balanced: per class a seeded order of candidates is walked until ``per_class`` rationales
are accepted (EHRMIND: 1,000 per class) or the class runs out (a shortfall is reported, not hidden).

Files in ``out_dir``: ``rationales.jsonl`` (a journal with one line per finished request — the resume point:
a rerun skips every id with a final status and retries failed ones), ``train.jsonl`` (accepted rows in the
format of :mod:`clinrl.data.sft`) and ``report.json``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field, fields
from itertools import zip_longest
from pathlib import Path
from typing import Any, Sequence

from clinrl.data.tables import write_jsonl
from clinrl.errors import ConfigError
from clinrl.rewards.contract import loads_strict, wrap_contract
from clinrl.tasks.trials.labels import LABEL_DESCRIPTIONS, TREC_NAMES
from clinrl.types import Sample

FINAL = ("ok", "low_confidence", "invalid")

TEACHER_SYSTEM = (
    "You are an experienced clinical research coordinator who writes worked examples for training junior "
    "screeners. You reason carefully and only from the facts in the patient note and the trial criteria."
)

#: phrases that reveal that the decision was handed to the teacher
LEAK_PATTERNS = re.compile(
    r"gold (?:label|standard|answer)|ground[- ]truth|answer key|(?:given|provided|expected|correct) "
    r"(?:label|decision|answer)|i was told|we are told|i am told|as instructed|the label (?:is|was)",
    re.IGNORECASE,
)
CONTRACT_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


@dataclass(frozen=True)
class RationaleConfig:
    #: accepted rationales wanted per class (EHRMIND used 1,000 per class)
    per_class: int = 1000
    #: self-rated confidence (1–5) below which a rationale is dropped
    min_confidence: int = 4
    #: sampling temperature of the teacher (low: faithful reasoning, a little variety)
    temperature: float = 0.3
    #: reply budget in tokens; a rationale longer than ``max_rationale_chars`` is invalid
    max_tokens: int = 1024
    max_rationale_chars: int = 6000
    #: requests per round; the journal is written after every round
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.per_class < 1 or not 1 <= self.min_confidence <= 5 or self.batch_size < 1:
            raise ConfigError("per_class >= 1, min_confidence in 1..5 and batch_size >= 1 are required")


@dataclass
class RationaleReport:
    requested: int = 0
    statuses: Counter = field(default_factory=Counter)
    accepted_per_class: dict[str, int] = field(default_factory=dict)
    available_per_class: dict[str, int] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    resumed: int = 0
    failures: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: it rebuilds a Counter from (key, value) tuples, counting the tuples
        return {f.name: dict(getattr(self, f.name)) if isinstance(getattr(self, f.name), dict)
                else getattr(self, f.name) for f in fields(self)}


def teacher_messages(sample: Sample) -> list[dict[str, str]]:
    task_text = next(m["content"] for m in sample.prompt if m["role"] == "user")
    gold = int(sample.target["trial_label"])
    decision = TREC_NAMES[gold]
    user = (
        f"A junior screener was given this task:\n<<<\n{task_text}\n>>>\n\n"
        f"After expert review, the correct decision for this patient and trial is \"{decision}\": "
        f"{LABEL_DESCRIPTIONS[decision]}.\n\n"
        "Write the step-by-step reasoning a careful screener would write to reach this decision: identify the "
        "condition the trial targets and whether the patient has it, then go through the inclusion and "
        "exclusion criteria that matter, citing the facts in the note (convert units where needed), and "
        "conclude. Write as if you were working it out yourself: do not say or hint that the decision was "
        "given to you, and do not mention labels, answer keys or expert review.\n\n"
        "Then rate from 1 to 5 how clearly the note and the criteria support this decision (1 = they seem to "
        "contradict it, 3 = plausible but needs assumptions, 5 = clearly supported).\n\n"
        'Reply with only a JSON object: {"rationale": "<your reasoning>", "confidence": <1-5>}'
    )
    return [{"role": "system", "content": TEACHER_SYSTEM}, {"role": "user", "content": user}]


def parse_teacher_reply(text: str, config: RationaleConfig) -> tuple[str | None, int | None, str]:
    """``(rationale, confidence, error)``; ``error`` is empty when the reply is usable."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        return None, None, "reply has no JSON object"
    try:
        data = loads_strict(body[start:end + 1])
    except (ValueError, RecursionError):
        return None, None, "reply JSON does not parse"
    if not isinstance(data, dict):
        return None, None, "reply JSON is not an object"
    rationale, confidence = data.get("rationale"), data.get("confidence")
    if not isinstance(rationale, str) or not rationale.strip():
        return None, None, "no rationale text"
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or \
            float(confidence) != int(confidence) or not 1 <= confidence <= 5:
        return rationale, None, f"confidence {confidence!r} is not an integer from 1 to 5"
    rationale = rationale.strip()
    if len(rationale) > config.max_rationale_chars:
        return rationale, int(confidence), f"rationale longer than {config.max_rationale_chars} characters"
    if any(tag in rationale for tag in CONTRACT_TAGS):
        return rationale, int(confidence), "rationale contains <think>/<answer> tags"
    leak = LEAK_PATTERNS.search(rationale)
    if leak:
        return rationale, int(confidence), f"rationale reveals the given decision ({leak.group(0)!r})"
    return rationale, int(confidence), ""


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Latest record per id (a torn last line from an interrupted run is ignored)."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "id" in record:
            records[str(record["id"])] = record
    return records


def sft_row(sample: Sample, task: Any, rationale: str, confidence: int) -> dict[str, Any]:
    completion = wrap_contract(task.oracle_answer(sample.target), f"\n{rationale}\n")
    return {"id": sample.id, "prompt": sample.prompt, "prefill": sample.prefill, "completion": completion,
            "category": sample.category, "trial_label": sample.target["trial_label"], "confidence": confidence}


def generate_rationales(task: Any, samples: Sequence[Sample], client: Any, out_dir: str | Path, *,
                        config: RationaleConfig | None = None, progress: bool = True) -> RationaleReport:
    """Class-balanced teacher rationales for ``samples`` (see the module docstring); resumable."""
    config = config or RationaleConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    journal_path = out / "rationales.jsonl"
    journal = read_journal(journal_path)
    report = RationaleReport(resumed=sum(1 for r in journal.values() if r.get("status") in FINAL))
    by_class: dict[int, list[Sample]] = {0: [], 1: [], 2: []}
    for s in samples:
        if not s.metadata.get("has_trial_text", True):
            report.skipped["no trial criteria text"] += 1
            continue
        by_class[int(s.target["trial_label"])].append(s)
    for label, items in by_class.items():
        random.Random(f"trials-rationales:{config.seed}:{label}").shuffle(items)
        report.available_per_class[TREC_NAMES[label]] = len(items)
    by_id = {s.id: s for items in by_class.values() for s in items}

    def accepted(label: int) -> int:
        return sum(1 for s in by_class[label] if journal.get(s.id, {}).get("status") == "ok")

    tried: set[str] = set()  # a failed id is retried on the next run, not again in this one
    while True:
        queues = []
        for label, items in by_class.items():
            need = config.per_class - accepted(label)
            pending = [s for s in items if journal.get(s.id, {}).get("status") not in FINAL and s.id not in tried]
            queues.append(pending[:max(0, need)])
        # interleave the classes so that every round serves all three
        batch = [s for group in zip_longest(*queues) for s in group if s is not None][:config.batch_size]
        if not batch:
            break
        results = client.chat_many([teacher_messages(s) for s in batch], progress=progress,
                                   description="teacher rationales", temperature=config.temperature,
                                   max_tokens=config.max_tokens)
        report.requested += len(batch)
        tried.update(s.id for s in batch)
        new = [_record(task, s, r, config) for s, r in zip(batch, results)]
        write_jsonl(journal_path, new, append=True)
        journal.update((record["id"], record) for record in new)
        for record in new:
            report.statuses[record["status"]] += 1
            if record["status"] == "failed":
                report.failures[record["error"].split(":")[0][:60]] += 1
        if all(r["status"] == "failed" for r in new):
            break  # the endpoint is down: stop, the failed ids are retried on the next run
    rows = []
    for label, items in by_class.items():
        kept = [s for s in items if journal.get(s.id, {}).get("status") == "ok"][:config.per_class]
        report.accepted_per_class[TREC_NAMES[label]] = len(kept)
        if len(kept) < config.per_class:
            report.shortfall[TREC_NAMES[label]] = config.per_class - len(kept)
        rows += [sft_row(by_id[s.id], task, journal[s.id]["rationale"], journal[s.id]["confidence"]) for s in kept]
    rows.sort(key=lambda r: r["id"])
    write_jsonl(out / "train.jsonl", rows)
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report


def _record(task: Any, sample: Sample, result: Any, config: RationaleConfig) -> dict[str, Any]:
    record: dict[str, Any] = {"id": sample.id, "trial_label": sample.target["trial_label"],
                              "attempts": getattr(result, "attempts", None), "cached": getattr(result, "cached", False)}
    if not result.ok:
        return {**record, "status": "failed", "error": str(result.error or "unknown failure")}
    rationale, confidence, error = parse_teacher_reply(result.text or "", config)
    record.update(rationale=rationale, confidence=confidence, reply=None if rationale else (result.text or "")[:500])
    if error:
        return {**record, "status": "invalid", "error": error}
    if confidence < config.min_confidence:
        return {**record, "status": "low_confidence", "error": f"confidence {confidence} < {config.min_confidence}"}
    row = sft_row(sample, task, rationale, confidence)
    score = task.score(row["completion"], sample.target, contract="ehrmind")
    if not score.correct:
        return {**record, "status": "invalid", "error": f"SFT target does not score correct: {score.explanation}"}
    return {**record, "status": "ok", "error": ""}
