"""Point-tally helpers shared by the risk / severity / diagnosis score calculators.

A clinical score is a sum of criteria. :class:`Tally` records, for each criterion, the patient's finding,
the points it earns and the running total, and turns that record into the plain-English explanation every
score calculator returns: one line per criterion, then the total. :func:`flag` and :func:`optional` build
the two field shapes almost every score uses (a yes/no criterion that is absent unless stated, and a
measurement that is normal unless given); :func:`absence_flag` is the yes/no criterion phrased as an
absence ("cough absent"), met unless the finding is stated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clinrl.calculators.base import Field, fmt

ABSENT_CONVENTION = ("A criterion the note does not mention is taken as absent (a measurement not given is "
                     "taken as normal), the convention of MedCalc-Bench.")


def flag(name: str, help: str, *entity_keys: str) -> Field:
    """A yes/no criterion; not given = absent (False)."""
    return Field(name, "bool", required=False, default=False, help=help, entity_keys=entity_keys)


def absence_flag(name: str, help: str, *entity_keys: str) -> Field:
    """A criterion phrased as an absence ("cough absent", "no cough or coryza"). The convention holds inside
    the negation too: a finding the note does not mention is absent, so the criterion is *met* (True)."""
    return Field(name, "bool", required=False, default=True, help=help, entity_keys=entity_keys)


def stated(v, name: str) -> bool:
    """Whether the input ``name`` was given (False when the field took its default)."""
    return not v.described.get(name, "").endswith("(not given; default)")


def absence_finding(v, name: str, finding: str) -> str:
    """How an :func:`absence_flag` criterion reads: ``finding`` (e.g. "cough") stated absent, stated
    present, or not mentioned and therefore taken as absent."""
    if not stated(v, name):
        return f"{finding} not mentioned (taken as absent, so the criterion is met)"
    return f"no {finding}" if v[name] else f"{finding} present"


def optional(name: str, unit: str, help: str, *entity_keys: str, analyte: str | None = None,
             minimum: float | None = 0, maximum: float | None = None) -> Field:
    """A measurement that may be missing (None = not measured, scored as normal)."""
    return Field(name, "quantity", unit, required=False, default=None, help=help, analyte=analyte,
                 minimum=minimum, maximum=maximum, entity_keys=entity_keys)


def given(v, name: str) -> str:
    """How an optional measurement reads: its value (with conversion) or "not given"."""
    return "not given (taken as normal)" if v[name] is None else v.text(name)


def temperature_c(v) -> float | None:
    """The ``temperature`` input in C, compared at 0.001 C: 100.4 F is 38.0 C, not 38.00000000000001 C."""
    return None if v["temperature"] is None else round(v["temperature"], 3)


def present(value: bool | None) -> str:
    """How a yes/no finding reads in an explanation."""
    return "present" if value else "absent or not mentioned"


def band(value: float, table: list[tuple[float | None, float | None, int]]) -> int:
    """Points for ``value`` from ``[(low, high, points), ...]`` meaning ``low <= value < high``.

    ``None`` is an open end; the first matching row wins, so tables list their bands in order.
    """
    for low, high, points in table:
        if (low is None or value >= low) and (high is None or value < high):
            return points
    raise ValueError(f"value {value} falls in no band of {table}")  # every table is closed by construction


@dataclass
class Tally:
    """Running total of a point score, one explanation line per criterion."""

    score_name: str
    total: float = 0
    lines: list[str] = field(default_factory=list)

    def add(self, criterion: str, finding: str, points: float, why: str = "") -> float:
        """Add ``points`` for ``criterion`` given the patient's ``finding``; returns the points."""
        before = self.total
        self.total = before + points
        reason = f" ({why})" if why else ""
        if points:
            op = "+" if points > 0 else "-"
            self.lines.append(f"- {criterion}: {finding}{reason} -> {fmt(points)} point(s); "
                              f"total {fmt(before)} {op} {fmt(abs(points))} = {fmt(self.total)}.")
        else:
            self.lines.append(f"- {criterion}: {finding}{reason} -> 0 points; total stays {fmt(self.total)}.")
        return points

    def note(self, text: str) -> None:
        """A line explaining a derived value (a unit conversion, a mean arterial pressure, ...)."""
        self.lines.append(f"  {text}")

    def explanation(self, intro: str, result: str | None = None, *, absent_convention: bool = True) -> str:
        """The whole explanation: what the score sums, each criterion, then the result."""
        body = "\n".join(self.lines)
        result = result or f"the patient's {self.score_name} is {fmt(self.total)}"
        convention = f" {ABSENT_CONVENTION}" if absent_convention else ""
        return f"{intro}{convention}\nStart at 0.\n{body}\nHence {result}."


# MedCalc-Bench writes cell counts with the denominator only: ``[9400.0, 'µL']``, ``[9400.0, 'm^3']`` (for mm3)
# or ``[9440.0, 'L']``; every such value in the test set is a count per microlitre (per mm3), and a value under
# 100 is the laboratory shorthand "WBC 4.1" for 4.1 x 10^3/µL.
_BARE_VOLUME = {"µl", "μl", "ul", "mcl", "mm3", "mm^3", "m^3", "m3", "l"}
_SHORTHAND_BELOW = 100.0


def cell_count(raw: Any) -> Any:
    """A ``Relevant Entities`` cell count as ``(value, unit)`` the units module can convert."""
    if isinstance(raw, (list, tuple)) and len(raw) == 2 and isinstance(raw[1], str):
        value, unit = raw
        if unit.strip().casefold() in _BARE_VOLUME and isinstance(value, (int, float)) and not isinstance(value, bool):
            return (value, "10^3/uL") if value < _SHORTHAND_BELOW else (value, "/uL")
        return tuple(raw)
    return raw


def not_mentioned(raw: Any) -> bool:
    """Entity strings that mean "the note does not say" (e.g. the dataset's ``'Not mentinoed'``)."""
    return isinstance(raw, str) and raw.strip().casefold().replace(" ", "") in {
        "notmentioned", "notmentinoed", "unknown", "notreported", "notgiven"}


def python_names(fields: tuple[Field, ...], **names: str | tuple[str, ...]) -> tuple[Field, ...]:
    """``fields`` that also answer to MedCalc-Bench's Python parameter names (``sys_bp``, ``pe_number_one``).

    The benchmark's entity maps (``name_to_python_*.json``) and its one-shot exemplars' ``input_parameters``
    use those names instead of the entity keys.
    """
    unknown = set(names) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"python_names: no field named {sorted(unknown)}")
    return tuple(f.with_(entity_keys=f.entity_keys + ((names[f.name],) if isinstance(names[f.name], str)
                                                       else tuple(names[f.name])))
                 if f.name in names else f for f in fields)
