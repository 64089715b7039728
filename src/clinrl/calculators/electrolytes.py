"""Electrolyte and osmolality calculators: anion gap family, calcium and sodium corrections, serum
osmolality, free water deficit.

MedCalc-Bench conventions kept here: a normal anion gap of 12 mEq/L and normal bicarbonate of
24 mEq/L for the delta gap/ratio; normal albumin 4 g/dL; the ideal sodium 140 mEq/L for the free
water deficit; glucose/18 and BUN/2.8 in the osmolality.
"""

from __future__ import annotations

from clinrl.calculators.base import (
    AGE,
    SEX,
    WEIGHT,
    Calculator,
    CalculatorInputError,
    Field,
    Values,
    fmt,
    register,
)


def _ion(name: str, analyte: str, key: str, low: float, high: float, **kw) -> Field:
    return Field(name, "quantity", "mEq/L", analyte=analyte, minimum=low, maximum=high,
                 help=f"serum {analyte} (mEq/L)", entity_keys=(key,), **kw)


SODIUM = _ion("sodium", "sodium", "Sodium", 80, 220)
CHLORIDE = _ion("chloride", "chloride", "Chloride", 40, 180)
BICARBONATE = _ion("bicarbonate", "bicarbonate", "Bicarbonate", 0, 70)
ALBUMIN = Field("albumin", "quantity", "g/dL", analyte="albumin", minimum=0.3, maximum=8,
                help="serum albumin (g/dL)", entity_keys=("Albumin", "Albmumin"))  # the 2024 map's typo
GLUCOSE = Field("glucose", "quantity", "mg/dL", analyte="glucose", minimum=5, maximum=5000,
                help="serum glucose (mg/dL)", entity_keys=("Glucose",))

NORMAL_ANION_GAP = 12.0
NORMAL_BICARBONATE = 24.0
NORMAL_ALBUMIN = 4.0

ANION_GAP_REFERENCE = ("Emmett M, Narins RG. Clinical use of the anion gap. Medicine (Baltimore). "
                       "1977;56:38-54.")
ALBUMIN_REFERENCE = ("Figge J, Jabor A, Kazda A, Fencl V. Anion gap and hypoalbuminemia. Crit Care Med. "
                     "1998;26:1807-1810.")
DELTA_REFERENCE = ("Wrenn K. The delta (delta) gap: an approach to mixed acid-base disorders. Ann Emerg Med. "
                   "1990;19:1310-1313; Rastegar A. Use of the delta-AG/delta-HCO3 ratio in the diagnosis of "
                   "mixed acid-base disorders. J Am Soc Nephrol. 2007;18:2429-2431.")


def anion_gap(v: Values) -> tuple[float, list[str]]:
    gap = v["sodium"] - (v["chloride"] + v["bicarbonate"])
    return gap, [
        "Anion gap = sodium - (chloride + bicarbonate), all in mEq/L.",
        f"Sodium {v.text('sodium')}; chloride {v.text('chloride')}; bicarbonate {v.text('bicarbonate')}.",
        f"Anion gap = {fmt(v['sodium'])} - ({fmt(v['chloride'])} + {fmt(v['bicarbonate'])}) = {fmt(gap)} mEq/L.",
    ]


def albumin_corrected_gap(v: Values) -> tuple[float, list[str]]:
    gap, lines = anion_gap(v)
    corrected = gap + 2.5 * (NORMAL_ALBUMIN - v["albumin"])
    lines += [
        "Albumin-corrected anion gap = anion gap + 2.5 x (4 - albumin in g/dL).",
        f"Albumin {v.text('albumin')}.",
        f"Corrected anion gap = {fmt(gap)} + 2.5 x (4 - {fmt(v['albumin'])}) = {fmt(corrected)} mEq/L.",
    ]
    return corrected, lines


