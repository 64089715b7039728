"""Synthetic MedCalc-Bench rows: seeded patient notes whose labels come from clinrl's calculators.

Each row is built from ``random.Random(seed + index)`` alone, so row ``i`` of a data set does not
depend on how many rows come before it and the same ``(seed, n, calculators, difficulty)`` always
gives byte-identical files. A row:

1. samples the calculator's MedCalc-Bench ``Relevant Entities`` (plausible clinical ranges, optional
   alternative units; :mod:`clinrl.tasks.medcalc.notes`),
2. writes a patient note that states exactly those values (phrasing, sentence order, units and
   distractor findings vary with the difficulty),
3. asks :func:`clinrl.calculators.compute` for the answer and its step-by-step explanation,
4. emits the 14 MedCalc-Bench columns (bounds ±5 % for decimal calculators, equal to the answer
   otherwise), so :class:`~clinrl.tasks.medcalc.MedCalcTask` loads it like real data.

Difficulty levels (``difficulty=``):

``template``   one short sentence per finding in a fixed order, canonical units, no distractors (the
               style of MedCalc-Bench's template notes);
``simple``     an opening line plus the findings in shuffled order, canonical units, no distractors;
``narrative``  a short case narrative: grouped vital signs and labs, 1–3 irrelevant findings,
               a quarter of the quantities in an alternative unit;
``noisy``      a narrative with 3–6 irrelevant findings (labs mixed into the lab sentence), most
               quantities in alternative units, absent findings often left unstated;
``mixed``      each row picks one of the four levels above.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from clinrl.tasks.medcalc.notes import (
    COMPLAINTS, SETTINGS, Choice, Count, Finding, Flag, Quantity, distractor_sentences, fmt_number,
    render_findings, spec_for,
)
from clinrl.tasks.medcalc.catalog import (
    CALCULATOR_KEYS, OPIOIDS, OPTIONAL_KEYS, OVERRIDES, PREGNANCY_CALCULATORS, QUESTIONS, STEROIDS,
)
from clinrl.tasks.medcalc.labels import format_answer
from clinrl.errors import ConfigError
from clinrl.settings import setting

DIFFICULTIES = ("template", "simple", "narrative", "noisy")
DIFFICULTY_CHOICES = (*DIFFICULTIES, "mixed")
#: probability that a quantity is written in an alternative unit, per difficulty
ALT_UNIT_RATE = {"template": 0.0, "simple": 0.0, "narrative": 0.25, "noisy": 0.6}
#: (min, max) irrelevant findings per difficulty
DISTRACTORS = {"template": (0, 0), "simple": (0, 0), "narrative": (1, 3), "noisy": (3, 6)}
#: probability that an absent finding is stated ("no history of …") rather than left unsaid
STATE_NEGATIVE_RATE = {"template": 1.0, "simple": 0.9, "narrative": 0.7, "noisy": 0.4}
MAX_ATTEMPTS = 50

COLUMNS = (
    "Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
    "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
    "Ground Truth Explanation",
)

#: the first calculators the generator was built for (simple formulas, always computable)
STARTER_CALCULATORS = (6, 5, 39, 10, 60, 11)
def supported_calculators() -> list[int]:
    """Calculator ids the generator can write rows for (registered in :mod:`clinrl.calculators`)."""
    from clinrl.calculators import list_calculators

    registered = {c.id for c in list_calculators()}
    return sorted(cid for cid in CALCULATOR_KEYS if cid in registered and cid in QUESTIONS)


def parse_calculators(spec: str | Iterable[int | str] | None) -> list[int]:
    """``None`` / ``"all"`` → every supported calculator; ``"6,5,39"`` or ``[6, 5, 39]`` → those ids
    (order kept, duplicates dropped). Slugs are accepted too."""
    supported = supported_calculators()
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all")):
        return supported
    items = spec.replace(";", ",").split(",") if isinstance(spec, str) else list(spec)
    from clinrl.calculators import get_calculator

    out: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            cid = get_calculator(int(text) if text.isdigit() else text).id
        except Exception as exc:
            raise ConfigError(f"calculators: {exc}") from None
        if cid not in supported:
            raise ConfigError(f"calculators: the synthetic generator does not support calculator {cid} yet; "
                              f"supported: {', '.join(map(str, supported))}")
        if cid not in out:
            out.append(cid)
    if not out:
        raise ConfigError("calculators: no calculator given")
    return out


# -- sampling -------------------------------------------------------------------------------------
def _sample_quantity(spec: Quantity, rng: random.Random, alt_rate: float) -> tuple[list[Any], str]:
    base = spec.sample(rng)
    if spec.alts and rng.random() < alt_rate:
        alt = rng.choice(spec.alts)
        value = round(alt.convert(base), alt.decimals)
        return [value, alt.unit], f"{fmt_number(value, alt.decimals)} {alt.spoken or alt.unit}"
    return [base, spec.unit], f"{fmt_number(base, spec.decimals)} {spec.spoken or spec.unit}"


def _sample_findings(cid: int, rng: random.Random, difficulty: str) -> list[Finding]:
    overrides = OVERRIDES.get(cid, {})
    overrides_or_none = overrides or None
    n_flags = sum(isinstance(spec_for(k, overrides_or_none), Flag) for k in CALCULATOR_KEYS[cid]) or 1
    # per row, about 0.5 to 5 findings present (at most 60 % of them), so scores spread over their range
    flag_rate = min(0.6, rng.uniform(0.5, 5.0) / n_flags)
    optional = OPTIONAL_KEYS.get(cid, frozenset())
    findings = []
    for key in CALCULATOR_KEYS[cid]:
        if key in optional and rng.random() < 0.6:
            continue
        spec = spec_for(key, overrides)
        if isinstance(spec, Quantity):
            value, text = _sample_quantity(spec, rng, ALT_UNIT_RATE[difficulty])
        elif isinstance(spec, Count):
            value = spec.sample(rng)
            text = fmt_number(value, spec.decimals)
        elif isinstance(spec, Choice):
            labels = [o[0] for o in spec.options]
            value = rng.choices(labels, weights=spec.weights or None)[0]
            text = ""
        else:
            value, text = rng.random() < flag_rate, ""
        findings.append(Finding(key, spec, value, text))
    _make_consistent(cid, findings, rng)
    return findings


def _make_consistent(cid: int, findings: list[Finding], rng: random.Random) -> None:
    """Clinical coherence between sampled values (diastolic below systolic, implied flags)."""
    by_key = {f.key: f for f in findings}
    sbp, dbp = by_key.get("Systolic Blood Pressure"), by_key.get("Diastolic Blood Pressure")
    if sbp and dbp and dbp.value[0] > sbp.value[0] - 20:
        value = float(round(sbp.value[0] * rng.uniform(0.45, 0.7)))
        dbp.value, dbp.text = [value, dbp.value[1]], f"{fmt_number(value, 0)} {dbp.text.split(' ', 1)[1]}"
    if cid == 16 and by_key["Major surgery within 12 weeks"].value:
        by_key["Bedridden recently >3 days or major surgery within 12 weeks"].value = True
    if cid == 17:  # the dataset carries the same finding under two keys: keep them equal
        by_key["Cerebrovascular disease history"].value = by_key["History of cerebrovascular disease"].value


def _entities(findings: list[Finding]) -> dict[str, Any]:
    return {f.key: f.value for f in findings}


def _random_date(rng: random.Random, first_year: int = 2000, last_year: int = 2025) -> dt.date:
    start = dt.date(first_year, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randint(start, dt.date(last_year, 12, 31).toordinal()))


def _structured(cid: int, rng: random.Random, difficulty: str, pronoun: str = "She"
                ) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Entities, note sentences and question fields for the calculators whose inputs are not findings."""
    narrative = difficulty != "template"
    if cid in PREGNANCY_CALCULATORS:
        lmp = _random_date(rng)
        sentences = [rng.choice((f"Her last menstrual period began on {lmp:%m/%d/%Y}.",
                                 f"The patient's last menstrual period was on {lmp:%m/%d/%Y}."))
                     if narrative else f"The patient's last menstrual period was on {lmp:%m/%d/%Y}."]
        if cid == 69:
            today = lmp + dt.timedelta(days=rng.randint(3, 290))
            sentences.append(f"Today's date is {today:%m/%d/%Y}.")
            return {"Current Date": f"{today:%m/%d/%Y}", "Last menstrual date": f"{lmp:%m/%d/%Y}"}, sentences, {}
        cycle = rng.randint(21, 35)
        sentences.append(rng.choice((f"Her cycles are regular, every {cycle} days.",
                                     f"Her cycle length is {cycle} days."))
                         if narrative else f"Her cycle length is {cycle} days.")
        return {"cycle length": cycle, "Last menstrual date": f"{lmp:%m/%d/%Y}"}, sentences, {}
    if cid == 24:
        source, target = rng.sample(sorted(STEROIDS), 2)
        low, high, decimals = STEROIDS[source]
        dose = round(rng.uniform(low, high), decimals)
        text = fmt_number(dose, decimals)
        sentence = (rng.choice((f"{pronoun} has been taking {text} mg of {source} daily.",
                                f"The current regimen is {source} {text} mg."))
                    if narrative else f"Patient has taken {text} mg of {source}.")
        return ({"input steroid": [source, dose, "mg"], "target steroid": target}, [sentence],
                {"source": source, "target": target})
    if cid == 49:
        drugs = rng.sample(sorted(OPIOIDS), rng.randint(1, 3))
        entities: dict[str, Any] = {}
        parts = []
        for drug in drugs:
            unit, doses = OPIOIDS[drug]
            dose, per_day = rng.choice(doses), rng.randint(1, 4)
            entities[f"{drug} Dose"] = [dose, unit]
            entities[f"{drug} Dose Per Day"] = [per_day, "per day"]
            parts.append(f"{dose} {unit} of {drug} {per_day} time{'s' if per_day > 1 else ''} a day")
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]
        return entities, [f"The patient takes {joined}."], {}
    raise ConfigError(f"calculator {cid} has no structured sampler")


