"""MedCalc-Bench's published evaluator, rule for rule: the ``official`` contract.

The benchmark scores a reply in two steps (``evaluation/run.py`` ``extract_answer`` and
``evaluation/evaluate.py`` ``check_correctness`` of ncbi-nlp/MedCalc-Bench); any exception in either
step makes the row *Incorrect*. This module reproduces both steps, quirks included, without ever
running the reply as code:

1. **Locate** the last non-overlapping ``[Aa]nswer":\\s*(.*?)\\}`` of the reply (``.`` stops at a
   newline), strip whitespace then double quotes; nothing found, or a prompt placeholder, is
   ``"Not Found"``.
2. **Read** it by calculator:

   * dates (13, 68): ``M/D/YYYY`` at the very start of the text (``%m/%d/%Y`` only, extra text after it
     ignored), rewritten ``MM/DD/YYYY``;
   * gestational age (69): the first ``(W weeks, D days)``-like pair of digit runs (``"29 weeks and
     3 days"`` reads (2, 9)); the search must succeed on the raw text *and* after ``[]'"`` are
     rewritten;
   * integers: ``N out of``; else the count of a list ``a, b, c``; else the last number;
   * decimals: ``str(expression)`` evaluated with ``min``, ``pow``, ``round``, ``abs``, ``int``,
     ``float``, ``math``, ``numpy`` only (after the evaluator's text substitutions); else a number
     before ``mL/min/1.73``; else the last ``N%`` ÷ 100 (``%`` right after the digits); else the last
     number; the result is passed through ``str()``.

   Numbers are the evaluator's digit runs (any Unicode decimal digit, optional ``-``, optional
   ``.digits``): ``"1,512"`` reads 512, ``"2.47e-01"`` reads ``-01``.
3. **Check** with Python's literal rules: the value is ``eval``-uated again, so ``"03"``, a non-ASCII
   digit or ``inf`` is an error (Incorrect); integers ``round(x) == ground truth`` (half to even);
   decimals ``lower <= x <= upper`` exactly as the row's limits are written (never swapped); dates
   equal; gestational age ``(weeks, days)`` tuples equal.

Where the evaluator calls ``eval``, :mod:`clinrl.tasks.medcalc.pyexpr` reproduces the result. An
expression outside that module's subset makes the verdict ``None`` (unscored, counted), never a
guess. All scans are linear in the reply's length.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from clinrl.tasks.medcalc import pyexpr
from clinrl.tasks.medcalc.pyexpr import EvalFailed, Unsupported

DATE_IDS = frozenset({13, 68})
GESTATIONAL_AGE_IDS = frozenset({69})
INTEGER_IDS = frozenset({4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51})
DECIMAL_IDS = frozenset({2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49, 56, 57,
                         58, 59, 60, 61, 62, 63, 64, 65, 66, 67})
NOT_FOUND = "Not Found"
NOT_AVAILABLE = "N/A"
PLACEHOLDERS = frozenset({"str(short_and_direct_answer_of_the_question)", "str(value which is the answer to the question)",
                          "X.XX"})
#: the evaluator's text substitutions inside ``str(...)``, in its order
EXPRESSION_SUBSTITUTIONS = (
    ("^", "**"), ("is odd", "% 2 == 1"), ("is even", "% 2 == 0"), ("sqrt", "math.sqrt"), (".math", ""),
    ("weight", ""), ("height", ""), ("mg/dl", ""), ("g/dl", ""), ("mmol/L", ""), ("kg", ""), ("g", ""),
    ("mEq/L", ""),
)

_KEY = 'nswer":'
_SPACES = re.compile(r"\s*")
_DIGITS = re.compile(r"\d+")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DATE = re.compile(r"(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/(\d{4})")
_QUOTES = "\"'"


class _Raised(Exception):
    """The evaluator raises here (the row is Incorrect)."""


@dataclass(slots=True)
class OfficialVerdict:
    """``correct`` is ``None`` when the reply needs an expression clinrl does not reproduce."""

    correct: bool | None
    located: bool  # an "answer": … was found (the evaluator did not fall back to "Not Found")
    answer: str | None  # the evaluator's "LLM Answer" string; None when extraction raised
    explanation: str


# -- 1. locating the answer -----------------------------------------------------------------------
def locate_answer(text: str) -> str | None:
    """The evaluator's extracted answer text, or ``None`` for its ``"Not Found"``.

    Equivalent to the last item of ``re.findall(r'[Aa]nswer":\\s*(.*?)\\}', text)``, stripped, with the
    prompt placeholders refused, in one left-to-right pass (the regular expression itself is quadratic
    on adversarial replies)."""
    n, last = len(text), None
    search_from, next_brace, next_newline = 1, -2, -2
    while True:
        k = text.find(_KEY, search_from)
        if k < 0:
            break
        search_from = k + 1
        if text[k - 1] not in "Aa":
            continue
        start = _SPACES.match(text, k + len(_KEY)).end()
        if next_brace < start and next_brace != -1:
            next_brace = text.find("}", start)
        if next_newline < start and next_newline != -1:
            next_newline = text.find("\n", start)
        if next_brace >= 0 and (next_newline < 0 or next_brace < next_newline):
            last = text[start:next_brace]
            search_from = next_brace + 2  # the next match starts at or after the brace's successor
    if last is None:
        return None
    answer = last.strip().strip('"')
    return None if answer in PLACEHOLDERS else answer


# -- numbers as the evaluator's regular expressions find them -------------------------------------
def _runs(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGITS.finditer(text)]


def _signed_start(text: str, a: int, floor: int) -> int:
    return a - 1 if a - 1 >= floor and text[a - 1] == "-" else a


def _fraction_end(text: str, runs: list[tuple[int, int]], i: int) -> int:
    """End of run ``i`` extended by ``.digits`` when the next run starts right after a dot, else -1."""
    b = runs[i][1]
    if b < len(text) and text[b] == "." and i + 1 < len(runs) and runs[i + 1][0] == b + 1:
        return runs[i + 1][1]
    return -1


def number_tokens(text: str) -> list[str]:
    """``[m[0] for m in re.findall(r"(-?\\d+(\\.\\d+)?)", text)]``."""
    runs, out, pos, i = _runs(text), [], 0, 0
    while i < len(runs):
        a, b = runs[i]
        if a < pos:
            i += 1
            continue
        start, end = _signed_start(text, a, pos), b
        frac = _fraction_end(text, runs, i)
        if frac >= 0:
            end, i = frac, i + 1
        out.append(text[start:end])
        pos, i = end, i + 1
    return out


def percent_tokens(text: str) -> list[str]:
    """``[m[0] for m in re.findall(r"(-?\\d+(\\.\\d+)?)\\%", text)]``: the number must touch the ``%``."""
    runs, out, pos, i, n = _runs(text), [], 0, 0, len(text)
    while i < len(runs):
        a, b = runs[i]
        if a < pos:
            i += 1
            continue
        start = _signed_start(text, a, pos)
        if b < n and text[b] == "%":
            out.append(text[start:b])
            pos, i = b + 1, i + 1
            continue
        frac = _fraction_end(text, runs, i)
        if frac >= 0 and frac < n and text[frac] == "%":
            out.append(text[start:frac])
            pos, i = frac + 1, i + 2
            continue
        i += 1  # no match starts in this run; a fraction run is tried on its own next
    return out


def _egfr_number(text: str) -> str | None:
    """``re.search(r"(-?\\d+(\\.\\d+)?)\\s*mL/min/1.73", text).group(1)`` (``.`` any character but a newline)."""
    runs, n = _runs(text), len(text)
    for i, (a, b) in enumerate(runs):
        frac = _fraction_end(text, runs, i)
        end = frac if frac >= 0 else b
        k = _SPACES.match(text, end).end()
        if text.startswith("mL/min/1", k) and k + 8 < n and text[k + 8] != "\n" and text.startswith("73", k + 9):
            return text[_signed_start(text, a, 0):end]
    return None


def _out_of(text: str) -> str | None:
    """``re.search(r"(\\d+) out of", text).group(1)``."""
    for a, b in _runs(text):
        if text.startswith(" out of", b):
            return text[a:b]
    return None


def _list_count(text: str) -> int | None:
    """``len(re.search(r"-?\\d+(, ?-?\\d+)+", text).group(0).split(","))``."""
    runs, n = _runs(text), len(text)
    for i in range(len(runs)):
        j, count = i, 1
        while True:
            k = runs[j][1]
            if k >= n or text[k] != ",":
                break
            k += 1
            if k < n and text[k] == " ":
                k += 1
            if k < n and text[k] == "-":
                k += 1
            if j + 1 < len(runs) and runs[j + 1][0] == k:
                j, count = j + 1, count + 1
                continue
            break
        if count > 1:
            return count
    return None


def _gestational_pair(text: str) -> tuple[str, str] | None:
    """Groups 1 and 3 of the evaluator's
    ``re.search(r"\\(?[\\"']?(\\d+)\\s*(weeks?)?[\\"']?,?\\s*[\\"']?(\\d+)\\s*(days?)?[\\"']?\\s*\\)?", text)``.

    The first digit run is taken whole when a second number follows it (through optional ``weeks``,
    quotes, a comma and spaces); otherwise a run of two or more digits splits before its last digit."""
    runs, n = _runs(text), len(text)
    for a, b in runs:
        k = _SPACES.match(text, b).end()
        if text.startswith("weeks", k):
            k += 5
        elif text.startswith("week", k):
            k += 4
        if k < n and text[k] in _QUOTES:
            k += 1
        if k < n and text[k] == ",":
            k += 1
        k = _SPACES.match(text, k).end()
        if k < n and text[k] in _QUOTES:
            k += 1
        if k < n and text[k].isdecimal():
            return text[a:b], text[k:_DIGITS.match(text, k).end()]
        if b - a >= 2:
            return text[a:b - 1], text[b - 1:b]
    return None


def python_number(token: str) -> int | float:
    """``eval(token)`` for a token ``-?\\d+(\\.\\d+)?``: Python's literal rules (no leading zeros in an
    integer, ASCII digits only, at most the interpreter's integer-digit limit)."""
    if not token.isascii():
        raise _Raised(f"eval({token!r}): SyntaxError (a non-ASCII digit)")
    if "." in token:
        return float(token)
    digits = token.lstrip("-")
    if not digits.strip("0"):
        return 0
    if digits[0] == "0":
        raise _Raised(f"eval({token!r}): SyntaxError (leading zeros in an integer)")
    try:
        return int(token)
    except ValueError:  # more digits than the interpreter converts
        raise _Raised(f"eval({token!r}): SyntaxError (too many digits)") from None


# -- 2. reading the answer ------------------------------------------------------------------------
def extract(extracted: str, calculator_id: int) -> str:
    """The evaluator's ``LLM Answer`` for the located text (``"Not Found"`` when none was located).
    Raises :class:`_Raised` where the evaluator raises, :class:`Unsupported` where clinrl cannot tell."""
    if calculator_id in DATE_IDS:
        m = _DATE.match(extracted)
        return f"{int(m.group(1)):02}/{int(m.group(2)):02}/{m.group(3)}" if m else NOT_AVAILABLE
    if calculator_id in GESTATIONAL_AGE_IDS:
        if _gestational_pair(extracted) is None:
            raise _Raised("the gestational-age pattern does not match the raw answer (AttributeError)")
        rewritten = extracted.replace("[", "(").replace("]", ")").replace("'", "").replace('"', "")
        pair = _gestational_pair(rewritten)
        return f"({pair[0]}, {pair[1]})" if pair else NOT_AVAILABLE
    if calculator_id in INTEGER_IDS:
        if _PLAIN_NUMBER.fullmatch(extracted):  # the common case: the text is the number
            return extracted
        out_of = _out_of(extracted)
        if out_of is not None:
            return out_of
        count = _list_count(extracted)
        if count is not None:
            return str(count)
        tokens = number_tokens(extracted)
        return tokens[-1] if tokens else NOT_AVAILABLE
    if calculator_id in DECIMAL_IDS:
        return _extract_decimal(extracted)
    raise _Raised(f"calculator {calculator_id} is in none of the evaluator's lists")


def _extract_decimal(extracted: str) -> str:
    if _PLAIN_NUMBER.fullmatch(extracted):  # the common case: the text is the number
        return str(python_number(extracted))
    i, j = extracted.find("str("), extracted.rfind(")")
    if i >= 0 and j >= i + 4:
        expression = extracted[i + 4:j]
        for old, new in EXPRESSION_SUBSTITUTIONS:
            expression = expression.replace(old, new)
        expression = expression.split("#")[0]
        opened, closed = expression.count("("), expression.count(")")
        if opened > closed:
            expression += ")" * (opened - closed)
        elif closed > opened:
            expression = "(" * (closed - opened) + expression
        try:
            value: Any = pyexpr.evaluate(expression, pyexpr.STAGE_ONE)
        except EvalFailed:
            return NOT_AVAILABLE
        if isinstance(value, str) and value == NOT_AVAILABLE:
            return value
        try:
            return str(value)
        except ValueError as exc:  # an integer with more digits than str() writes
            raise _Raised(f"str() of the value: {exc}") from None
    egfr = _egfr_number(extracted)
    if egfr is not None:
        return str(python_number(egfr))
    percents = percent_tokens(extracted)
    if percents:
        try:
            return str(python_number(percents[-1]) / 100)
        except OverflowError as exc:
            raise _Raised(f"{percents[-1]} / 100: {exc}") from None
    tokens = number_tokens(extracted)
    return str(python_number(tokens[-1])) if tokens else NOT_AVAILABLE


# -- 3. checking it -------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _dataset_value(text: str) -> tuple[bool, Any]:
    """``(True, eval(text))`` for a ground truth or limit as the dataset writes it, ``(False, why)`` when
    ``eval`` raises."""
    try:
        return True, pyexpr.evaluate(text, pyexpr.STAGE_TWO)
    except EvalFailed as exc:
        return False, str(exc)


def _eval_dataset(text: str) -> Any:
    ok, value = _dataset_value(str(text))
    if not ok:
        raise _Raised(f"eval of the dataset value {text!r}: {value}")
    return value


def _eval_answer(answer: str) -> Any:
    """``eval(answer)`` in the check (a plain number takes the literal rules directly)."""
    if _PLAIN_NUMBER.fullmatch(answer):
        return python_number(answer)
    try:
        return pyexpr.evaluate(answer, pyexpr.STAGE_TWO)
    except EvalFailed as exc:
        raise _Raised(f"eval({answer[:60]!r}): {exc}") from None


def _compare(fn: Any, left: Any, right: Any) -> bool:
    try:
        return bool(fn(left, right))
    except Exception as exc:
        raise _Raised(f"comparison: {type(exc).__name__}: {exc}") from None


def check(answer: str, calculator_id: int, ground_truth: str, lower_limit: str, upper_limit: str) -> bool:
    """The evaluator's ``check_correctness`` (raises :class:`_Raised` where it raises)."""
    if calculator_id in DATE_IDS:
        try:
            got = dt.datetime.strptime(answer, "%m/%d/%Y")
            truth = dt.datetime.strptime(str(ground_truth), "%m/%d/%Y")
        except ValueError as exc:
            raise _Raised(f"strptime: {exc}") from None
        return got.date() == truth.date()
    if calculator_id in GESTATIONAL_AGE_IDS:
        truth_pair = _gestational_pair(str(ground_truth))
        if truth_pair is None:
            raise _Raised("the ground truth is not a gestational age")
        truth = tuple(python_number(x) for x in truth_pair)
        pair = _gestational_pair(answer)
        if pair is None:
            return False
        return tuple(python_number(x) for x in pair) == truth
    if calculator_id in INTEGER_IDS:
        value = _eval_answer(answer)
        try:
            rounded = round(value)
        except Exception as exc:
            raise _Raised(f"round({answer!r}): {type(exc).__name__}") from None
        return _compare(lambda a, b: a == b, rounded, _eval_dataset(ground_truth))
    if calculator_id in DECIMAL_IDS:
        value = _eval_answer(answer)
        low = _eval_dataset(lower_limit)
        if not _compare(lambda a, b: a >= b, value, low):
            return False
        return _compare(lambda a, b: a <= b, value, _eval_dataset(upper_limit))
    raise _Raised(f"Unknown calculator ID: {calculator_id}")


def judge(reply: str, calculator_id: int, ground_truth: Any, lower_limit: Any, upper_limit: Any) -> OfficialVerdict:
    """The evaluator's verdict on one reply (see the module docstring)."""
    located = locate_answer(reply)
    extracted = NOT_FOUND if located is None else located
    cid = int(calculator_id)
    answer: str | None = None
    try:
        answer = extract(extracted, cid)
        correct: bool | None = check(answer, cid, str(ground_truth), str(lower_limit), str(upper_limit))
        why = "correct" if correct else f"wrong (the evaluator reads {answer[:60]!r}; ground truth {ground_truth})"
    except _Raised as exc:
        correct, why = False, f"incorrect: the evaluator raises ({exc})"
    except Unsupported as exc:
        text = extracted if answer is None else answer
        correct, why = None, (f"unscored: the official evaluator would eval() {text[:80]!r}, which uses {exc} "
                              "(outside what clinrl reproduces)")
    if located is None and correct is not None:
        why = f'no "answer": … found (the evaluator reads "Not Found"); {why}'
    return OfficialVerdict(correct, located is not None, answer, why)
