"""The MedCalc-Bench task: compute a medical value or score from a patient note."""

from __future__ import annotations

import ast
import math
import warnings
from collections import Counter
from functools import lru_cache
from typing import Any, Mapping, Sequence

from clinrl.data.tables import read_rows
from clinrl.errors import ConfigError, DataError, TargetError
from clinrl.registry import register_task
from clinrl.tasks.base import AnswerCheck, ContractTask, TaskCard, display_value
from clinrl.tasks.medcalc import prompts
from clinrl.tasks.medcalc.scoring import (
    check_value, locate_official_answer, output_kind, parse_date, parse_ground_truth,
)
from clinrl.tasks.medcalc.sources import (
    HUB_ID,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    VERIFIED_HUB_ID,
    benchmark_test_file,
    column_mapping,
    rename_columns,
    resolve_source,
)
from clinrl.types import Sample, Score

from clinrl.calculators.base import CATEGORIES  # one list: the calculators' categories, in card order

#: the task's registered name; shared layers that must name MedCalc import it instead of spelling it
NAME = "medcalc"
# The train split spells two categories differently from the test split.
CATEGORY_ALIASES = {"lab test": "lab", "dosage conversion": "dosage"}

PROMPT_STYLES = ("ehrmind", "compact", "zero_shot")
LABEL_MODES = ("official", "recomputed")
INTERVAL_MODES = ("official", "widen")
#: the splits ``interval="widen"`` touches: training data only. Every other split (test, validation,
#: a held-out split) keeps the official interval, so one task object can serve a training mixture.
WIDEN_SPLITS = ("train",)
#: ± fraction of the ground truth: MedCalc-Bench's own bounds for decimal calculators
WIDEN_TOLERANCE = 0.05
#: longest located answer the lenient contract reads generously (longer ones get the official reading only)
MAX_LENIENT_ANSWER = 2000


class MedCalcDataWarning(UserWarning):
    """Rows a load changed or could not use, counted (e.g. zero-width intervals widened for training)."""


def normalise_category(value: str) -> str | None:
    text = str(value).strip().lower()
    text = CATEGORY_ALIASES.get(text, text)
    return text if text in CATEGORIES else None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@lru_cache(maxsize=1)
def known_calculator_ids() -> frozenset[int]:
    """The MedCalc-Bench calculator ids clinrl's calculator library knows (its 55 calculators)."""
    from clinrl.calculators import list_calculators

    return frozenset(c.id for c in list_calculators())