STRUCTURED = frozenset({13, 24, 49, 68, 69})


# -- notes and rows -------------------------------------------------------------------------------
def _note(cid: int, rng: random.Random, difficulty: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """``(patient note, Relevant Entities, question fields)`` for one row."""
    if cid in STRUCTURED:
        sex = "Female" if cid in PREGNANCY_CALCULATORS else rng.choice(("Male", "Female"))
        entities, body, qfields = _structured(cid, rng, difficulty, "He" if sex == "Male" else "She")
        findings: list[Finding] = []
    else:
        findings = _sample_findings(cid, rng, difficulty)
        entities, body, qfields = _entities(findings), [], {}
    by_key = {f.key: f for f in findings}
    if cid not in STRUCTURED:
        sex = by_key["sex"].value if "sex" in by_key else rng.choice(("Male", "Female"))
    age_is_key = "age" in by_key
    age = int(by_key["age"].value[0]) if age_is_key else rng.randint(19, 44 if sex == "Female" else 85)
    weight = by_key.get("weight")
    if weight is not None and not age_is_key and weight.value[1] == "kg" and weight.value[0] < 40:
        age = max(1, int(weight.value[0] // 3))  # a child's weight: make the opening line a child's
    rest = [f for f in findings if f.key not in ("age", "sex")]
    if difficulty == "template":
        lead = []
        if age_is_key or "sex" in by_key:
            lead.append(f"The patient is a {age}-year-old {sex.lower()}.")
        sentences = render_findings(rest, rng, difficulty="template", subject="The patient",
                                    state_negative_rate=1.0, distractor_labs=[])
        return " ".join(lead + sentences + body), entities, qfields
    pronoun = "He" if sex == "Male" else "She"
    person = ("man" if sex == "Male" else "woman") if age >= 18 else ("boy" if sex == "Male" else "girl")
    intro = (f"A {age}-year-old {person} presented to {rng.choice(SETTINGS)} with {rng.choice(COMPLAINTS)}."
             if cid not in PREGNANCY_CALCULATORS else
             f"A {age}-year-old woman comes to the {rng.choice(('obstetric', 'antenatal', 'family medicine'))} "
             "clinic for a pregnancy assessment.")
    low, high = DISTRACTORS[difficulty]
    extra, extra_labs = distractor_sentences(rng, rng.randint(low, high), pronoun)
    sentences = render_findings(rest, rng, difficulty=difficulty, subject=pronoun,
                                state_negative_rate=STATE_NEGATIVE_RATE[difficulty], distractor_labs=extra_labs)
    middle = sentences + body + extra
    rng.shuffle(middle)
    return " ".join([intro, *middle]), entities, qfields


def generate_row(calculator_id: int, index: int, *, seed: int = 0, difficulty: str = "mixed") -> dict[str, Any]:
    """Row ``index`` of a data set: depends only on ``(calculator_id, index, seed, difficulty)``."""
    from clinrl.calculators import CalculatorInputError, compute, get_calculator
    from clinrl.calculators.entities import inputs_from_relevant_entities

    if difficulty not in DIFFICULTY_CHOICES:
        raise ConfigError(f"unknown difficulty {difficulty!r}; choose one of {', '.join(DIFFICULTY_CHOICES)}")
    rng = random.Random(seed + index)
    level = rng.choice(DIFFICULTIES) if difficulty == "mixed" else difficulty
    calculator = get_calculator(calculator_id)
    last_error: Exception | None = None
    for _ in range(MAX_ATTEMPTS):  # a sample the formula cannot use (e.g. division by zero) is redrawn
        note, entities, qfields = _note(calculator.id, rng, level)
        try:
            result = compute(calculator.id, inputs_from_relevant_entities(calculator.id, entities))
        except CalculatorInputError as exc:
            last_error = exc
            continue
        truth, lower, upper = format_answer(result)
        return {
            "Row Number": index + 1,
            "Calculator ID": calculator.id,
            "Calculator Name": calculator.name,
            "Category": calculator.category,
            "Output Type": "date" if result.output_kind == "date" else (
                "decimal" if result.output_kind == "decimal" else "integer"),
            "Note ID": f"synthetic-s{seed}-i{index}",
            "Note Type": f"Synthetic {level}",
            "Patient Note": note,
            "Question": QUESTIONS[calculator.id].format(**qfields),
            "Relevant Entities": repr(entities),
            "Ground Truth Answer": truth,
            "Lower Limit": lower,
            "Upper Limit": upper,
            "Ground Truth Explanation": result.explanation,
        }
    raise ConfigError(f"calculator {calculator.id}: no computable sample in {MAX_ATTEMPTS} draws "
                      f"(seed {seed}, row {index}); last error: {last_error}")


def generate_rows(n: int, *, calculators: str | Sequence[int | str] | None = None, seed: int = 0,
                  difficulty: str = "mixed", progress: bool = False) -> list[dict[str, Any]]:
    """``n`` rows cycling through ``calculators`` (row ``i`` uses calculator ``i mod k``)."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    ids = parse_calculators(calculators)
    if progress:
        from rich.progress import track

        indices: Iterable[int] = track(range(n), description="synthesising MedCalc rows")
    else:
        indices = range(n)
    return [generate_row(ids[i % len(ids)], i, seed=seed, difficulty=difficulty) for i in indices]


OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")


def write_rows(rows: Sequence[dict[str, Any]], path: str) -> None:
    """Write rows as ``.csv``, ``.jsonl`` or ``.parquet`` (chosen by the suffix); deterministic bytes.

    The file is written as ``PATH.partial`` and renamed when complete (:mod:`clinrl.data.atomic`), so an
    interrupted write never leaves a shorter file that loads as if it were whole."""
    from pathlib import Path

    from clinrl.data.atomic import atomic_file

    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"unsupported output type {suffix!r} for {out}; use .csv, .jsonl or .parquet")
    with atomic_file(out) as partial:
        _write_rows(rows, partial, suffix)


def _write_rows(rows: Sequence[dict[str, Any]], out: Any, suffix: str) -> None:
    import csv
    import json

    if suffix == ".csv":
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif suffix == ".parquet":
        from clinrl.errors import require

        pa = require("pyarrow", "data")
        pq = require("pyarrow.parquet", "data")
        table = pa.table({c: [str(r[c]) for r in rows] for c in COLUMNS})
        pq.write_table(table, out)


# -- the task's "synthetic" source ------------------------------------------------------------------
SYNTHETIC_PREFIX = "synthetic"
DEFAULT_SYNTHETIC_N = 1000


@dataclass
class SynthConfig:
    """Options of MedCalc's ``synthetic[:key=value;...]`` source."""

    calculators: str | None = setting(None, "Comma-separated calculator ids or slugs, or 'all' (default: all).")
    n: int = setting(DEFAULT_SYNTHETIC_N, "Rows per split.")
    seed: int | None = setting(None, "Seed (default: load's seed); each split shifts it (tasks.source.split_seed).")
    difficulty: str = setting("mixed", "template | simple | narrative | noisy | mixed.")

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTY_CHOICES:
            raise ConfigError(f"difficulty must be one of {', '.join(DIFFICULTY_CHOICES)}, got {self.difficulty!r}")


def is_synthetic_source(source: str | None) -> bool:
    return bool(source) and (source == SYNTHETIC_PREFIX or str(source).startswith(SYNTHETIC_PREFIX + ":"))


def parse_synthetic_source(source: str, *, seed: int = 0) -> dict[str, Any]:
    """Options of a ``synthetic[:key=value;...]`` source for ``MedCalcTask.load``.

    Keys: ``calculators`` (comma-separated ids or slugs, or ``all``; default all),
    ``n`` (rows; default 1000), ``seed`` (default: ``load``'s ``seed``),
    ``difficulty`` (template | simple | narrative | noisy | mixed; default mixed).
    Example: ``synthetic:calculators=6,5,39;n=500;seed=0;difficulty=narrative``.
    """
    from dataclasses import asdict

    from clinrl.tasks.source import synth_config

    options = asdict(synth_config(SynthConfig, source))
    options["seed"] = seed if options["seed"] is None else options["seed"]
    options["calculators"] = parse_calculators(options["calculators"])
    return options


def synthetic_rows_for_split(source: str, split: str, *, seed: int = 0, limit: int | None = None,
                             progress: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(options, rows)`` for a synthetic source and split (the split shifts the seed)."""
    options = parse_synthetic_source(source, seed=seed)
    n = options["n"] if limit is None else min(options["n"], limit)
    from clinrl.tasks.source import split_seed

    rows = generate_rows(n, calculators=options["calculators"], seed=split_seed(options["seed"], split.lower()),
                         difficulty=options["difficulty"], progress=progress)
    return options, rows
