"""SFT warm-up data (EHRMIND): step-by-step explanations inside ``<think>``, the answer JSON after it.

EHRMIND's finding is that RL alone cannot inject *missing* knowledge; a light SFT warm-up on worked
solutions first teaches the formulas and the output contract. Each task writes its own worked target
(:meth:`clinrl.tasks.base.Task.sft_completion`). For MedCalc the worked solution is the row's own
``Ground Truth Explanation`` (real rows) or the calculator's explanation (synthetic rows, and real rows
whose label clinrl recomputed).

Output format — one JSON object per line (``train.jsonl`` / ``val.jsonl``), read by the SFT trainer::

    {
      "id":            "123",                       # the sample id (row number or synthetic id)
      "prompt":        [{"role": "system", "content": ...}, {"role": "user", "content": ...}],
      "prefill":       "Let me solve this step by step.\\n<think>",   # start of the assistant turn
      "completion":    "\\n<explanation>\\n</think>\\n<answer>{\\"answer\\": 22.857}</answer>",
      "category":      "physical",                   # MedCalc category (lab, physical, date, ...)
      "calculator_id": 6
    }

The assistant turn is ``prefill + completion``: render ``prompt`` with the chat template and the
generation prompt (``clinrl.prompting.render_prompt(tokenizer, prompt, prefill=prefill)``), append
``completion`` and train on the completion tokens only. Every completion is checked before it is
written: scored by the task it must be contract-valid and correct (rows that are not are counted and
reported, never written).

Subset (EHRMIND): from ``N`` usable samples take ``budget = ⌊N·pct⌋`` spread evenly over the ``C``
categories present (EHRMIND: 7, so ``⌊N·pct/7⌋`` each); a category smaller than its share is taken
whole first and what it leaves over is shared by the others. Inside a category the choice is a seeded
shuffle. ``val_fraction`` of each category's pick is held out (seeded) as the validation split.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from clinrl.errors import ConfigError
from clinrl.types import Sample

if TYPE_CHECKING:  # pragma: no cover
    from clinrl.tasks.base import Task

SFT_FIELDS = ("id", "prompt", "prefill", "completion", "category", "calculator_id")
#: how much of a worked explanation an SFT target writes (``sft.think``; see :func:`shorten_reasoning`)
THINK_MODES = ("full", "last_line", "steps", "values")

#: one criterion line of a point-score explanation (:class:`clinrl.calculators._tally.Tally`)
_TALLY_LINE = re.compile(r"^- (?P<criterion>.+?): (?P<finding>.+) -> (?P<points>-?[\d.]+) points?(?:\(s\))?; "
                         r"total (?:stays (?P<same>\S+?)|.+ = (?P<new>\S+?))\.$")


def compact_steps(explanation: str, values: bool = False, note: str = "") -> str:
    """A point-score explanation as a worked tally: one ``+points = running total`` line per criterion.

    The criteria come in the calculator's fixed order, so each line is one local step — decide the
    criterion's points from the note, add them to the previous total — and the last total is the answer.
    A 5-criterion score costs ~25 tokens where the full explanation costs ~280, which keeps CPU GRPO
    affordable; and unlike ``last_line`` the model never has to produce the score in one jump. An
    explanation with no criterion lines (a formula) keeps its last line, as ``last_line`` does.
    ``values=True`` (``think: values``) starts each line with the note's numbers the criterion reads
    (``23 45 +1 = 2``), so the threshold is compared against a value the model has just copied; ``note`` (the
    prompt) gives each value the note's spelling (``39.0`` where the explanation writes ``39``).
    """
    steps = tally_steps(explanation, values=values, note=note)
    if steps:
        return "\n".join(steps)
    lines = [line for line in explanation.splitlines() if line.strip()]
    return lines[-1] if lines else ""


#: a number standing alone in a finding (not the 2 of ``PaCO2``, not a range's ``3-14``)
_FINDING_NUMBER = re.compile(r"(?<![\w.^-])\d+(?:\.\d+)?(?![\w.^-]*\w)")


def finding_values(finding: str, note: str = "") -> str:
    """The note's numbers one criterion reads, from its explanation line (``respiratory rate 23 /min, PaCO2 45 mm
    Hg`` gives ``23 45``): what a conversion adds after ``=`` and a rule's remarks in parentheses are left out.
    Each is spelled as ``note`` writes the same value, when it does. Empty for a yes/no finding."""
    finding = re.sub(r"\([^)]*\)", " ", finding)
    finding = re.split(r"\s=\s", finding, maxsplit=1)[0]
    written = _FINDING_NUMBER.findall(note) if note else []
    return " ".join(next((w for w in written if float(w) == float(v)), v) for v in _FINDING_NUMBER.findall(finding))


def tally_steps(explanation: str, values: bool = False, note: str = "") -> list[str]:
    """The ``+points = running total`` lines of a point-score explanation, in order (empty for a formula);
    ``values=True`` starts each with the finding's numbers, spelled as ``note`` spells them (:func:`finding_values`)."""
    steps = []
    for line in explanation.splitlines():
        match = _TALLY_LINE.match(line.strip())
        if match:
            points = match["points"]
            sign = "" if points.startswith("-") else "+"
            step = f"{sign}{points} = {match['same'] or match['new']}"
            read = finding_values(match["finding"], note) if values else ""
            steps.append(f"{read} {step}" if read else step)
    return steps


