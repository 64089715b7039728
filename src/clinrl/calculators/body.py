"""Body size and basic physical calculators: MAP, BMI, ideal / adjusted / target weight, BSA, fluids.

MedCalc-Bench conventions kept here: heights convert to inches with 0.393701 in/cm for the Devine
ideal body weight; adjusted body weight uses the 0.4 correction factor; maintenance fluids use the
Holliday-Segar 4-2-1 rule in mL/hr.
"""

from __future__ import annotations

import math

from clinrl.calculators.base import (
    HEIGHT,
    SEX,
    WEIGHT,
    Calculator,
    CalculatorInputError,
    Field,
    Values,
    fmt,
    register,
)

CM_PER_INCH = 2.54
DEVINE_REFERENCE = "Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm. 1974;8:650-655."


def ideal_body_weight(sex: str, height_cm: float) -> tuple[float, str]:
    """Devine ideal body weight (kg) and the sentences that derive it."""
    inches = height_cm / CM_PER_INCH
    base = 50.0 if sex == "Male" else 45.5
    ibw = base + 2.3 * (inches - 60.0)
    text = (f"Ideal body weight (Devine): IBW = {fmt(base)} kg + 2.3 kg x (height in inches - 60) for a "
            f"{sex.lower()} patient. Height {fmt(height_cm)} cm / 2.54 cm/in = {fmt(inches)} in, so "
            f"IBW = {fmt(base)} + 2.3 x ({fmt(inches)} - 60) = {fmt(ibw)} kg.")
    return ibw, text


def body_mass_index(weight_kg: float, height_cm: float) -> tuple[float, str]:
    meters = height_cm / 100.0
    bmi = weight_kg / (meters * meters)
    text = (f"BMI = weight / height^2 = {fmt(weight_kg)} kg / ({fmt(meters)} m)^2 = {fmt(bmi)} kg/m^2.")
    return bmi, text


def adjusted_body_weight(weight_kg: float, ibw_kg: float) -> tuple[float, str]:
    abw = ibw_kg + 0.4 * (weight_kg - ibw_kg)
    text = (f"Adjusted body weight: ABW = IBW + 0.4 x (actual weight - IBW) = {fmt(ibw_kg)} + 0.4 x "
            f"({fmt(weight_kg)} - {fmt(ibw_kg)}) = {fmt(abw)} kg.")
    return abw, text


@register
class MeanArterialPressure(Calculator):
    id, slug, name = 5, "map", "Mean Arterial Pressure (MAP)"
    category, output_kind, unit = "physical", "decimal", "mm Hg"
    reference = ("Standard estimate MAP = DBP + (SBP - DBP)/3 = 2/3 DBP + 1/3 SBP; see e.g. "
                 "Sesso HD et al. Hypertension. 2000;36:801-807.")
    fields = (
        Field("sbp", "quantity", "mmHg", minimum=20, maximum=350, help="systolic blood pressure",
              entity_keys=("Systolic Blood Pressure", "sys_bp")),
        Field("dbp", "quantity", "mmHg", minimum=10, maximum=250, help="diastolic blood pressure",
              entity_keys=("Diastolic Blood Pressure", "dia_bp")),
    )

    def formula(self, v: Values):
        if v["dbp"] > v["sbp"]:
            raise CalculatorInputError(
                f"diastolic pressure {fmt(v['dbp'])} mm Hg is above systolic {fmt(v['sbp'])} mm Hg", field="dbp")
        value = 2 / 3 * v["dbp"] + 1 / 3 * v["sbp"]
        return value, (
            "MAP = 2/3 x diastolic + 1/3 x systolic blood pressure.\n"
            f"Systolic {v.text('sbp')}; diastolic {v.text('dbp')}.\n"
            f"MAP = 2/3 x {fmt(v['dbp'])} + 1/3 x {fmt(v['sbp'])} = {fmt(value)} mm Hg (rounded to 3 decimals).")


@register
class BodyMassIndex(Calculator):
    id, slug, name = 6, "bmi", "Body Mass Index (BMI)"
    category, output_kind, unit = "physical", "decimal", "kg/m^2"
    reference = "Quetelet index; WHO. Obesity: preventing and managing the global epidemic. TRS 894, 2000."
    fields = (WEIGHT, HEIGHT)

    def formula(self, v: Values):
        bmi, text = body_mass_index(v["weight"], v["height"])
        return bmi, (f"BMI = weight (kg) / height (m)^2.\nWeight {v.text('weight')}; height {v.text('height')}.\n"
                     f"{text}")


