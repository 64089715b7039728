"""The calculator contract: typed input fields, validation, results with explanations, the registry.

A calculator is a subclass of :class:`Calculator` that declares its metadata and ``fields`` as class
attributes and implements :meth:`Calculator.formula`, decorated with :func:`register`::

    @register
    class MeanArterialPressure(Calculator):
        id, slug, name = 5, "map", "Mean Arterial Pressure (MAP)"
        category, output_kind, unit = "physical", "decimal", "mm Hg"
        reference = "..."
        fields = (Field("sbp", "quantity", "mmHg", entity_keys=("Systolic Blood Pressure",)), ...)

        def formula(self, v):
            value = (2 * v["dbp"] + v["sbp"]) / 3
            return value, f"MAP = ... = {fmt(value)} mm Hg."

:meth:`Calculator.compute` validates and converts the inputs (missing field, unknown unit, impossible
value → :class:`CalculatorInputError` naming the field) before the formula runs, then rounds the value
by the calculator's output kind.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dc_field
from typing import Any, ClassVar

from clinrl.calculators.errors import CalculatorInputError

FIELD_KINDS = frozenset({"quantity", "bool", "int", "float", "choice", "date", "text"})
#: MedCalc-Bench's calculator categories, in the order task cards and reports list them
CATEGORIES = ("lab", "physical", "date", "dosage", "risk", "severity", "diagnosis")
OUTPUT_KINDS = frozenset({"decimal", "integer", "date", "gestational_age"})
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


def fmt(x: float, digits: int = 3) -> str:
    """A number for explanations: rounded to ``digits`` decimals, no trailing zeros."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    r = round(float(x), digits)
    if r == 0:
        r = 0.0
    text = f"{r:.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


_TRUE = {"true", "yes", "y", "present", "positive", "1"}
_FALSE = {"false", "no", "n", "absent", "negative", "0", "none"}
_QUANTITY_TEXT_RE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(.*?)\s*$")
_US_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def _number(raw: Any, name: str) -> float:
    if isinstance(raw, bool):
        raise CalculatorInputError(f"expected a number, got {raw!r}", field=name)
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise CalculatorInputError(f"expected a number, got {raw!r}", field=name) from None
    if not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise CalculatorInputError(f"expected a finite number, got {raw!r}", field=name)
    return float(raw)


def _norm_choice(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().casefold())