#: the values a ``think: values`` tally line starts with (``23 45 `` of ``23 45 +1 = 2``): a pattern to build on
TALLY_VALUES = r"(?:\d+(?:\.\d+)?\s+)*"
#: a tally line's decision: the signed points just before ``=`` (after the values, in ``think: values``)
_TALLY_DECISION = re.compile(r"([+-]\s*\d+(?:\.\d+)?)\s*=")


def tally_points(line: str) -> str:
    """The decision of one tally line: its points without whitespace (``+1`` of ``+1 = 3`` and of ``23 +1 = 3``)."""
    match = _TALLY_DECISION.search(line)
    if match:
        return "".join(match.group(1).split())
    return "".join(line.split("=", 1)[0].split())


def shorten_reasoning(explanation: str, think: str = "full", note: str = "") -> str:
    """The part of a worked explanation an SFT target writes: ``full`` keeps it whole (EHRMIND; GPU recipes);
    ``last_line`` keeps its final line (the computation with the note's values); ``steps`` keeps a point
    score's running tally (:func:`compact_steps`); ``values`` the same tally, each line starting with the numbers
    it reads, spelled as ``note`` (the prompt) spells them. Short targets make CPU GRPO affordable for the tiny
    model."""
    if think not in THINK_MODES:
        raise ConfigError(f"sft.think must be one of {', '.join(THINK_MODES)}, got {think!r}")
    if think == "last_line" and explanation.strip():
        return [line for line in explanation.splitlines() if line.strip()][-1]
    if think in ("steps", "values") and explanation:
        return compact_steps(explanation, values=think == "values", note=note)
    return explanation


@dataclass
class SFTReport:
    """What the builder did: counts per category and every sample it could not use, with the reason."""

    n_input: int = 0
    skipped: Counter = field(default_factory=Counter)
    quota: dict[str, int] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    explanation_source: Counter = field(default_factory=Counter)  # of the examples written
    n_train: int = 0
    n_val: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"n_input": self.n_input, "skipped": dict(self.skipped), "available": self.available,
                "quota": self.quota, "explanation_source": dict(self.explanation_source),
                "n_train": self.n_train, "n_val": self.n_val}


def explanation_for(sample: Sample) -> tuple[str, str]:
    """``(explanation, source)`` of a MedCalc sample: the recomputed explanation where clinrl changed the label,
    else the row's (the MedCalc task's SFT target, and the source the report counts)."""
    meta = sample.metadata
    if meta.get("label_changed") and meta.get("recomputed_explanation"):
        return str(meta["recomputed_explanation"]), "calculator (recomputed label)"
    text = str(meta.get("explanation") or "").strip()
    return text, ("calculator (synthetic)" if meta.get("synthetic") else "dataset")


