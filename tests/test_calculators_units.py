"""Unit conversion: known factors, spellings from clinical notes, errors, and round-trip properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.calculators import CalculatorInputError
from clinrl.calculators.units import ANALYTES, compatible, convert, dimension, lookup

FINITE = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(("value", "src", "dst", "analyte", "expected"), [
    (1.0, "kg", "lb", None, 2.20462262),
    (154, "lbs", "kg", None, 69.85322498),
    (16, "oz", "lb", None, 1.0),
    (1, "ft", "in", None, 12.0),
    (70, "in", "cm", None, 177.8),
    (1.75, "m", "cm", None, 175.0),
    (100, "degrees fahreinheit", "degrees celsius", None, 37.7777778),
    (37, "°C", "°F", None, 98.6),
    (0, "degC", "K", None, 273.15),
    (6, "months", "years", None, 0.5),
    (1, "mg/dL", "µmol/L", "creatinine", 88.4017),  # the usual 88.4 factor
    (90, "mg/dL", "mmol/L", "glucose", 4.99556),  # 1 mmol/L = 18.016 mg/dL
    (28, "mg/dL", "mmol/L", "bun", 9.9950),  # 1 mmol/L urea = 2.8 mg/dL BUN
    (2.5, "mmol/L", "mg/dL", "calcium", 10.0195),
    (2.5, "mmol/L", "mEq/L", "calcium", 5.0),
    (4.0, "g/dL", "g/L", "albumin", 40.0),
    (1, "mg/dL", "µmol/L", "bilirubin", 17.1040),
    (5.0, "mmol/L", "mg/dL", "cholesterol", 193.325),
    (1.0, "mmol/L", "mg/dL", "triglycerides", 88.57),
    (140, "mEq/L", "mmol/L", "sodium", 140.0),
    (10, "µIU/mL", "pmol/L", "insulin", 60.0),
    (60, "bpm", "beats per minute", None, 60.0),
    (1440, "mL/day", "mL/min", None, 1.0),
    (1, "mc/kg/min", "mcg/kg/min", None, 1.0),
    (7.5, "x10^9/L", "/µL", None, 7500.0),
    (1, "kPa", "mm Hg", None, 7.500616),
])
def test_known_factors(value, src, dst, analyte, expected):
    assert convert(value, src, dst, analyte) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("spelling", ["mm Hg", "mm hg", "mmhg", "mmHg", " MMHG "])
def test_pressure_spellings(spelling):
    assert lookup(spelling).symbol == "mmHg"


@pytest.mark.parametrize("spelling", ["µmol/L", "μmol/L", "umol/L", "mcmol/L"])
def test_micro_spellings(spelling):
    assert lookup(spelling).symbol == "umol/L"


def test_unknown_unit_names_field_and_unit():
    with pytest.raises(CalculatorInputError) as err:
        convert(1.0, "furlongs", "m", field="height")
    assert err.value.field == "height" and "furlongs" in str(err.value)


def test_cross_dimension_rejected():
    with pytest.raises(CalculatorInputError, match="cannot be converted"):
        convert(1.0, "kg", "cm", field="weight")
    assert not compatible("kg", "cm")


def test_concentration_needs_analyte():
    with pytest.raises(CalculatorInputError, match="analyte"):
        convert(1.0, "mg/dL", "mmol/L")
    with pytest.raises(CalculatorInputError, match="analyte"):
        convert(1.0, "mg/dL", "mmol/L", "unobtainium")
    # creatinine has no valence: mEq/L is meaningless for it
    assert not compatible("mg/dL", "mEq/L", "creatinine")


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12", True, None])
def test_non_numbers_rejected(bad):
    with pytest.raises(CalculatorInputError):
        convert(bad, "kg", "lb", field="weight")


PAIRS = [("kg", "lb", None), ("cm", "in", None), ("degC", "degF", None), ("mg/dL", "umol/L", "creatinine"),
         ("mg/dL", "mmol/L", "glucose"), ("mg/dL", "mmol/L", "bun"), ("mg/dL", "mEq/L", "calcium"),
         ("g/dL", "g/L", "albumin"), ("uIU/mL", "pmol/L", "insulin"), ("mEq/L", "mmol/L", "bicarbonate"),
         ("mg/dL", "mmol/L", "triglycerides"), ("year", "month", None), ("mL/day", "mL/h", None)]


@settings(max_examples=60, deadline=None)
@given(x=FINITE, pair=st.sampled_from(PAIRS))
def test_round_trip(x, pair):
    src, dst, analyte = pair
    assert convert(convert(x, src, dst, analyte), dst, src, analyte) == pytest.approx(x, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(a=FINITE, b=FINITE, pair=st.sampled_from(PAIRS))
def test_monotone_increasing(a, b, pair):
    src, dst, analyte = pair
    lo, hi = sorted((a, b))
    assert convert(lo, src, dst, analyte) <= convert(hi, src, dst, analyte)


@settings(max_examples=40, deadline=None)
@given(x=FINITE, analyte=st.sampled_from(sorted(a for a, v in ANALYTES.items() if v.molar_mass)))
def test_mass_molar_consistent_through_mg_per_l(x, analyte):
    # mg/dL -> mmol/L directly equals mg/dL -> mg/L -> mmol/L
    direct = convert(x, "mg/dL", "mmol/L", analyte)
    via = convert(convert(x, "mg/dL", "mg/L", analyte), "mg/L", "mmol/L", analyte)
    assert direct == pytest.approx(via, rel=1e-12)


def test_dimensions():
    assert dimension("lbs") == "mass" and dimension("degrees celsisus") == "temperature"
    assert dimension("per day") == "frequency" and dimension("kg/m^2") == "bmi"
