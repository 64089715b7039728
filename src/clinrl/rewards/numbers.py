"""Strict extraction of a single number from a model's answer value.

Model output is never passed to Python ``eval``. Arithmetic expressions are evaluated by a tiny
AST walker that knows numbers, parentheses and + - * / ** only, in floating point (no huge
integers), with a bounded input size.

What counts as *one number* (anything else returns ``None``):

* a JSON number (booleans are not numbers);
* an ASCII decimal with optional sign, exponent and comma thousands separators (``"1,234.5"``);
* a number followed by a unit (``"25.2 mL/min"``, ``"12 points"``); unit text may not contain
  another number except the fixed ones clinical units carry (``1.73 m²``, ``10^9/L``);
* ``"N out of M"`` → N;
* ``"N%"`` → N/100 when ``percent_as_fraction`` (MedCalc-Bench's evaluator does this for
  decimal calculators), else N;
* an arithmetic expression such as ``"(140-87)*48/(72*1.4)"``.

Rejected on purpose: two numbers or a range (``"5-10"``, ``"5 to 10"``, ``"5, 6"``), non-ASCII
digits (``"٥"``), NaN / infinities, function calls and names, and anything longer than 200 chars.
"""

from __future__ import annotations

import ast
import math
import re

MAX_NUMBER_TEXT = 200

_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?|[+-]?\.\d+"
_PLAIN_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_NUMBER_RE = re.compile(rf"^\s*({_NUMBER})(.*)$", re.DOTALL)
_OUT_OF_RE = re.compile(r"^\s*(\d+)\s+out\s+of\s+(\d+)\s*(?:points?)?\s*\.?\s*$", re.IGNORECASE)
# Fixed numbers that belong to units, removed before checking that the unit has no other number.
_UNIT_NUMBERS_RE = re.compile(
    r"1\.73\s*m(?:\^?2|²)|10\s*\^\s*\d+|10\*\*\d+|10[³⁶⁹]|m\^?[23]|m[²³]|cm\^?[23]|kg/m\^?2|x\s*10\^\d+"
)
_UNIT_RE = re.compile(r"^[\sA-Za-zµμ°%/²³.^()*·'\-]{0,48}$")
_RANGE_WORDS_RE = re.compile(r"(?:^|\s)(?:to|or|and|between|vs|versus|plus|minus)(?:\s|$)", re.IGNORECASE)
_RANGE_RE = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?\s*[-–—]\s*\d+(?:\.\d+)?\s*$")
_EXPR_CHARS_RE = re.compile(r"^[\d\s.+\-*/()eE]+$")


class _Unsafe(ValueError):
    pass


def _eval_node(node: ast.AST, depth: int = 0) -> float:
    if depth > 32:
        raise _Unsafe("expression nested too deeply")
    if isinstance(node, ast.Expression):
        return _eval_node(node.body, depth + 1)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _eval_node(node.operand, depth + 1)
        return value if isinstance(node.op, ast.UAdd) else -value
    if isinstance(node, ast.BinOp):
        left = _eval_node(node.left, depth + 1)
        right = _eval_node(node.right, depth + 1)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            if right == 0:
                raise _Unsafe("division by zero")
            return left / right
        if isinstance(op, ast.Pow):
            if abs(right) > 64 or abs(left) > 1e6:
                raise _Unsafe("exponent too large")
            return left ** right
    raise _Unsafe(f"{type(node).__name__} is not allowed in an answer")


def safe_arithmetic(text: str) -> float | None:
    """Evaluate ``+ - * / **`` over ASCII decimal numbers; ``None`` if not such an expression."""
    if len(text) > MAX_NUMBER_TEXT or not _EXPR_CHARS_RE.match(text):
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
        value = _eval_node(tree)
    except (SyntaxError, _Unsafe, OverflowError, ZeroDivisionError, ValueError, MemoryError):
        return None
    if isinstance(value, complex) or not math.isfinite(value):
        return None
    return value


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def parse_number(value: object, *, percent_as_fraction: bool = False) -> float | None:
    """Return the single number an answer value states, or ``None`` (see the module docstring)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return _finite(float(value))
        except OverflowError:
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) <= MAX_NUMBER_TEXT and _PLAIN_DECIMAL_RE.fullmatch(text):  # the common case, without the unit machinery
        return _finite(float(text))
    if not text or len(text) > MAX_NUMBER_TEXT or not text.isascii():
        # non-ASCII digits (Arabic-Indic, full-width, superscripts) are never read as numbers,
        # but a unit such as "µmol/L" or "m²" may be non-ASCII: allow those characters only.
        if not text or len(text) > MAX_NUMBER_TEXT:
            return None
        if any(ch.isdigit() and not ch.isascii() and ch not in "²³" for ch in text):
            return None
        if any(not ch.isascii() and ch not in "µμ°²³·–—" for ch in text):
            return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()

    match = _OUT_OF_RE.match(text)
    if match:
        return float(match.group(1))
    if _RANGE_RE.match(text):
        return None

    match = _NUMBER_RE.match(text)
    if match:
        number_text, rest = match.group(1), match.group(2)
        rest_clean = _UNIT_NUMBERS_RE.sub("", rest)
        if not any(ch.isdigit() for ch in rest_clean):
            stripped = rest.strip()
            if stripped.startswith("%"):
                if stripped[1:].strip(" .") != "":
                    return None
                number = float(number_text.replace(",", ""))
                return _finite(number / 100.0 if percent_as_fraction else number)
            if _UNIT_RE.match(rest_clean) and not _RANGE_WORDS_RE.search(rest_clean):
                if "," in number_text and not re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", number_text):
                    return None
                try:
                    return _finite(float(number_text.replace(",", "")))
                except (ValueError, OverflowError):
                    return None
    # Not "number [unit]": perhaps an arithmetic expression (with at least one operator that is
    # not a bare "a-b", which reads as a range).
    return safe_arithmetic(text)


_ALL_NUMBERS_RE = re.compile(r"(-?\d+(?:\.\d+)?)")


def last_number_lenient(text: str) -> float | None:
    """MedCalc-Bench's lenient rule: the last number in the text (used by the MedCalc ``lenient`` contract only)."""
    if not isinstance(text, str):
        return None
    found = _ALL_NUMBERS_RE.findall(text[-MAX_NUMBER_TEXT * 10:])
    if not found:
        return None
    try:
        return _finite(float(found[-1]))
    except (ValueError, OverflowError):
        return None