@dataclass(frozen=True)
class Field:
    """One typed input of a calculator.

    ``kind``: ``quantity`` (number + unit; converted to ``unit``, the unit the formula uses, through
    ``analyte`` for concentrations), ``bool``, ``int``, ``float``, ``choice`` (one of ``choices``),
    ``date`` (``MM/DD/YYYY`` or ISO → :class:`datetime.date`) or ``text``.
    ``minimum``/``maximum`` bound physically possible values (in ``unit``); ``positive`` requires > 0.
    ``entity_keys`` are the MedCalc-Bench ``Relevant Entities`` keys (and spelling variants) that feed
    this field.
    """

    name: str
    kind: str
    unit: str | None = None
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    analyte: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    entity_keys: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()  # (spelling, choice) pairs accepted for a choice

    def with_(self, **changes: Any) -> "Field":
        """A copy with some attributes changed (e.g. a shared field made optional)."""
        return replace(self, **changes)

    def coerce(self, raw: Any) -> tuple[Any, str]:
        """``(value in the field's canonical form, a short description for explanations)``."""
        if self.kind == "quantity":
            return self._quantity(raw)
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw, str(raw)
            if isinstance(raw, (int, float)) and raw in (0, 1):
                return bool(raw), str(bool(raw))
            if isinstance(raw, str) and raw.strip().casefold() in _TRUE | _FALSE:
                value = raw.strip().casefold() in _TRUE
                return value, str(value)
            raise CalculatorInputError(f"expected true/false, got {raw!r}", field=self.name)
        if self.kind in ("int", "float"):
            if isinstance(raw, (list, tuple)) and len(raw) == 2 and isinstance(raw[1], str):
                raw = raw[0]  # a [value, unit] pair for a unitless number
            value = _number(raw, self.name)
            if self.kind == "int":
                if value != int(value):
                    raise CalculatorInputError(f"expected a whole number, got {raw!r}", field=self.name)
                value = int(value)
            self._check_bounds(value, raw)
            return value, fmt(value)
        if self.kind == "choice":
            wanted = _norm_choice(raw)
            for choice in self.choices:
                if _norm_choice(choice) == wanted:
                    return choice, choice
            for spelling, choice in self.synonyms:
                if _norm_choice(spelling) == wanted:
                    return choice, choice
            raise CalculatorInputError(
                f"{raw!r} is not one of: {', '.join(map(repr, self.choices))}", field=self.name)
        if self.kind == "date":
            value = _date(raw, self.name)
            return value, value.strftime("%m/%d/%Y")
        if not isinstance(raw, str):
            raise CalculatorInputError(f"expected text, got {raw!r}", field=self.name)
        return raw, raw

    def _quantity(self, raw: Any) -> tuple[float, str]:
        from clinrl.calculators.units import convert, display, lookup

        if isinstance(raw, Mapping):
            if "value" not in raw:
                raise CalculatorInputError(f"expected {{'value': ..., 'unit': ...}}, got {raw!r}", field=self.name)
            number, unit = raw["value"], raw.get("unit")
        elif isinstance(raw, (list, tuple)):
            if len(raw) != 2:
                raise CalculatorInputError(f"expected [value, unit], got {raw!r}", field=self.name)
            number, unit = raw
        elif isinstance(raw, str) and not _is_plain_number(raw):
            m = _QUANTITY_TEXT_RE.match(raw)
            if not m:
                raise CalculatorInputError(f"expected a number with a unit, got {raw!r}", field=self.name)
            number, unit = m.group(1), m.group(2) or None
        else:
            number, unit = raw, None
        value = _number(number, self.name)
        canonical = self.unit or ""
        shown = display(canonical)
        if unit is None or (isinstance(unit, str) and unit.strip() == ""):
            converted, text = value, f"{fmt(value)} {shown}".strip()
        else:
            lookup(unit, field=self.name)
            converted = convert(value, unit, canonical, self.analyte, field=self.name)
            if lookup(unit, field=self.name).symbol == lookup(canonical).symbol:
                text = f"{fmt(value)} {shown}"
            else:
                text = f"{fmt(value)} {unit} = {fmt(converted)} {shown}"
        self._check_bounds(converted, raw)
        return converted, text

    def _check_bounds(self, value: float, raw: Any) -> None:
        unit = f" {self.unit}" if self.unit else ""
        if self.positive and value <= 0:
            raise CalculatorInputError(f"must be greater than 0, got {raw!r}", field=self.name)
        if self.minimum is not None and value < self.minimum:
            raise CalculatorInputError(
                f"impossible value {raw!r} (= {fmt(value)}{unit}; the minimum is {fmt(self.minimum)}{unit})",
                field=self.name)
        if self.maximum is not None and value > self.maximum:
            raise CalculatorInputError(
                f"impossible value {raw!r} (= {fmt(value)}{unit}; the maximum is {fmt(self.maximum)}{unit})",
                field=self.name)


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _date(raw: Any, name: str) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            m = _US_DATE_RE.match(text)
            if m:
                return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
            m = _ISO_DATE_RE.match(text)
            if m:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise CalculatorInputError(f"{raw!r} is not a real calendar date", field=name) from None
    raise CalculatorInputError(f"expected a date MM/DD/YYYY, got {raw!r}", field=name)


# Fields many calculators share (MedCalc-Bench entity keys included). ``Field.with_`` adapts them.
AGE = Field("age", "quantity", "year", minimum=0, maximum=130, help="age (years; months accepted)",
            entity_keys=("Age",))
SEX = Field("sex", "choice", choices=("Male", "Female"), help="sex",
            synonyms=(("m", "Male"), ("man", "Male"), ("f", "Female"), ("woman", "Female")),
            entity_keys=("Sex", "gender"))
WEIGHT = Field("weight", "quantity", "kg", positive=True, minimum=0.2, maximum=700, help="body weight (kg)",
               entity_keys=("Weight", "body weight"))
HEIGHT = Field("height", "quantity", "cm", positive=True, minimum=20, maximum=275, help="height (cm)",
               entity_keys=("Height",))