def sft_example(sample: Sample, task: "Task", think: str = "full") -> dict[str, Any]:
    """One SFT record (``task.sft_completion``); raises ``ValueError`` when the sample cannot give a correct,
    well-formed target."""
    completion = task.sft_completion(sample, think)
    score = task.score(completion, sample.target)
    if not score.correct:
        raise ValueError(f"target does not score correct ({score.explanation})")
    return {
        "id": sample.id,
        "prompt": sample.prompt,
        "prefill": sample.prefill,
        "completion": completion,
        "category": sample.category,
        "calculator_id": sample.target.get("calculator_id"),
    }


def category_quotas(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """EHRMIND's balanced quota: an equal share per category, small categories taken whole first."""
    quota: dict[str, int] = {}
    pending = sorted(sizes, key=lambda c: (sizes[c], c))
    remaining = budget
    while pending:
        share = remaining // len(pending)
        small = [c for c in pending if sizes[c] <= share]
        if not small:
            for c in pending:
                quota[c] = share
            break
        for c in small:
            quota[c] = sizes[c]
            remaining -= sizes[c]
            pending.remove(c)
    return {c: quota[c] for c in sorted(quota)}


def build_sft_examples(samples: Iterable[Sample], *, task: "Task", pct: float = 0.2, seed: int = 0,
                       val_fraction: float = 0.1, report: SFTReport | None = None
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train, val)`` SFT records from a task's samples (see the module docstring for the format).

    Args:
        samples: the task's samples.
        task: the task that writes (:meth:`~clinrl.tasks.base.Task.sft_completion`) and scores the targets.
        pct: fraction of the usable samples to keep (EHRMIND: 0.2); 1.0 keeps every sample.
        seed: seeds the per-category shuffle and the validation hold-out.
        val_fraction: fraction of each category's pick held out for validation.
        report: filled with counts (skipped samples and why, quotas, explanation sources).
    """
    if not 0 < pct <= 1:
        raise ConfigError(f"pct must be in (0, 1], got {pct}")
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    report = report if report is not None else SFTReport()
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sources: dict[str, str] = {}
    for sample in samples:
        report.n_input += 1
        try:
            record = sft_example(sample, task)
        except ValueError as exc:
            report.skipped[str(exc).split(" (")[0]] += 1
            continue
        sources[str(record["id"])] = explanation_for(sample)[1]
        by_category[str(sample.category)].append(record)
    usable = sum(len(v) for v in by_category.values())
    report.available = {c: len(v) for c, v in sorted(by_category.items())}
    budget = usable if pct >= 1 else int(usable * pct)
    report.quota = category_quotas(report.available, budget)
    train: list[dict[str, Any]] = []
    val: list[dict[str, Any]] = []
    for category in sorted(by_category):
        records = sorted(by_category[category], key=lambda r: _id_key(r["id"]))
        rng = random.Random(f"{seed}:{category}")
        rng.shuffle(records)
        picked = records[:report.quota[category]]
        n_val = int(round(len(picked) * val_fraction))
        val.extend(picked[:n_val])
        train.extend(picked[n_val:])
    random.Random(seed).shuffle(train)
    report.n_train, report.n_val = len(train), len(val)
    report.explanation_source = Counter(sources[str(r["id"])] for r in train + val)
    return train, val


def _id_key(value: Any) -> tuple[int, Any]:
    text = str(value)
    return (0, int(text)) if text.isdigit() else (1, text)


def write_jsonl(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """The SFT fields of ``records`` as JSONL, through :func:`clinrl.data.tables.write_jsonl`."""
    from clinrl.data.tables import write_jsonl as write_rows

    write_rows(path, ({k: record[k] for k in SFT_FIELDS} for record in records))
    return Path(path)
