"""Dose conversions: corticosteroid equivalents and daily morphine milligram equivalents (MME)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinrl.calculators.base import Calculator, CalculatorInputError, Field, Values, entity_key, fmt, register

# Anti-inflammatory equivalent doses (mg); IV and PO forms of one drug are equipotent here.
STEROID_EQUIVALENT_MG = {
    "Betamethasone IV": 0.75,
    "Cortisone PO": 25.0,
    "Dexamethasone IV": 0.75,
    "Dexamethasone PO": 0.75,
    "Hydrocortisone IV": 20.0,
    "Hydrocortisone PO": 20.0,
    "MethylPrednisoLONE IV": 4.0,
    "MethylPrednisoLONE PO": 4.0,
    "PrednisoLONE PO": 5.0,
    "PredniSONE PO": 5.0,
    "Triamcinolone IV": 4.0,
}
_STEROIDS = tuple(STEROID_EQUIVALENT_MG)


@register
class SteroidConversion(Calculator):
    id, slug, name = 24, "steroid_conversion", "Steroid Conversion Calculator"
    category, output_kind, unit = "dosage", "decimal", "mg"
    reference = ("Liu D, Ahmet A, Ward L, et al. A practical guide to the monitoring and management of the "
                 "complications of systemic corticosteroid therapy. Allergy Asthma Clin Immunol. 2013;9:30 "
                 "(Table 1, equivalent glucocorticoid doses).")
    fields = (
        Field("input_steroid", "choice", choices=_STEROIDS, help="the steroid and route given"),
        Field("dose", "quantity", "mg", positive=True, maximum=10_000, help="dose of the steroid given (mg)"),
        Field("target_steroid", "choice", choices=_STEROIDS, help="the steroid and route to convert to",
              entity_keys=("target steroid",)),
    )

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        inputs = super().from_entities(entities)
        for key, value in entities.items():
            if entity_key(key) == "input steroid" and isinstance(value, (list, tuple)) and len(value) == 3:
                inputs["input_steroid"], inputs["dose"] = value[0], (value[1], value[2])
        return inputs

    def formula(self, v: Values):
        src, dst = v["input_steroid"], v["target_steroid"]
        factor = STEROID_EQUIVALENT_MG[dst] / STEROID_EQUIVALENT_MG[src]
        value = v["dose"] * factor
        return value, (
            f"Equivalent doses: {fmt(STEROID_EQUIVALENT_MG[src])} mg {src} = {fmt(STEROID_EQUIVALENT_MG[dst])} mg "
            f"{dst}, so the factor is {fmt(STEROID_EQUIVALENT_MG[dst])} / {fmt(STEROID_EQUIVALENT_MG[src])} = "
            f"{fmt(factor, 4)} mg {dst} per mg {src}.\nDose {v.text('dose')} {src}.\n"
            # multiply by the equivalents themselves: the factor rounded to 3 decimals (0.1875 -> 0.188) would
            # make the written product disagree with the answer (23.465 x 0.188 = 4.411, not 4.4)
            f"{fmt(v['dose'])} mg x {fmt(STEROID_EQUIVALENT_MG[dst])} / {fmt(STEROID_EQUIVALENT_MG[src])} = "
            f"{fmt(value)} mg {dst}.")


# CDC 2022 conversion factors (MME per unit of daily dose). Fentanyl buccal is per microgram; the
# fentanyl patch factor applies to the patch strength in mcg/hr.
OPIOIDS: dict[str, tuple[str, float, str, str]] = {
    # field prefix: (display name, factor, canonical unit of one dose, MedCalc-Bench entity name)
    "codeine": ("Codeine", 0.15, "mg", "Codeine"),
    "fentanyl_buccal": ("Fentanyl buccal", 0.13, "ug", "FentaNYL buccal"),
    "fentanyl_patch": ("Fentanyl patch", 2.4, "", "FentANYL patch"),
    "hydrocodone": ("Hydrocodone", 1.0, "mg", "HYDROcodone"),
    "hydromorphone": ("Hydromorphone", 5.0, "mg", "HYDROmorphone"),
    "methadone": ("Methadone", 4.7, "mg", "Methadone"),
    "morphine": ("Morphine", 1.0, "mg", "Morphine"),
    "oxycodone": ("Oxycodone", 1.5, "mg", "OxyCODONE"),
    "oxymorphone": ("Oxymorphone", 3.0, "mg", "OxyMORphone"),
    "tapentadol": ("Tapentadol", 0.4, "mg", "Tapentadol"),
    "tramadol": ("Tramadol", 0.2, "mg", "TraMADol"),
}


def _opioid_fields() -> tuple[Field, ...]:
    fields = []
    for prefix, (display, _factor, unit, entity) in OPIOIDS.items():
        if unit:
            dose = Field(f"{prefix}_dose", "quantity", unit, required=False, minimum=0, maximum=100_000,
                         help=f"{display} dose ({unit} per dose)", entity_keys=(f"{entity} Dose",))
        else:
            dose = Field(f"{prefix}_dose", "float", required=False, minimum=0, maximum=1000,
                         help=f"{display} strength (mcg/hr)", entity_keys=(f"{entity} Dose",))
        per_day = Field(f"{prefix}_doses_per_day", "float", required=False, minimum=0, maximum=48,
                        help=f"{display} doses per day", entity_keys=(f"{entity} Dose Per Day",))
        fields += [dose, per_day]
    return tuple(fields)


@register
class MorphineMilligramEquivalents(Calculator):
    id, slug, name = 49, "mme", "Morphine Milligram Equivalents (MME) Calculator"
    category, output_kind, unit = "dosage", "decimal", "MME/day"
    reference = ("Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice Guideline for "
                 "Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep. 2022;71(3):1-95 (Table: "
                 "MME conversion factors).")
    fields = _opioid_fields()

    def formula(self, v: Values):
        lines = ["Daily MME = sum over opioids of (dose x doses per day x conversion factor)."]
        total, terms = 0.0, []
        for prefix, (display, factor, unit, _entity) in OPIOIDS.items():
            dose, per_day = v[f"{prefix}_dose"], v[f"{prefix}_doses_per_day"]
            if dose is None and per_day is None:
                continue
            if dose is None:
                raise CalculatorInputError(f"doses per day given without the {display} dose", field=f"{prefix}_dose")
            if per_day is None:
                raise CalculatorInputError(f"{display} dose given without doses per day",
                                           field=f"{prefix}_doses_per_day")
            mme = dose * per_day * factor
            total += mme
            terms.append(fmt(mme))
            shown_unit = unit.replace("ug", "mcg") or "mcg/hr"
            lines.append(f"{display}: {fmt(dose)} {shown_unit} x {fmt(per_day)}/day x {factor} = {fmt(mme)} MME/day.")
        if not terms:
            raise CalculatorInputError("no opioid dose given", field="morphine_dose")
        lines.append(f"Total = {' + '.join(terms)} = {fmt(total)} MME/day.")
        return total, "\n".join(lines)

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        inputs = super().from_entities(entities)
        # MedCalc-Bench labels the patch strength "mg"; the CDC factor is per mcg/hr of patch strength.
        patch = inputs.get("fentanyl_patch_dose")
        if isinstance(patch, tuple):
            inputs["fentanyl_patch_dose"] = patch[0]
        return inputs