class _AnionGapFamily(Calculator):
    """Anion gap -> delta gap (gap - 12) -> delta ratio (delta gap / (24 - bicarbonate)), optionally with the
    albumin-corrected gap in place of the anion gap. ``stage`` picks how far along the chain to go."""

    category, output_kind = "lab", "decimal"
    albumin_corrected: bool = False
    stage: str = "gap"  # gap | delta | ratio

    def formula(self, v: Values):
        gap, lines = albumin_corrected_gap(v) if self.albumin_corrected else anion_gap(v)
        label = "albumin-corrected anion gap" if self.albumin_corrected else "anion gap"
        if self.stage == "gap":
            return gap, "\n".join(lines)
        delta = gap - NORMAL_ANION_GAP
        lines += [f"Delta gap = {label} - 12 (the normal anion gap) = {fmt(gap)} - 12 = {fmt(delta)} mEq/L."]
        if self.stage == "delta":
            return delta, "\n".join(lines)
        denominator = NORMAL_BICARBONATE - v["bicarbonate"]
        if denominator == 0:
            raise CalculatorInputError("bicarbonate of exactly 24 mEq/L makes the delta ratio undefined",
                                       field="bicarbonate")
        ratio = delta / denominator
        lines += [f"Delta ratio = delta gap / (24 - bicarbonate) = {fmt(delta)} / (24 - {fmt(v['bicarbonate'])}) "
                  f"= {fmt(ratio)}."]
        return ratio, "\n".join(lines)


@register
class AnionGap(_AnionGapFamily):
    id, slug, name, unit = 39, "anion_gap", "Anion Gap", "mEq/L"
    reference = ANION_GAP_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE)


@register
class DeltaGap(_AnionGapFamily):
    id, slug, name, unit, stage = 63, "delta_gap", "Delta Gap", "mEq/L", "delta"
    reference = DELTA_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE)


@register
class DeltaRatio(_AnionGapFamily):
    id, slug, name, unit, stage = 64, "delta_ratio", "Delta Ratio", "", "ratio"
    reference = DELTA_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE)


@register
class AlbuminCorrectedAnionGap(_AnionGapFamily):
    id, slug, name, unit = 65, "albumin_corrected_anion_gap", "Albumin Corrected Anion Gap", "mEq/L"
    albumin_corrected, reference = True, ALBUMIN_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE, ALBUMIN)


@register
class AlbuminCorrectedDeltaGap(_AnionGapFamily):
    id, slug, name, unit, stage = 66, "albumin_corrected_delta_gap", "Albumin Corrected Delta Gap", "mEq/L", "delta"
    albumin_corrected, reference = True, ALBUMIN_REFERENCE + " " + DELTA_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE, ALBUMIN)


@register
class AlbuminCorrectedDeltaRatio(_AnionGapFamily):
    id, slug, name, unit, stage = 67, "albumin_corrected_delta_ratio", "Albumin Corrected Delta Ratio", "", "ratio"
    albumin_corrected, reference = True, ALBUMIN_REFERENCE + " " + DELTA_REFERENCE
    fields = (SODIUM, CHLORIDE, BICARBONATE, ALBUMIN)


@register
class CalciumCorrection(Calculator):
    id, slug, name = 7, "calcium_correction", "Calcium Correction for Hypoalbuminemia"
    category, output_kind, unit = "lab", "decimal", "mg/dL"
    reference = ("Payne RB, Little AJ, Williams RB, Milner JR. Interpretation of serum calcium in patients "
                 "with abnormal serum proteins. Br Med J. 1973;4:643-646.")
    fields = (
        Field("calcium", "quantity", "mg/dL", analyte="calcium", minimum=1, maximum=25,
              help="total serum calcium (mg/dL)", entity_keys=("Calcium",)),
        ALBUMIN,
        Field("normal_albumin", "quantity", "g/dL", analyte="albumin", required=False, default=NORMAL_ALBUMIN,
              positive=True, maximum=8, help="normal albumin (g/dL); 4 by convention"),
    )

    def formula(self, v: Values):
        corrected = v["calcium"] + 0.8 * (v["normal_albumin"] - v["albumin"])
        return corrected, (
            "Corrected calcium = serum calcium + 0.8 x (normal albumin - albumin), calcium in mg/dL, albumin "
            "in g/dL.\n"
            f"Calcium {v.text('calcium')}; albumin {v.text('albumin')}; normal albumin {fmt(v['normal_albumin'])} "
            f"g/dL.\nCorrected calcium = {fmt(v['calcium'])} + 0.8 x ({fmt(v['normal_albumin'])} - "
            f"{fmt(v['albumin'])}) = {fmt(corrected)} mg/dL.")


