"""Unit conversion for calculator inputs.

Every unit belongs to a *dimension* (mass, length, temperature, time, volume, pressure, frequency,
flow, dose rate, mass / molar / equivalent / activity concentration, count concentration, percent).
Within a dimension a unit is a factor to the dimension's base unit (temperature is affine).
Concentrations cross between mass, molar, equivalent and activity forms only for a named *analyte*,
through its molar mass, its valence or its activity-to-molar factor (table ``ANALYTES``).

Unit strings are read leniently because clinical notes and MedCalc-Bench's ``Relevant Entities``
spell them many ways ("mm hg", "mmHg", "µmol/L", "umol/L", "degrees celsisus", "lbs"). An unknown
spelling is never guessed: it raises :class:`~clinrl.calculators.errors.CalculatorInputError` naming the
field and the unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from clinrl.calculators.errors import CalculatorInputError


@dataclass(frozen=True)
class Unit:
    symbol: str  # canonical spelling
    dimension: str
    factor: float  # value_in_base = value * factor + offset
    offset: float = 0.0


_UNITS: dict[str, Unit] = {}
_ALIASES: dict[str, str] = {}


def _unit(symbol: str, dimension: str, factor: float, *aliases: str, offset: float = 0.0) -> None:
    _UNITS[symbol] = Unit(symbol, dimension, factor, offset)
    for spelling in (symbol, *aliases):
        _ALIASES[_normalise(spelling)] = symbol


def _normalise(unit: str) -> str:
    text = unit.strip().casefold()
    text = text.replace("\u00b5", "u").replace("\u03bc", "u")  # micro sign, Greek mu
    text = text.replace("\u00b2", "2").replace("\u00b3", "3").replace("^", "")
    text = text.replace("\u00b0", "deg").replace("per ", "/")
    text = re.sub(r"\s+", "", text)
    text = text.replace("mcg", "ug").replace("mcmol", "umol").replace("/mcl", "/ul")
    text = re.sub(r"^mc/", "ug/", text)  # the typo "mc/kg/min"
    return text


# --- units (base unit first in each dimension) ------------------------------------------------------
_unit("g", "mass", 1.0, "gram", "grams", "gm")
_unit("kg", "mass", 1000.0, "kilogram", "kilograms", "kgs")
_unit("mg", "mass", 1e-3, "milligram", "milligrams")
_unit("ug", "mass", 1e-6, "microgram", "micrograms")
_unit("lb", "mass", 453.59237, "lbs", "pound", "pounds")
_unit("oz", "mass", 28.349523125, "ounce", "ounces")

_unit("m", "length", 1.0, "meter", "meters", "metre", "metres")
_unit("cm", "length", 0.01, "centimeter", "centimeters", "centimetre", "centimetres")
_unit("mm", "length", 0.001, "millimeter", "millimeters")
_unit("in", "length", 0.0254, "inch", "inches", '"')
_unit("ft", "length", 0.3048, "foot", "feet", "'")

_unit("degC", "temperature", 1.0, "c", "celsius", "degreescelsius", "degreecelsius", "degreescelsisus",
      "degc", "centigrade")
_unit("degF", "temperature", 5 / 9, "f", "fahrenheit", "degreesfahrenheit", "degreefahrenheit",
      "degreesfahreinheit", "degf", offset=-32 * 5 / 9)
_unit("K", "temperature", 1.0, "kelvin", offset=-273.15)

_unit("s", "time", 1.0, "sec", "second", "seconds")
_unit("ms", "time", 1e-3, "msec", "millisecond", "milliseconds")
_unit("min", "time", 60.0, "minute", "minutes", "mins")
_unit("h", "time", 3600.0, "hr", "hrs", "hour", "hours")
_unit("day", "time", 86400.0, "d", "days")
_unit("week", "time", 7 * 86400.0, "wk", "wks", "weeks")
_unit("year", "time", 365.25 * 86400.0, "y", "yr", "yrs", "years")
_unit("month", "time", 365.25 * 86400.0 / 12, "mo", "months")

_unit("L", "volume", 1.0, "liter", "liters", "litre", "litres")
_unit("dL", "volume", 0.1, "deciliter")
_unit("mL", "volume", 1e-3, "milliliter", "milliliters", "cc")
_unit("uL", "volume", 1e-6, "microliter", "mm3")

_unit("mmHg", "pressure", 1.0, "mm hg", "torr")
_unit("kPa", "pressure", 7.500615758, "kilopascal")
_unit("cmH2O", "pressure", 0.7355591)

_unit("/min", "frequency", 1.0, "beats/min", "beats/minute", "bpm", "breaths/min", "breaths/minute",
      "/minute", "1/min")
_unit("/h", "frequency", 1 / 60, "/hour", "/hr")
_unit("/day", "frequency", 1 / 1440, "/d", "times/day", "doses/day")

_unit("mL/min", "flow", 1.0)
_unit("mL/h", "flow", 1 / 60, "ml/hr", "ml/hour")
_unit("mL/day", "flow", 1 / 1440, "ml/d", "ml/24h", "ml/24hr")
_unit("L/day", "flow", 1000 / 1440, "l/d")

_unit("mcg/kg/min", "dose_rate", 1.0, "ug/kg/min")
_unit("mg/kg/min", "dose_rate", 1000.0)
_unit("mcg/kg/h", "dose_rate", 1 / 60, "ug/kg/hr", "ug/kg/h")

_unit("g/L", "mass_conc", 1.0, "g/l")
_unit("g/dL", "mass_conc", 10.0, "gm/dl", "g/100ml")
_unit("mg/dL", "mass_conc", 0.01, "mg%", "mg/100ml")
_unit("mg/L", "mass_conc", 1e-3)
_unit("ug/dL", "mass_conc", 1e-5)
_unit("ug/L", "mass_conc", 1e-6, "ng/ml")

_unit("mmol/L", "molar_conc", 1.0, "mmol/l")
_unit("mol/L", "molar_conc", 1000.0)
_unit("umol/L", "molar_conc", 1e-3)
_unit("nmol/L", "molar_conc", 1e-6)
_unit("pmol/L", "molar_conc", 1e-9)

_unit("mEq/L", "eq_conc", 1.0, "meq/l")

_unit("U/L", "activity_conc", 1.0, "iu/l", "units/l")
_unit("uIU/mL", "activity_conc", 1e-3, "uu/ml", "mu/l", "miu/l", "uiu/ml")
_unit("ukat/L", "activity_conc", 60.0)

_unit("/uL", "count_conc", 1.0, "cells/ul", "/mm3", "cells/mm3")
_unit("10^3/uL", "count_conc", 1e3, "k/ul", "x10^3/ul", "10^3/mm3", "thousand/ul")
_unit("10^9/L", "count_conc", 1e3, "x10^9/l")
_unit("/L", "count_conc", 1e-6)

_unit("kg/m^2", "bmi", 1.0, "kg/m2")
_unit("m^2", "area", 1.0, "m2")
_unit("%", "percent", 1.0, "percent", "pct")
_unit("fraction", "percent", 100.0)


@dataclass(frozen=True)
class Analyte:
    """Chemistry needed to cross between concentration forms."""

    name: str
    molar_mass: float | None = None  # g/mol
    valence: int | None = None  # |charge|, for mEq/L
    molar_per_activity: float | None = None  # mmol/L per U/L (insulin: 1 µIU/mL = 6 pmol/L)


# Molar masses (g/mol) from standard atomic weights. BUN is urea *nitrogen* (2 N = 28.014 g/mol), so
# 1 mmol/L urea = 2.8 mg/dL BUN; glucose 180.16 gives the familiar 1 mmol/L = 18.0 mg/dL; creatinine
# 113.12 gives 1 mg/dL = 88.4 µmol/L; insulin follows the international conversion 1 µIU/mL = 6.0 pmol/L.
ANALYTES: dict[str, Analyte] = {a.name: a for a in (
    Analyte("creatinine", 113.12),
    Analyte("glucose", 180.16),
    Analyte("bun", 28.014),
    Analyte("urea", 60.06),
    Analyte("calcium", 40.078, 2),
    Analyte("magnesium", 24.305, 2),
    Analyte("phosphate", 30.974),
    Analyte("albumin", 66_500.0),
    Analyte("bilirubin", 584.66),
    Analyte("cholesterol", 386.65),
    Analyte("triglycerides", 885.7),
    Analyte("sodium", 22.99, 1),
    Analyte("potassium", 39.098, 1),
    Analyte("chloride", 35.45, 1),
    Analyte("bicarbonate", 61.017, 1),
    Analyte("lactate", 89.07, 1),
    Analyte("insulin", 5808.0, molar_per_activity=6e-6),
)}

_CONC = ("mass_conc", "molar_conc", "eq_conc", "activity_conc")


_DISPLAY = {"year": "years", "month": "months", "day": "days", "week": "weeks", "degC": "°C", "degF": "°F",
            "ug": "µg", "umol/L": "µmol/L", "uIU/mL": "µIU/mL", "uL": "µL", "/uL": "/µL", "mmHg": "mm Hg",
            "10^9/L": "x10^9/L", "10^3/uL": "x10^3/µL", "/min": "/min", "kg/m^2": "kg/m²", "m^2": "m²",
            "ukat/L": "µkat/L", "mcg/kg/min": "µg/kg/min"}


def display(unit: str) -> str:
    """How a canonical unit reads in an explanation ("years", "µmol/L", "mm Hg")."""
    symbol = _ALIASES.get(_normalise(unit), unit) if isinstance(unit, str) else unit
    return _DISPLAY.get(symbol, symbol)


def lookup(unit: str, *, field: str | None = None) -> Unit:
    """The :class:`Unit` a spelling names, or ``CalculatorInputError`` naming the field and unit."""
    if not isinstance(unit, str) or not unit.strip():
        raise CalculatorInputError(f"unit {unit!r} is not a unit", field=field)
    symbol = _ALIASES.get(_normalise(unit))
    if symbol is None:
        raise CalculatorInputError(f"unknown unit {unit!r}", field=field)
    return _UNITS[symbol]


def is_known(unit: str) -> bool:
    return isinstance(unit, str) and _normalise(unit) in _ALIASES


def dimension(unit: str, *, field: str | None = None) -> str:
    return lookup(unit, field=field).dimension


def _to_mmol_per_l(base: float, dim: str, analyte: Analyte, field: str | None, unit: str) -> float:
    if dim == "molar_conc":
        return base
    if dim == "mass_conc" and analyte.molar_mass:
        return base / analyte.molar_mass * 1000.0
    if dim == "eq_conc" and analyte.valence:
        return base / analyte.valence
    if dim == "activity_conc" and analyte.molar_per_activity:
        return base * analyte.molar_per_activity
    raise CalculatorInputError(f"unit {unit!r} cannot be converted for {analyte.name}", field=field)


def _from_mmol_per_l(mmol: float, dim: str, analyte: Analyte, field: str | None, unit: str) -> float:
    if dim == "molar_conc":
        return mmol
    if dim == "mass_conc" and analyte.molar_mass:
        return mmol * analyte.molar_mass / 1000.0
    if dim == "eq_conc" and analyte.valence:
        return mmol * analyte.valence
    if dim == "activity_conc" and analyte.molar_per_activity:
        return mmol / analyte.molar_per_activity
    raise CalculatorInputError(f"unit {unit!r} cannot be converted for {analyte.name}", field=field)


def convert(value: float, from_unit: str, to_unit: str, analyte: str | None = None, *,
            field: str | None = None) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``.

    Concentrations of different forms (mg/dL vs mmol/L vs mEq/L vs µIU/mL) need ``analyte`` (a key of
    :data:`ANALYTES`). Errors name ``field`` so the caller's message points at the bad input.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalculatorInputError(f"value {value!r} is not a finite number", field=field)
    src, dst = lookup(from_unit, field=field), lookup(to_unit, field=field)
    if src.symbol == dst.symbol:
        return float(value)
    base = value * src.factor + src.offset
    if src.dimension == dst.dimension:
        return (base - dst.offset) / dst.factor
    if src.dimension in _CONC and dst.dimension in _CONC:
        if analyte is None or analyte not in ANALYTES:
            raise CalculatorInputError(
                f"converting {from_unit!r} to {to_unit!r} needs a known analyte (got {analyte!r})", field=field)
        chem = ANALYTES[analyte]
        mmol = _to_mmol_per_l(base, src.dimension, chem, field, from_unit)
        return _from_mmol_per_l(mmol, dst.dimension, chem, field, to_unit) / dst.factor
    raise CalculatorInputError(
        f"unit {from_unit!r} ({src.dimension}) cannot be converted to {to_unit!r} ({dst.dimension})", field=field)


def compatible(from_unit: str, to_unit: str, analyte: str | None = None) -> bool:
    """Whether :func:`convert` can go from ``from_unit`` to ``to_unit``."""
    try:
        convert(1.0, from_unit, to_unit, analyte)
    except CalculatorInputError:
        return False
    return True
