"""Reading one number from an answer value: strict, safe, never eval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from clinrl.rewards.numbers import last_number_lenient, parse_number, safe_arithmetic


@pytest.mark.parametrize("value, expected", [
    (5, 5.0), (2.5, 2.5), ("5", 5.0), ("-3.25", -3.25), ("+4", 4.0), (".5", 0.5),
    ("1,234.5", 1234.5), ("12,345", 12345.0), ("1e3", 1000.0),
    ("25.2 mL/min", 25.2), ("72 mL/min/1.73 m²", 72.0), ("72 mL/min/1.73m2", 72.0),
    ("4.5 x 10^9/L", 4.5), ("12 points", 12.0), ("37.5 °C", 37.5), ("140 mEq/L", 140.0),
    ("3 out of 10", 3.0), ("3 out of 10 points", 3.0),
    ("'5.5'", 5.5), ("\"5.5\"", 5.5),
    ("(140-87)*48/(72*1.4)", (140 - 87) * 48 / (72 * 1.4)), ("2**3", 8.0), ("-(2+3)", -5.0),
    ("10/4", 2.5),
])
def test_accepted(value, expected):
    assert parse_number(value) == pytest.approx(expected)


def test_percent():
    assert parse_number("25%", percent_as_fraction=True) == pytest.approx(0.25)
    assert parse_number("25 %") == pytest.approx(25.0)
    assert parse_number("25% of normal", percent_as_fraction=True) is None


@pytest.mark.parametrize("value", [
    None, True, False, [], [5], {"value": 5}, "", "   ", "abc", "five",
    "5-10", "5 - 10", "5–10", "5 to 10", "5 or 6", "5, 6", "5 and 6", "between 5 and 6", "5/6 or 7",
    "5 6", "about 5", "~5", "≈5",
    "٥", "５", "5٥", "²", "𝟓",
    "__import__('os').system('echo hi')", "abs(-5)", "max(5, 6)", "len('x')", "5 if True else 6",
    "x", "1_000", "0x10", "9**9**9", "10**400", "1e400", "1/0", "nan", "inf", "-inf",
    "1,23", "1,2345", float("nan"), float("inf"),
    "(" * 300 + "1" + ")" * 300,
    "5" * 250,
])
def test_rejected(value):
    assert parse_number(value) is None


def test_safe_arithmetic_has_no_names():
    assert safe_arithmetic("().__class__") is None
    assert safe_arithmetic("1+") is None
    assert safe_arithmetic("2*(3+4)") == 14.0


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_number_roundtrip(x):
    assert parse_number(repr(x)) == pytest.approx(x)
    assert parse_number(x) == x


@given(st.integers(min_value=0, max_value=10**9))
def test_thousands_separators(n):
    assert parse_number(f"{n:,}") == float(n)


@given(st.text(max_size=60))
def test_never_crashes_and_always_finite(text):
    value = parse_number(text)
    assert value is None or math.isfinite(value)


def test_last_number_lenient_is_the_benchmark_rule():
    assert last_number_lenient("between 5 and 10") == 10.0
    assert last_number_lenient("no number") is None