@register
class SodiumCorrectionHyperglycemia(Calculator):
    id, slug, name = 26, "sodium_correction_hyperglycemia", "Sodium Correction for Hyperglycemia"
    category, output_kind, unit = "lab", "decimal", "mEq/L"
    reference = ("Hillier TA, Abbott RD, Barrett EJ. Hyponatremia: evaluating the correction factor for "
                 "hyperglycemia. Am J Med. 1999;106:399-403.")
    fields = (SODIUM, GLUCOSE)

    def formula(self, v: Values):
        corrected = v["sodium"] + 0.024 * (v["glucose"] - 100)
        return corrected, (
            "Corrected sodium = measured sodium + 0.024 x (glucose in mg/dL - 100) (Hillier: 2.4 mEq/L per "
            "100 mg/dL of glucose).\n"
            f"Sodium {v.text('sodium')}; glucose {v.text('glucose')}.\n"
            f"Corrected sodium = {fmt(v['sodium'])} + 0.024 x ({fmt(v['glucose'])} - 100) = {fmt(corrected)} mEq/L.")


@register
class SerumOsmolality(Calculator):
    id, slug, name = 30, "serum_osmolality", "Serum Osmolality"
    category, output_kind, unit = "lab", "decimal", "mOsm/kg"
    reference = ("Calculated osmolality 2 x Na + glucose/18 + BUN/2.8 (mg/dL units); Rasouli M. Basic concepts "
                 "and practical equations on osmolality: biochemical approach. Clin Biochem. 2016;49:936-941.")
    fields = (
        SODIUM,
        Field("bun", "quantity", "mg/dL", analyte="bun", minimum=0, maximum=300, help="blood urea nitrogen (mg/dL)",
              entity_keys=("Blood Urea Nitrogen (BUN)", "BUN")),
        GLUCOSE,
    )

    def formula(self, v: Values):
        osm = 2 * v["sodium"] + v["bun"] / 2.8 + v["glucose"] / 18
        return osm, (
            "Serum osmolality = 2 x sodium (mmol/L) + BUN (mg/dL) / 2.8 + glucose (mg/dL) / 18.\n"
            f"Sodium {v.text('sodium')} (= mmol/L for a monovalent ion); BUN {v.text('bun')}; glucose "
            f"{v.text('glucose')}.\n"
            f"Osmolality = 2 x {fmt(v['sodium'])} + {fmt(v['bun'])} / 2.8 + {fmt(v['glucose'])} / 18 = {fmt(osm)} "
            "mOsm/kg.")


def total_body_water_fraction(age: float, sex: str) -> tuple[float, str]:
    """Fraction of body weight that is water, by age and sex (the usual clinical estimates)."""
    if age < 18:
        return 0.6, "a child (age < 18): total body water fraction 0.6"
    if age >= 65:
        return (0.5, "an elderly man (age >= 65): fraction 0.5") if sex == "Male" else (
            0.45, "an elderly woman (age >= 65): fraction 0.45")
    return (0.6, "an adult man (18-64): fraction 0.6") if sex == "Male" else (
        0.5, "an adult woman (18-64): fraction 0.5")


@register
class FreeWaterDeficit(Calculator):
    id, slug, name = 38, "free_water_deficit", "Free Water Deficit"
    category, output_kind, unit = "lab", "decimal", "L"
    reference = "Adrogue HJ, Madias NE. Hypernatremia. N Engl J Med. 2000;342:1493-1499."
    fields = (AGE, SEX, WEIGHT, SODIUM)

    def formula(self, v: Values):
        fraction, who = total_body_water_fraction(v["age"], v["sex"])
        deficit = fraction * v["weight"] * (v["sodium"] / 140 - 1)
        return deficit, (
            "Free water deficit (L) = total body water fraction x weight (kg) x (sodium / 140 - 1).\n"
            f"Age {v.text('age')}; sex {v['sex']}; weight {v.text('weight')}; sodium {v.text('sodium')}.\n"
            f"The patient is {who}.\n"
            f"Deficit = {fraction} x {fmt(v['weight'])} x ({fmt(v['sodium'])} / 140 - 1) = {fmt(deficit)} L.")