def check_calculator_id(value: Any, *, field: str = "calculator_id") -> int:
    """An integer id of a known calculator. Anything else would be scored by a guessed rule (an unknown id
    falls through to the decimal rule), so it is refused."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise TargetError(f"not an integer: {value!r}", field=field)
    try:
        calculator_id = int(str(int(value) if isinstance(value, float) else value).strip())
    except (TypeError, ValueError):
        raise TargetError(f"not an integer: {value!r}", field=field) from None
    if calculator_id not in known_calculator_ids():
        raise TargetError(f"unknown calculator id {calculator_id} (MedCalc-Bench has {len(known_calculator_ids())}: "
                          "`clinrl calc list` shows them)", field=field)
    return calculator_id


def check_limit(value: Any, *, field: str) -> float:
    """A finite interval bound: an infinite bound makes every answer correct, NaN makes every answer wrong."""
    if isinstance(value, bool):
        raise TargetError(f"not a number: {value!r}", field=field)
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise TargetError(f"not a number: {value!r}", field=field) from None
    if not math.isfinite(number):
        raise TargetError(f"{value!r} is not a finite number (an infinite bound would make every answer correct, "
                          "NaN every answer wrong)", field=field)
    return number


def check_target(target: Mapping[str, Any]) -> None:
    """Validate a MedCalc target dict (``calculator_id``, ``ground_truth``, ``lower_limit``, ``upper_limit``)."""
    for name in ("calculator_id", "ground_truth"):
        if name not in target or _is_blank(target[name]):
            raise TargetError("missing or empty", field=name)
    calculator_id = check_calculator_id(target["calculator_id"])
    try:
        parse_ground_truth(calculator_id, str(target["ground_truth"]).strip())
    except ValueError as exc:
        raise TargetError(str(exc), field="ground_truth") from None
    if output_kind(calculator_id) == "decimal":
        for name in ("lower_limit", "upper_limit"):
            check_limit(target.get(name), field=name)


@register_task(NAME)
class MedCalcTask(ContractTask):
    name = NAME
    version = "1"
    #: the quickstart recipe is sized for MedCalc (~30-token tallies); real rows: the shared MedCalc-Bench test file
    quickstart_budget = {"completion_tokens": 48, "sft_max_length": 512, "light_run": False,
                         "real_rows": "medcalc-bench/test_data.csv"}
    answer_keys = ("answer",)
    target_fields = ("calculator_id", "ground_truth", "lower_limit", "upper_limit")
    #: the reader-free baseline: each calculator's most common training answer (a score's mode, e.g. SIRS 3)
    answer_prior = "calculator"
    card = TaskCard(
        summary="MedCalc-Bench: 55 medical calculators over patient notes, official scoring (dates exact, "
                "integers rounded, decimals within ±5%).",
        source=f"hub {HUB_ID} ('v1.0', the default) or {VERIFIED_HUB_ID} ('verified'; train / test), a local CSV / "
               "parquet / JSONL with the 14 official columns (also 'Ground Truth' / 'Lower Bound' / 'Upper Bound'), or "
               "'synthetic[:calculators=6,5,39;n=1000;seed=0;difficulty=mixed]' (clinrl's seeded generator; "
               "the split shifts the seed so train/validation/test never share a row)",
        licence="CC-BY-SA 4.0 (MedCalc-Bench); notes from PMC-Patients",
        splits="test: 1,047 rows (v1.0); train: ~10k rows on the hub — never train on test",
        scoring="13/68 same date; 69 exact (weeks, days); integer calculators round(x)==gt; others lower<=x<=upper",
        categories=CATEGORIES,
        extra={"prompt_style": "ehrmind (default: EHRMIND's system prompt and instructions), compact (the same "
                               "contract in one short user turn: ~130 instead of ~230 tiny-model tokens, half the "
                               "compute of a CPU GRPO step) or zero_shot (MedCalc-Bench's own zero-shot prompt)",
               "contract": "ehrmind (default: the strict <think>/<answer> JSON contract, for training), official "
                           "(MedCalc-Bench's published evaluator rule for rule, quirks included; the default of "
                           "prompt_style='zero_shot'; replies needing an eval() clinrl does not reproduce are "
                           "unscored) or lenient (the evaluator's answer locator, then a generous reading)",
               "labels": "official (the dataset's ground truth) or recomputed (clinrl's calculators replace the "
                         "ground truth on the rows where they disagree with it; ±5% bounds for decimals, exact "
                         "otherwise; metadata['label_changed'] marks those rows)",
               "interval": "official (default; evaluation) or widen: in the train split only, a decimal row whose "
                           "interval has zero width (Lower = Upper, e.g. calculator 24 of the train split) gets "
                           "±5% of its ground truth, so a training reward does not demand 3-decimal exactness; "
                           "counted in a MedCalcDataWarning, metadata['interval_widened'] marks those rows",
               "teacher_slip": "an ablation, default 0: the chance in [0, 1) that a warm-up tally (sft.think: steps) "
                               "overlooks each scoring finding, its totals and answer following; GRPO and held-out "
                               "scores keep the gold answer"},
    )

    def __init__(self, *, prompt_style: str = "ehrmind", contract: str | None = None, labels: str = "official",
                 interval: str = "official", allow_test_rows_in_train: bool = False, teacher_slip: float = 0.0,
                 **kwargs: Any) -> None:
        if labels not in LABEL_MODES:
            raise ConfigError(f"unknown labels {labels!r}; choose one of {', '.join(LABEL_MODES)}")
        self.labels = labels
        if interval not in INTERVAL_MODES:
            raise ConfigError(f"unknown interval {interval!r}; choose one of {', '.join(INTERVAL_MODES)} "
                              "(widen: ±5% for zero-width decimal intervals of the train split, for training rewards)")
        self.interval = interval
        #: a single local file has no splits: loading a benchmark test file as split "train" is refused unless set
        self.allow_test_rows_in_train = bool(allow_test_rows_in_train)
        if prompt_style not in PROMPT_STYLES:
            raise ConfigError(f"unknown prompt_style {prompt_style!r}; choose one of {', '.join(PROMPT_STYLES)}")
        # The zero-shot prompt asks for MedCalc-Bench's own JSON reply, which only the official
        # extraction reads.
        default_contract = "official" if prompt_style == "zero_shot" else "ehrmind"
        super().__init__(contract=contract or default_contract, **kwargs)
        self.prompt_style = prompt_style
        try:
            slip = float(teacher_slip)
        except (TypeError, ValueError):
            slip = math.nan
        if not 0 <= slip < 1:
            raise ConfigError(f"teacher_slip must be a probability in [0, 1), got {teacher_slip!r}")
        #: an ablation: the chance that the warm-up's worked tally misses a scoring finding (see sft_completion)
        self.teacher_slip = slip

    # -- loading --------------------------------------------------------------------------------
    def load(self, source: str | None = None, split: str = "test", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        src = resolve_source(source or HUB_ID)
        from clinrl.tasks.medcalc.synth import is_synthetic_source
        from clinrl.data.tables import is_local

        if is_synthetic_source(src):
            return self._load_synthetic(src, split, limit=limit, seed=seed)
        samples: list[Sample] = []
        first_row: dict[str, int] = {}
        mapping: dict[str, str] | None = None
        for row_number, row in read_rows(src, split=split):
            if limit is not None and len(samples) >= limit:
                break
            if mapping is None:
                mapping = column_mapping(row.keys(), source=src, row=row_number)
            sample = self.sample_from_row(rename_columns(row, mapping), source=src, row_number=row_number,
                                          split=split)
            if sample.id in first_row:  # ids key completions and eval records: a repeat would overwrite one
                raise DataError(f"duplicate Row Number {sample.id} (first on row {first_row[sample.id]})",
                                source=src, row=row_number, field="Row Number")
            first_row[sample.id] = row_number
            samples.append(sample)
        if split.lower() == "train" and is_local(src) and not self.allow_test_rows_in_train:
            reason = benchmark_test_file(src, samples)
            if reason:
                raise DataError(
                    f"refusing to load benchmark test rows as training rows: {reason}. A single file has no "
                    "splits, so the same rows would serve training and evaluation. To evaluate on it, ask for "
                    "the test split (--split test; Python: task.load(path, 'test')). To train on it anyway, say "
                    "so explicitly: --allow-test-rows-in-train (clinrl export verl, clinrl data sft) or "
                    "get_task('medcalc', allow_test_rows_in_train=True).", source=src)
        if self.labels == "recomputed":
            samples = self._relabel(samples, source=src, split=split)
        if self.interval == "widen" and split in WIDEN_SPLITS:
            samples = widen_zero_width_intervals(samples, source=src, split=split)
        return samples

    def _load_synthetic(self, source: str, split: str, *, limit: int | None, seed: int) -> list[Sample]:
        """Rows from clinrl's generator (labels come from the calculators: both label modes agree).

        Sample ids carry the split (``train-1``, ``test-1``): the splits hold different rows under the same
        row numbers, so completions scored against the wrong split fail on the id instead of silently using
        other targets. ``metadata["seed"]`` is the seed the rows were drawn from (the spec's seed plus the
        split's offset), ``metadata["base_seed"]`` the spec's."""
        from clinrl.tasks.medcalc.synth import synthetic_rows_for_split
        from clinrl.tasks.source import split_seed

        options, rows = synthetic_rows_for_split(source, split, seed=seed, limit=limit)
        effective_seed = split_seed(options["seed"], split.lower())
        samples = []
        for i, row in enumerate(rows, start=1):
            sample = self.sample_from_row(row, source=source, row_number=i, split=split)
            sample.metadata.update({"synthetic": True, "seed": effective_seed, "base_seed": options["seed"],
                                    "difficulty": options["difficulty"], "note_type": row["Note Type"]})
            samples.append(Sample(id=f"{split.lower()}-{sample.id}", prompt=sample.prompt, target=sample.target,
                                  metadata=sample.metadata, prefill=sample.prefill))
        return samples

    def _relabel(self, samples: list[Sample], *, source: str, split: str) -> list[Sample]:
        """``labels="recomputed"``: the calculator's answer replaces the ground truth where they disagree; a label
        the audit calls impossible (a documented entity typo) is graded against the value from the corrected
        entities, or the row is left out when nothing corrects it. Counted in a :class:`MedCalcDataWarning`."""
        from clinrl.tasks.medcalc.audit import relabel_sample

        out, counts, excluded, kept_errors = [], Counter(), [], []
        for sample in samples:
            r = relabel_sample(sample)
            counts[r.action] += 1
            if r.action == "exclude":
                excluded.append(sample.id)
                continue
            calc = r.recomputed
            changed = r.action in ("replace", "correct")
            if r.action == "keep" and calc.agrees is None:
                kept_errors.append(sample.id)
            meta = dict(sample.metadata, official_target=dict(sample.target), label_changed=changed,
                        recomputed_error=(calc.error or None) if r.action != "correct" else None,
                        recomputed_explanation=calc.explanation if changed else None)
            if r.action == "correct":
                meta.update(label_corrected=True, corrected_entities=r.corrected_entities,
                            recomputed_error=f"official label impossible: {r.defect_cause}")
            out.append(Sample(id=sample.id, prompt=sample.prompt, target=r.target or sample.target, metadata=meta,
                              prefill=sample.prefill))
        if counts["correct"] or excluded or kept_errors:
            parts = [f"{counts['replace']} label(s) replaced by the calculators' answer"]
            if counts["correct"]:
                parts.append(f"{counts['correct']} impossible label(s) graded against the value from the corrected "
                             "entities (documented entity typos)")
            if excluded:
                parts.append(f"{len(excluded)} row(s) left out: the label is impossible and nothing in the note "
                             f"corrects it (ids {', '.join(excluded[:20])})")
            if kept_errors:
                parts.append(f"{len(kept_errors)} row(s) keep the official label: the calculators cannot compute "
                             f"them and no defect is documented (ids {', '.join(kept_errors[:20])})")
            warnings.warn(f"{source} ({split}), labels='recomputed': " + "; ".join(parts), MedCalcDataWarning,
                          stacklevel=3)
        return out

    def sample_from_row(self, row: Mapping[str, Any], *, source: str, row_number: int, split: str) -> Sample:
        """Validate one MedCalc-Bench row and turn it into a Sample (errors name file, row, field)."""
        return _sample_from_row(self, row, source=source, row_number=row_number, split=split)

    def build_prompt(self, note: str, question: str, calculator_id: int) -> tuple[list[dict[str, str]], str]:
        if self.prompt_style == "zero_shot":
            return prompts.zero_shot_messages(note, question)
        if self.prompt_style == "compact":
            return prompts.compact_messages(note, question, output_kind(calculator_id))
        return prompts.ehrmind_messages(note, question, output_kind(calculator_id))

    # -- scoring --------------------------------------------------------------------------------
    def validate_target(self, target: Mapping[str, Any]) -> None:
        """Refuse unknown calculator ids, unreadable ground truths and non-finite decimal bounds."""
        check_target(target)

    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        check_target(target)  # a bad target is unscored (Task.score), never a verdict
        calculator_id = int(target["calculator_id"])
        correct, extracted = check_value(calculator_id, answer["answer"], target)
        if extracted is None:
            return AnswerCheck(False, None, f"answer {str(answer['answer'])[:80]!r} is not one readable "
                                             f"{output_kind(calculator_id)} value")
        verdict = "correct" if correct else f"wrong (ground truth {target['ground_truth']})"
        return AnswerCheck(correct, extracted, verdict)

    def display_answer(self, answer: Any, target: Mapping[str, Any]) -> str:
        """By the calculator's output type: a date as MM/DD/YYYY, (weeks, days) in words, scores as integers."""
        try:
            kind = output_kind(int(target["calculator_id"]))
        except (KeyError, TypeError, ValueError):
            return display_value(answer)
        if answer is None:
            return display_value(answer)
        if kind == "date":
            date = parse_date(answer) if isinstance(answer, str) else None
            return date.strftime("%m/%d/%Y") if date else display_value(answer)
        if kind == "gestational_age" and isinstance(answer, (list, tuple)) and len(answer) == 2:
            return f"{display_value(answer[0])} weeks, {display_value(answer[1])} days"
        return display_value(answer)

    def display_target(self, target: Mapping[str, Any]) -> str:
        try:
            calculator_id = int(target["calculator_id"])
            truth = parse_ground_truth(calculator_id, str(target["ground_truth"]))
        except (KeyError, TypeError, ValueError):
            return super().display_target(target)
        kind = output_kind(calculator_id)
        if kind == "date":
            return truth.strftime("%m/%d/%Y")
        text = self.display_answer(list(truth) if kind == "gestational_age" else truth, target)
        if kind == "decimal":
            try:
                low, high = sorted((float(target["lower_limit"]), float(target["upper_limit"])))
            except (KeyError, TypeError, ValueError):
                return text
            if low != high:
                text += f" (accepted {display_value(low)} to {display_value(high)})"
        return text

    def extract_official(self, completion: str, target: Mapping[str, Any]) -> Score:
        """``contract="official"``: MedCalc-Bench's published evaluator, rule for rule
        (:mod:`clinrl.tasks.medcalc.official`). A reply needing an ``eval`` clinrl does not reproduce is
        unscored."""
        from clinrl.tasks.medcalc.official import judge

        check_target(target)
        verdict = judge(completion, int(target["calculator_id"]), target["ground_truth"], target["lower_limit"],
                        target["upper_limit"])
        if verdict.correct is None:
            return Score(value=None, format_ok=verdict.located, answer=verdict.answer, correct=None,
                         explanation=verdict.explanation)
        return Score(value=self.scheme.value(verdict.located, verdict.correct), format_ok=verdict.located,
                     answer=verdict.answer, correct=verdict.correct, explanation=verdict.explanation)

    def extract_lenient(self, completion: str, target: Mapping[str, Any]) -> Score:
        """``contract="lenient"``: the evaluator's answer locator, then a generous reading (clinrl's strict
        reader first, the evaluator's fallbacks after it); whatever the official evaluator accepts is accepted
        too. Not the benchmark's number: that is ``official``."""
        check_target(target)
        located = locate_official_answer(completion)
        if located is None:
            return Score(value=self.scheme.malformed, format_ok=False, answer=None, correct=False,
                         explanation='no "answer": … found')
        calculator_id = int(target["calculator_id"])
        # the generous reading's fallbacks are regular expressions that are quadratic on long adversarial text
        readable = len(located) <= MAX_LENIENT_ANSWER
        correct, extracted = check_value(calculator_id, located, dict(target), lenient=True) if readable else (False, None)
        if not correct:  # lenient accepts at least what the official evaluator accepts
            official = self.extract_official(completion, target)
            if official.correct:
                return Score(self.scheme.correct, True, official.answer, True, "correct (as the official evaluator reads it)")
        return Score(value=self.scheme.value(True, correct), format_ok=True, answer=extracted, correct=correct,
                     explanation="correct" if correct else f"wrong (ground truth {target['ground_truth']})")

    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        calculator_id = int(target["calculator_id"])
        kind = output_kind(calculator_id)
        gt = parse_ground_truth(calculator_id, str(target["ground_truth"]))
        if kind == "date":
            return {"answer": gt.strftime("%m/%d/%Y")}
        if kind == "gestational_age":
            return {"answer": [f"{gt[0]} weeks", f"{gt[1]} days"]}
        return {"answer": gt}

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        """The worked explanation in ``<think>``, then the gold answer: the row's ``Ground Truth Explanation``, the
        calculator's explanation for synthetic rows and rows whose label ``labels="recomputed"`` changed.
        ``think="last_line"`` keeps the final computation, ``"steps"`` a point score's running tally, ``"values"``
        that tally with the note's numbers first."""
        from clinrl.data.sft import explanation_for

        explanation = explanation_for(sample)[0]
        if self.teacher_slip and think == "steps":
            return self.slipped_completion(sample, explanation, think)
        return self.worked_completion(sample, explanation, think)

    def slipped_completion(self, sample: Sample, explanation: str, think: str) -> str:
        """A worked tally from an imperfect teacher (option ``teacher_slip``, an ablation): each criterion that
        scores points is missed (written ``+0``) with probability ``teacher_slip``, drawn from the sample id; the
        running totals and the answer follow the teacher's tally, so the target is wrong exactly as a distilled
        rationale that overlooked a finding would be. The held-out and GRPO rewards stay the gold answer's.
        Formulas (no tally) keep their faithful target. Needs ``sft.think: steps``."""
        import random

        from clinrl.data.sft import tally_steps
        from clinrl.rewards.contract import wrap_contract

        steps = tally_steps(explanation)
        if not steps:
            return self.worked_completion(sample, explanation, think)
        rng = random.Random(f"teacher_slip:{sample.id}")
        total, lines = 0.0, []
        for step in steps:
            points = float(step.split("=", 1)[0].replace(" ", ""))
            if points and rng.random() < self.teacher_slip:
                points = 0.0
            total += points
            lines.append(f"{'-' if points < 0 else '+'}{display_value(abs(points))} = {display_value(total)}")
        value = int(total) if float(total).is_integer() else total
        return wrap_contract({"answer": value}, "\n" + "\n".join(lines) + "\n")

    def reference_steps(self, sample: Sample) -> list[str] | None:
        """A point score's gold running tally (the ``think: steps`` lines); None for a formula."""
        from clinrl.data.sft import explanation_for, tally_steps

        return tally_steps(explanation_for(sample)[0]) or None

    def step_key(self, line: str) -> str:
        """A tally line's points (``+1`` of ``+1 = 3``): the criterion's decision, so one wrong step does not take
        the credit of every later running total with it."""
        from clinrl.data.sft import tally_points

        return tally_points(line)

    def group_keys(self, sample: Sample) -> dict[str, str]:
        keys = super().group_keys(sample)
        name = sample.metadata.get("calculator_name") or ""
        keys["calculator"] = f"{sample.target['calculator_id']}: {name}".strip().rstrip(":")
        return keys

    def failure_taxonomy(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Missing vs misapplied knowledge per wrong completion (:mod:`clinrl.tasks.medcalc.taxonomy`)."""
        from clinrl.tasks.medcalc.taxonomy import failure_taxonomy

        return failure_taxonomy(records)


def _sample_from_row(self: MedCalcTask, row: Mapping[str, Any], *, source: str, row_number: int,
                     split: str) -> Sample:
    """Validate one MedCalc-Bench row and turn it into a Sample (errors name file, row, field)."""
    for column in REQUIRED_COLUMNS:
        if column not in row:
            raise DataError(f"missing column (expected the official MedCalc-Bench columns: "
                            f"{', '.join(REQUIRED_COLUMNS)})", source=source, row=row_number, field=column)
        if _is_blank(row[column]):
            raise DataError("empty value", source=source, row=row_number, field=column)
    row_id = row["Row Number"]
    if isinstance(row_id, bool) or not (isinstance(row_id, int) or str(row_id).strip().isdigit()):
        raise DataError(f"not a non-negative integer: {row_id!r}", source=source, row=row_number, field="Row Number")
    try:
        calculator_id = check_calculator_id(row["Calculator ID"], field="Calculator ID")
    except TargetError as exc:
        raise DataError(exc.message, source=source, row=row_number, field="Calculator ID") from None
    category = normalise_category(row["Category"])
    if category is None:
        raise DataError(f"unknown category {row['Category']!r}; expected one of {', '.join(CATEGORIES)}",
                        source=source, row=row_number, field="Category")
    ground_truth = str(row["Ground Truth Answer"]).strip()
    try:
        parse_ground_truth(calculator_id, ground_truth)
    except ValueError as exc:
        raise DataError(str(exc), source=source, row=row_number, field="Ground Truth Answer") from exc
    lower, upper = str(row["Lower Limit"]).strip(), str(row["Upper Limit"]).strip()
    if output_kind(calculator_id) == "decimal":
        for field, value in (("Lower Limit", lower), ("Upper Limit", upper)):
            try:
                check_limit(value, field=field)
            except TargetError as exc:
                raise DataError(exc.message, source=source, row=row_number, field=field) from None
    entities: Any = row.get("Relevant Entities")
    if isinstance(entities, str) and entities.strip():
        try:
            entities = ast.literal_eval(entities)  # a Python literal, never eval()
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"not a Python literal dict ({exc.__class__.__name__})", source=source,
                            row=row_number, field="Relevant Entities") from exc
    if entities is not None and not isinstance(entities, (dict, str)):
        raise DataError("not a dict", source=source, row=row_number, field="Relevant Entities")

    note, question = str(row["Patient Note"]), str(row["Question"])
    messages, prefill = self.build_prompt(note, question, calculator_id)
    target = {
        "calculator_id": calculator_id,
        "ground_truth": ground_truth,
        "lower_limit": lower,
        "upper_limit": upper,
    }
    metadata = {
        "source": source,
        "split": split,
        "row_number": int(str(row["Row Number"]).strip()),
        "category": category,
        "calculator_name": str(row.get("Calculator Name") or ""),
        "output_type": str(row.get("Output Type") or ""),
        "note_id": str(row.get("Note ID") or ""),
        "note_type": str(row.get("Note Type") or ""),
        "relevant_entities": entities if isinstance(entities, dict) else None,
        "explanation": str(row.get("Ground Truth Explanation") or ""),
        "patient_note": note,
        "question": question,
    }
    return Sample(id=str(metadata["row_number"]), prompt=messages, target=target, metadata=metadata,
                  prefill=prefill)


def widen_zero_width_intervals(samples: list[Sample], *, source: str, split: str) -> list[Sample]:
    """``interval="widen"``: a decimal row whose interval has zero width (Lower = Upper) gets ±5 % of its
    ground truth. Official scoring then demands the dataset's exact 3-decimal value (calculator 24 of the
    train split: every row), which leaves a GRPO group almost no reward signal. A ground truth of 0 keeps
    its interval (±5 % of 0 is 0). The count is reported in a :class:`MedCalcDataWarning`."""
    from clinrl.calculators import fmt

    out, widened = [], Counter()
    for sample in samples:
        target = sample.target
        cid = int(target["calculator_id"])
        if output_kind(cid) != "decimal" or float(target["lower_limit"]) != float(target["upper_limit"]):
            out.append(sample)
            continue
        truth = float(parse_ground_truth(cid, str(target["ground_truth"])))
        if truth == 0:
            out.append(sample)
            continue
        low, high = sorted((truth * (1 - WIDEN_TOLERANCE), truth * (1 + WIDEN_TOLERANCE)))
        meta = dict(sample.metadata, interval_widened=True)
        meta.setdefault("official_target", dict(target))
        out.append(Sample(id=sample.id, prompt=sample.prompt, metadata=meta, prefill=sample.prefill,
                          target=dict(target, lower_limit=fmt(low, 6), upper_limit=fmt(high, 6))))
        widened[cid] += 1
    if widened:
        per = ", ".join(f"calculator {cid}: {n}" for cid, n in sorted(widened.items()))
        warnings.warn(f"{source} ({split}): widened {sum(widened.values())} zero-width decimal interval(s) to "
                      f"±{WIDEN_TOLERANCE:.0%} of the ground truth for training rewards (interval='widen'; {per})",
                      MedCalcDataWarning, stacklevel=3)
    return out