class Values(dict):
    """Validated inputs (canonical units) plus how each was read, for explanations."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.described: dict[str, str] = {}

    def text(self, name: str) -> str:
        """The input as given, with its conversion, e.g. ``"154 lb = 69.853 kg"``."""
        return self.described.get(name, fmt(self[name]))


@dataclass(frozen=True)
class CalcResult:
    """A computed value and how it was obtained.

    ``value``: float (decimal, rounded to the calculator's ``decimals``), int (integer),
    ``"MM/DD/YYYY"`` (date) or ``(weeks, days)`` (gestational age).
    """

    calculator_id: int
    slug: str
    name: str
    value: Any
    unit: str
    explanation: str
    reference: str
    inputs: dict[str, Any] = dc_field(default_factory=dict)
    output_kind: str = "decimal"

    @property
    def answer(self) -> Any:
        """The value as the MedCalc task's ``{"answer": …}`` carries it (JSON-ready)."""
        if self.output_kind == "gestational_age":
            weeks, days = self.value
            return [f"{weeks} weeks", f"{days} days"]
        return self.value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answer"] = self.answer
        data["inputs"] = {k: (v.strftime("%m/%d/%Y") if isinstance(v, dt.date) else v) for k, v in self.inputs.items()}
        if isinstance(self.value, tuple):
            data["value"] = list(self.value)
        return data


class Calculator:
    """Base class; see the module docstring. Subclasses set the class attributes and ``formula``."""

    id: ClassVar[int]
    slug: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]
    output_kind: ClassVar[str]
    unit: ClassVar[str] = ""
    reference: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]] = ()
    decimals: ClassVar[int] = 3  # rounding of decimal outputs (MedCalc-Bench reports 3 decimals)

    def formula(self, v: Values) -> tuple[Any, str]:
        """Return ``(value, explanation)`` from validated inputs ``v`` (canonical units)."""
        raise NotImplementedError

    # --- inputs -----------------------------------------------------------------------------------
    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def validate(self, inputs: Mapping[str, Any]) -> Values:
        if not isinstance(inputs, Mapping):
            raise CalculatorInputError(f"inputs must be a mapping of field name to value, got {type(inputs).__name__}",
                                       calculator=self.slug)
        known = {f.name for f in self.fields}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise CalculatorInputError(
                f"unknown input (expected one of: {', '.join(sorted(known))})", field=unknown[0], calculator=self.slug)
        values = Values()
        for f in self.fields:
            raw = inputs.get(f.name)
            if raw is None:
                if f.required:
                    missing = [g.name for g in self.fields if g.required and inputs.get(g.name) is None]
                    also = f"; all missing required inputs: {', '.join(missing)}" if len(missing) > 1 else ""
                    raise CalculatorInputError(f"missing required input ({f.help or f.kind}){also}", field=f.name,
                                               calculator=self.slug)
                values[f.name] = f.default
                values.described[f.name] = f"{f.default} (not given; default)"
                continue
            try:
                values[f.name], values.described[f.name] = f.coerce(raw)
            except CalculatorInputError as exc:
                raise exc.within(self.slug) from None
        return values

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs from a MedCalc-Bench ``Relevant Entities`` dict (keys matched by :func:`entity_key`).

        Entities no field claims are left out here and listed by :meth:`unmatched_entities`.
        Calculators whose entities need more than a key lookup override this.
        """
        inputs: dict[str, Any] = {}
        by_key = self._entity_index()
        for key, value in entities.items():
            f = by_key.get(entity_key(key))
            if f is not None:
                inputs[f.name] = entity_value(f, value)
        return inputs

    def unmatched_entities(self, entities: Mapping[str, Any]) -> list[str]:
        by_key = self._entity_index()
        return [k for k in entities if entity_key(k) not in by_key]

    def _entity_index(self) -> dict[str, Field]:
        index: dict[str, Field] = {}
        for f in self.fields:
            for key in (f.name, *f.entity_keys):
                index[entity_key(key)] = f
        return index

    # --- computing --------------------------------------------------------------------------------
    def compute(self, inputs: Mapping[str, Any]) -> CalcResult:
        values = self.validate(inputs)
        try:
            value, explanation = self.formula(values)
        except CalculatorInputError as exc:
            raise exc.within(self.slug) from None
        except ZeroDivisionError:
            raise CalculatorInputError("the inputs make the formula divide by zero", calculator=self.slug) from None
        return CalcResult(
            calculator_id=self.id, slug=self.slug, name=self.name, value=self._finish(value), unit=self.unit,
            explanation=explanation.strip(), reference=self.reference, inputs=dict(values),
            output_kind=self.output_kind)

    def _finish(self, value: Any) -> Any:
        if self.output_kind == "decimal":
            x = float(value)
            if not math.isfinite(x):
                raise CalculatorInputError(f"the inputs give a non-finite result ({x})", calculator=self.slug)
            return round(x, self.decimals) + 0.0
        if self.output_kind == "integer":
            return int(round(value))
        if self.output_kind == "date":
            return value.strftime("%m/%d/%Y") if isinstance(value, dt.date) else str(value)
        weeks, days = value
        return (int(weeks), int(days))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "slug": self.slug, "name": self.name, "category": self.category,
            "output_kind": self.output_kind, "unit": self.unit, "reference": self.reference,
            "fields": [{"name": f.name, "kind": f.kind, "unit": f.unit, "required": f.required, "default": f.default,
                        "choices": list(f.choices), "help": f.help} for f in self.fields],
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} slug={self.slug!r}>"


# MedCalc-Bench writes cell counts with a bare volume as the unit ("µL" meaning per µL, "m^3" meaning
# per mm^3 — its SIRS explanations compare "count per m^3" against 4,000-12,000).
_BARE_COUNT_UNITS = {"ul": "/uL", "l": "/L", "m3": "/mm3", "mm3": "/mm3", "mcl": "/uL"}


def entity_value(f: Field, value: Any) -> Any:
    """One entity value as a field input: ``[value, unit]`` lists become ``(value, unit)``."""
    if not (isinstance(value, list) and len(value) == 2):
        return value
    number, unit = value
    if f.kind == "quantity" and isinstance(unit, str):
        from clinrl.calculators.units import dimension

        bare = re.sub(r"[\s^]", "", unit.casefold().replace("\u00b5", "u").replace("\u03bc", "u"))
        if dimension(f.unit) == "count_conc" and bare in _BARE_COUNT_UNITS:
            unit = _BARE_COUNT_UNITS[bare]
    return (number, unit)


def entity_key(key: str) -> str:
    """Normalised ``Relevant Entities`` key: case, spacing, subscripts and punctuation folded."""
    text = str(key).casefold().replace("\u2082", "2").replace("\u2265", ">=").replace("\u2264", "<=")
    return re.sub(r"[^a-z0-9<>=%]+", " ", text).strip()


_REGISTRY: dict[int, Calculator] = {}
_BY_SLUG: dict[str, Calculator] = {}


def register(cls: type[Calculator]) -> type[Calculator]:
    """Class decorator: check the calculator's declaration and add it to the registry."""
    problems = []
    for attr in ("id", "slug", "name", "category", "output_kind", "reference"):
        if not hasattr(cls, attr):
            problems.append(f"missing class attribute {attr!r}")
    if not problems:
        if not isinstance(cls.id, int) or cls.id <= 0:
            problems.append(f"id must be a positive int, got {cls.id!r}")
        if not _SLUG_RE.match(cls.slug):
            problems.append(f"slug {cls.slug!r} must be lowercase words joined by - or _")
        if cls.category not in CATEGORIES:
            problems.append(f"category {cls.category!r} not in {sorted(CATEGORIES)}")
        if cls.output_kind not in OUTPUT_KINDS:
            problems.append(f"output_kind {cls.output_kind!r} not in {sorted(OUTPUT_KINDS)}")
        names = [f.name for f in cls.fields]
        if len(names) != len(set(names)):
            problems.append("duplicate field names")
        for f in cls.fields:
            if f.kind not in FIELD_KINDS:
                problems.append(f"field {f.name!r}: kind {f.kind!r} not in {sorted(FIELD_KINDS)}")
            if f.kind == "quantity":
                from clinrl.calculators.units import is_known

                if not f.unit or not is_known(f.unit):
                    problems.append(f"field {f.name!r}: quantity needs a known canonical unit, got {f.unit!r}")
            if f.kind == "choice" and not f.choices:
                problems.append(f"field {f.name!r}: choice needs choices")
        if cls.id in _REGISTRY and type(_REGISTRY[cls.id]) is not cls:
            problems.append(f"id {cls.id} already registered by {type(_REGISTRY[cls.id]).__name__}")
        if cls.slug in _BY_SLUG and type(_BY_SLUG[cls.slug]) is not cls:
            problems.append(f"slug {cls.slug!r} already registered")
    if problems:
        raise TypeError(f"calculator {cls.__name__}: " + "; ".join(problems))
    instance = cls()
    _REGISTRY[cls.id] = instance
    _BY_SLUG[cls.slug] = instance
    return cls
