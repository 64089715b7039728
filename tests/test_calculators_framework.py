"""The calculator framework: fields, validation errors naming the field, registry, entities."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.calculators import (
    CalcResult,
    Calculator,
    CalculatorInputError,
    Field,
    UnknownCalculatorError,
    compute,
    get_calculator,
    list_calculators,
    register,
)
from clinrl.calculators.base import _BY_SLUG, _REGISTRY, entity_key, fmt
from clinrl.calculators.entities import (
    inputs_from_relevant_entities,
    parse_relevant_entities,
    unmatched_entity_keys,
)
from clinrl.errors import ClinrlError, DataError


class Toy(Calculator):
    id, slug, name = 999, "toy", "Toy"
    category, output_kind, unit, reference = "lab", "decimal", "mg/dL", "none"
    fields = (
        Field("glucose", "quantity", "mg/dL", analyte="glucose", positive=True, maximum=3000,
              entity_keys=("Glucose", "blood sugar")),
        Field("flag", "bool", required=False, default=False, entity_keys=("Some flag",)),
        Field("kind", "choice", choices=("A", "B"), required=False, default="A", synonyms=(("alpha", "A"),)),
        Field("n", "int", required=False, default=0, minimum=0, maximum=10),
        Field("when", "date", required=False),
    )

    def formula(self, v):
        return v["glucose"] + v["n"], f"{v.text('glucose')} + {v['n']}"


TOY = Toy()


def test_quantity_forms_and_conversion():
    for raw in ((5.5, "mmol/L"), [5.5, "mmol/L"], {"value": 5.5, "unit": "mmol/L"}, "5.5 mmol/L"):
        r = TOY.compute({"glucose": raw})
        assert r.value == pytest.approx(99.088) and "5.5 mmol/L = 99.088 mg/dL" in r.explanation
    assert TOY.compute({"glucose": 100}).value == 100.0  # bare number: canonical unit
    assert TOY.compute({"glucose": "100"}).value == 100.0


@pytest.mark.parametrize(("inputs", "field", "fragment"), [
    ({}, "glucose", "missing"),
    ({"glucose": (-5, "mg/dL")}, "glucose", "greater than 0"),
    ({"glucose": (0, "mg/dL")}, "glucose", "greater than 0"),
    ({"glucose": (5000, "mg/dL")}, "glucose", "impossible"),
    ({"glucose": (5, "furlongs")}, "glucose", "unknown unit"),
    ({"glucose": (5, "kg")}, "glucose", "cannot be converted"),
    ({"glucose": (5, "mg/dL", "x")}, "glucose", "[value, unit]"),
    ({"glucose": "lots"}, "glucose", "number"),
    ({"glucose": float("nan")}, "glucose", "finite"),
    ({"glucose": True}, "glucose", "number"),
    ({"glucose": 90, "flag": "maybe"}, "flag", "true/false"),
    ({"glucose": 90, "kind": "C"}, "kind", "not one of"),
    ({"glucose": 90, "n": 2.5}, "n", "whole number"),
    ({"glucose": 90, "n": 11}, "n", "impossible"),
    ({"glucose": 90, "when": "02/30/2024"}, "when", "calendar date"),
    ({"glucose": 90, "when": "yesterday"}, "when", "MM/DD/YYYY"),
    ({"glucose": 90, "glucosse": 1}, "glucosse", "unknown input"),
])
def test_bad_inputs_name_the_field(inputs, field, fragment):
    with pytest.raises(CalculatorInputError) as err:
        TOY.compute(inputs)
    assert err.value.field == field
    assert fragment in str(err.value) and f"'{field}'" in str(err.value) and "toy" in str(err.value)
    assert isinstance(err.value, ClinrlError)


def test_inputs_must_be_mapping():
    with pytest.raises(CalculatorInputError, match="mapping"):
        TOY.compute([("glucose", 1)])


def test_bool_choice_date_coercion():
    v = TOY.validate({"glucose": 90, "flag": "yes", "kind": " ALPHA ", "n": "3", "when": "2024-02-29"})
    assert v["flag"] is True and v["kind"] == "A" and v["n"] == 3 and v["when"] == dt.date(2024, 2, 29)
    assert TOY.validate({"glucose": 90, "when": "3/7/2023"})["when"] == dt.date(2023, 3, 7)
    assert TOY.validate({"glucose": 90})["flag"] is False  # optional default


def test_result_shapes():
    r = TOY.compute({"glucose": 90.12345})
    assert isinstance(r, CalcResult) and r.value == 90.123 and r.answer == 90.123
    d = r.to_dict()
    assert d["calculator_id"] == 999 and d["inputs"]["glucose"] == pytest.approx(90.12345)


def test_fmt():
    assert fmt(2.0) == "2" and fmt(1 / 3) == "0.333" and fmt(-0.0001) == "0" and fmt(7) == "7"
    assert fmt(True) == "True"


def test_register_rejects_bad_declarations():
    class NoUnit(Toy):
        id, slug = 998, "no_unit"
        fields = (Field("x", "quantity"),)

    class BadSlug(Toy):
        id, slug = 997, "Bad Slug"

    class BadKind(Toy):
        id, slug = 996, "bad_kind"
        fields = (Field("x", "vector"),)

    for cls, fragment in ((NoUnit, "canonical unit"), (BadSlug, "slug"), (BadKind, "kind")):
        with pytest.raises(TypeError, match=fragment):
            register(cls)
    assert 998 not in _REGISTRY and 997 not in _REGISTRY


def test_register_duplicate_id_rejected():
    class Dup(Toy):
        id, slug = 5, "dup_of_map"

    list_calculators()
    with pytest.raises(TypeError, match="already registered"):
        register(Dup)
    assert "dup_of_map" not in _BY_SLUG


def test_registry_lookup():
    bmi = get_calculator("bmi")
    assert get_calculator(6) is bmi and get_calculator("6") is bmi and get_calculator(" BMI ") is bmi
    assert get_calculator("ideal-body-weight") is get_calculator(10)
    with pytest.raises(UnknownCalculatorError, match="calc list"):
        get_calculator("nope")
    with pytest.raises(UnknownCalculatorError):
        get_calculator(True)
    ids = [c.id for c in list_calculators()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_every_registered_calculator_is_well_formed():
    for calc in list_calculators():
        d = calc.describe()
        assert d["reference"] and d["name"] and d["fields"], calc
        assert calc.category in {"lab", "physical", "date", "dosage", "risk", "severity", "diagnosis"}


def test_compute_top_level():
    assert compute("bmi", {"weight": (70, "kg"), "height": (175, "cm")}).value == 22.857


def test_entities_parse_and_map():
    text = "{'Glucose': [5.5, 'mmol/L'], 'Some  FLAG': True, 'unrelated': 3}"
    ents = parse_relevant_entities(text)
    assert TOY.from_entities(ents) == {"glucose": (5.5, "mmol/L"), "flag": True}
    assert TOY.unmatched_entities(ents) == ["unrelated"]
    mapped = inputs_from_relevant_entities(6, "{'weight': [150, 'lbs'], 'height': [5.5, 'ft']}")
    assert compute(6, mapped).value == pytest.approx(68.039 / 1.6764**2, abs=1e-3)  # 150 lb, 5.5 ft
    assert unmatched_entity_keys(6, {"weight": [1, "kg"], "x": 1}) == ["x"]


@pytest.mark.parametrize("bad", ["{'a': ", "[1, 2]", "__import__('os')", "{'a': f(1)}"])
def test_entities_reject_non_literals(bad):
    with pytest.raises(DataError, match="Relevant Entities"):
        parse_relevant_entities(bad, source="x.csv", row=3)


def test_entity_key_normalisation():
    assert entity_key("FiO\u2082") == entity_key("fio2")
    assert entity_key("Heart Rate or Pulse") == entity_key("heart rate  or pulse")
    assert entity_key("Symptom onset \u22643 days") == "symptom onset <=3 days"


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.one_of(st.floats(-1e4, 1e4), st.text(max_size=6)), max_size=3),
    st.tuples(st.floats(-1e4, 1e4), st.sampled_from(["kg", "mg/dL", "µmol/L", "lbs", "", "%", "furlong"])),
    st.dictionaries(st.sampled_from(["value", "unit"]), st.one_of(st.floats(-1e3, 1e3), st.text(max_size=5)),
                    max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_junk_inputs_only_raise_calculator_input_error(data):
    """Whatever arrives, a calculator returns a finite result or raises CalculatorInputError naming a field."""
    calc = data.draw(st.sampled_from(list_calculators()))
    names = [f.name for f in calc.fields]
    inputs = data.draw(st.dictionaries(st.sampled_from(names), JUNK, max_size=len(names)))
    try:
        result = calc.compute(inputs)
    except CalculatorInputError as exc:
        assert exc.calculator == calc.slug
        return
    if isinstance(result.value, float):
        assert result.value == result.value and abs(result.value) != float("inf")