@register
class IdealBodyWeight(Calculator):
    id, slug, name = 10, "ideal_body_weight", "Ideal Body Weight"
    category, output_kind, unit = "physical", "decimal", "kg"
    reference = DEVINE_REFERENCE
    fields = (SEX, HEIGHT)

    def formula(self, v: Values):
        ibw, text = ideal_body_weight(v["sex"], v["height"])
        return ibw, f"Sex {v['sex']}; height {v.text('height')}.\n{text}"


@register
class AdjustedBodyWeight(Calculator):
    id, slug, name = 62, "adjusted_body_weight", "Adjusted Body Weight"
    category, output_kind, unit = "physical", "decimal", "kg"
    reference = (DEVINE_REFERENCE + " Adjusted weight IBW + 0.4 x (TBW - IBW): Bauer LA. Applied Clinical "
                 "Pharmacokinetics. 2nd ed. McGraw-Hill; 2008.")
    fields = (SEX, WEIGHT, HEIGHT)

    def formula(self, v: Values):
        ibw, ibw_text = ideal_body_weight(v["sex"], v["height"])
        abw, abw_text = adjusted_body_weight(v["weight"], ibw)
        return abw, (f"Sex {v['sex']}; weight {v.text('weight')}; height {v.text('height')}.\n"
                     f"{ibw_text}\n{abw_text}")


@register
class BodySurfaceArea(Calculator):
    id, slug, name = 60, "bsa", "Body Surface Area Calculator"
    category, output_kind, unit = "physical", "decimal", "m^2"
    reference = "Mosteller RD. Simplified calculation of body-surface area. N Engl J Med. 1987;317:1098."
    fields = (WEIGHT, HEIGHT)

    def formula(self, v: Values):
        product = v["weight"] * v["height"]
        bsa = math.sqrt(product / 3600.0)
        return bsa, (
            "Mosteller: BSA = sqrt(weight (kg) x height (cm) / 3600).\n"
            f"Weight {v.text('weight')}; height {v.text('height')}.\n"
            f"BSA = sqrt({fmt(v['weight'])} x {fmt(v['height'])} / 3600) = sqrt({fmt(product / 3600.0, 4)}) "
            f"= {fmt(bsa)} m^2.")


@register
class TargetWeight(Calculator):
    id, slug, name = 61, "target_weight", "Target weight"
    category, output_kind, unit = "physical", "decimal", "kg"
    reference = "Target weight = target BMI x height^2 (the BMI definition solved for weight; WHO TRS 894, 2000)."
    fields = (
        Field("target_bmi", "quantity", "kg/m^2", minimum=5, maximum=100, help="target BMI",
              entity_keys=("Body Mass Index (BMI)", "target BMI", "bmi", "body_mass_index")),
        HEIGHT,
    )

    def formula(self, v: Values):
        meters = v["height"] / 100.0
        weight = v["target_bmi"] * meters * meters
        return weight, (
            "Target weight = target BMI x height (m)^2.\n"
            f"Target BMI {v.text('target_bmi')}; height {v.text('height')} = {fmt(meters)} m.\n"
            f"Target weight = {fmt(v['target_bmi'])} x {fmt(meters)}^2 = {fmt(weight)} kg.")


@register
class MaintenanceFluids(Calculator):
    id, slug, name = 22, "maintenance_fluids", "Maintenance Fluids Calculations"
    category, output_kind, unit = "physical", "decimal", "mL/hr"
    reference = ("Holliday MA, Segar WE. The maintenance need for water in parenteral fluid therapy. "
                 "Pediatrics. 1957;19:823-832 (the 4-2-1 rule).")
    fields = (WEIGHT,)

    def formula(self, v: Values):
        w = v["weight"]
        if w <= 10:
            rate = 4.0 * w
            arithmetic = f"4 mL/kg/hr x {fmt(w)} kg = {fmt(rate)} mL/hr"
        elif w <= 20:
            rate = 40.0 + 2.0 * (w - 10)
            arithmetic = f"40 mL/hr + 2 mL/kg/hr x ({fmt(w)} - 10) kg = {fmt(rate)} mL/hr"
        else:
            rate = 60.0 + (w - 20)
            arithmetic = f"40 mL/hr + 20 mL/hr + 1 mL/kg/hr x ({fmt(w)} - 20) kg = {fmt(rate)} mL/hr"
        return rate, (
            "4-2-1 rule: 4 mL/kg/hr for the first 10 kg, 2 mL/kg/hr for the next 10 kg, 1 mL/kg/hr for every "
            f"kg above 20 kg.\nWeight {v.text('weight')}.\nRate = {arithmetic}.")
