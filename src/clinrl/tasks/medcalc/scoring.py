"""MedCalc-Bench scoring rules for clinrl's own contracts (``ehrmind`` and ``lenient``).

* calculators 13 (estimated due date) and 68 (estimated date of conception): the same calendar date;
* calculator 69 (gestational age): exact ``(weeks, days)``;
* integer calculators: ``round(x) == ground truth``;
* every other (decimal) calculator: ``lower_limit <= x <= upper_limit`` (the row's ±5 % bounds).

Answer values are read strictly by :mod:`clinrl.rewards.numbers` (one number, never ``eval``) in
the ``ehrmind`` contract. The ``lenient`` contract locates the answer the way MedCalc-Bench's
evaluator does (the last ``"answer": …`` in the reply) and then reads it generously: the strict
reading first, then the evaluator's fallbacks (last number in the string, ``N out of M``, ``%`` ÷ 100
for decimals, a ``str(...)`` arithmetic expression). The ``official`` contract is the evaluator
itself, quirks included: :mod:`clinrl.tasks.medcalc.official`.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from functools import lru_cache
from typing import Any, Mapping

from clinrl.rewards.numbers import last_number_lenient, parse_number, safe_arithmetic

DATE_CALCULATORS = frozenset({13, 68})
GESTATIONAL_AGE_CALCULATORS = frozenset({69})
INTEGER_CALCULATORS = frozenset({4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51})


def output_kind(calculator_id: int) -> str:
    """``date`` | ``gestational_age`` | ``integer`` | ``decimal`` per the official rules."""
    if calculator_id in DATE_CALCULATORS:
        return "date"
    if calculator_id in GESTATIONAL_AGE_CALCULATORS:
        return "gestational_age"
    if calculator_id in INTEGER_CALCULATORS:
        return "integer"
    return "decimal"


_US_DATE_RE = re.compile(r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d{4})$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US_DATE_PREFIX_RE = re.compile(r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d{4})")


def parse_date(value: Any, *, lenient: bool = False) -> dt.date | None:
    """``MM/DD/YYYY`` (or ISO ``YYYY-MM-DD``); ``lenient`` only requires the date at the start."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("\"'").strip()
    if not text.isascii():
        return None
    try:
        m = (_US_DATE_PREFIX_RE.match(text) if lenient else _US_DATE_RE.match(text))
        if m:
            return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        m = _ISO_DATE_RE.match(text)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return None


_GA_TEXT_RE = re.compile(
    r"^\(?\s*['\"]?\s*(\d{1,2})\s*weeks?\s*['\"]?\s*(?:,|and)?\s*['\"]?\s*(\d)\s*days?\s*['\"]?\s*\)?$",
    re.IGNORECASE,
)
_GA_OFFICIAL_RE = re.compile(r"\(?[\"']?(\d+)\s*(weeks?)?[\"']?,?\s*[\"']?(\d+)\s*(days?)?[\"']?\s*\)?")


def parse_gestational_age(value: Any, *, lenient: bool = False) -> tuple[int, int] | None:
    """``(weeks, days)`` from ``"(4 weeks, 3 days)"``, ``["4 weeks", "3 days"]``, ``[4, 3]`` or
    ``{"weeks": 4, "days": 3}``."""
    if isinstance(value, dict):
        if set(value) != {"weeks", "days"}:
            return None
        w, d = value["weeks"], value["days"]
        if type(w) is int and type(d) is int and 0 <= d <= 6 and w >= 0:
            return (w, d)
        return None
    if isinstance(value, list):
        if len(value) != 2:
            return None
        parts = []
        for item, unit in zip(value, ("week", "day")):
            if type(item) is int:
                parts.append(item)
            elif isinstance(item, str) and item.isascii():
                m = re.fullmatch(rf"\s*(\d+)\s*(?:{unit}s?)?\s*", item, re.IGNORECASE)
                if not m:
                    return None
                parts.append(int(m.group(1)))
            else:
                return None
        return (parts[0], parts[1]) if 0 <= parts[1] <= 6 else None
    if not isinstance(value, str) or not value.isascii():
        return None
    text = value.strip()
    m = _GA_TEXT_RE.match(text)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    if lenient:
        m = _GA_OFFICIAL_RE.search(text)
        if m:
            return (int(m.group(1)), int(m.group(3)))
    return None


@lru_cache(maxsize=65536)
def parse_ground_truth(calculator_id: int, ground_truth: str) -> Any:
    """The row's ground truth as a comparable value (date, (weeks, days), int or float)."""
    kind = output_kind(calculator_id)
    text = str(ground_truth).strip()
    if kind == "date":
        value = parse_date(text)
    elif kind == "gestational_age":
        try:
            literal = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            literal = text
        value = parse_gestational_age(list(literal) if isinstance(literal, tuple) else literal)
    elif kind == "integer":
        number = parse_number(text)
        value = int(round(number)) if number is not None else None
    else:
        value = parse_number(text)
    if value is None:
        raise ValueError(f"ground truth {ground_truth!r} is not a valid {kind} answer")
    return value


def check_value(calculator_id: int, answer: Any, target: Mapping[str, Any], *, lenient: bool = False) -> tuple[bool, Any]:
    """Return ``(correct, extracted)`` for an answer value. ``extracted`` is ``None`` if unreadable."""
    kind = output_kind(calculator_id)
    gt = parse_ground_truth(calculator_id, str(target["ground_truth"]))
    if kind == "date":
        got = parse_date(answer, lenient=lenient)
        return (got is not None and got == gt, got.strftime("%m/%d/%Y") if got else None)
    if kind == "gestational_age":
        got = parse_gestational_age(answer, lenient=lenient)
        return (got is not None and got == gt, list(got) if got else None)
    if kind == "integer":
        x = _read_number(answer, lenient=lenient, integer=True)
        return (x is not None and round(x) == gt, x)
    x = _read_number(answer, lenient=lenient, integer=False)
    lower, upper = float(target["lower_limit"]), float(target["upper_limit"])
    lo, hi = min(lower, upper), max(lower, upper)
    return (x is not None and lo <= x <= hi, x)


_OUT_OF_RE = re.compile(r"(\d+) out of")
_LIST_RE = re.compile(r"-?\d+(?:, ?-?\d+)+")
_STR_EXPR_RE = re.compile(r"str\((.*)\)")
_PERCENT_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*%")


def _read_number(answer: Any, *, lenient: bool, integer: bool) -> float | None:
    strict = parse_number(answer, percent_as_fraction=not integer)
    if strict is not None or not lenient:
        return strict
    if not isinstance(answer, str):
        return None
    # MedCalc-Bench evaluator's fallbacks, in its order.
    if integer:
        m = _OUT_OF_RE.search(answer)
        if m:
            return float(m.group(1))
        m = _LIST_RE.search(answer)
        if m:
            return float(len(m.group(0).split(",")))
        return last_number_lenient(answer)
    m = _STR_EXPR_RE.search(answer)
    if m:
        return safe_arithmetic(m.group(1))
    if "%" in answer:
        m = _PERCENT_RE.search(answer)
        return float(m.group(1)) / 100.0 if m else None
    return last_number_lenient(answer)


def locate_official_answer(text: str) -> str | None:
    """The text after the last ``"answer":`` of a reply up to the closing ``}``, exactly as MedCalc-Bench's
    evaluator locates it (``None`` for its "Not Found"); see :func:`clinrl.tasks.medcalc.official.locate_answer`."""
    from clinrl.tasks.medcalc.official import locate_answer

    return locate_answer(text)
