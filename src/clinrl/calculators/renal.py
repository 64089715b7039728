"""Kidney function: Cockcroft-Gault, CKD-EPI 2021, MDRD, fractional excretion of sodium.

MedCalc-Bench conventions kept here (its question text states them): Cockcroft-Gault uses the
adjusted body weight when BMI >= 25, min(ideal, actual) weight when BMI is normal (18.5-24.9) and the
actual weight when underweight; CKD-EPI is the 2021 race-free creatinine equation.
"""

from __future__ import annotations

from clinrl.calculators.base import (
    AGE,
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
from clinrl.calculators.body import adjusted_body_weight, body_mass_index, ideal_body_weight

CREATININE = Field("creatinine", "quantity", "mg/dL", analyte="creatinine", minimum=0.05, maximum=40,
                   help="serum creatinine", entity_keys=("Creatinine", "serum creatinine", "Pre-operative creatinine"))


@register
class CockcroftGault(Calculator):
    id, slug, name = 2, "cockcroft_gault", "Creatinine Clearance (Cockcroft-Gault Equation)"
    category, output_kind, unit = "lab", "decimal", "mL/min"
    reference = ("Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. "
                 "Nephron. 1976;16:31-41.")
    fields = (AGE, SEX, WEIGHT, HEIGHT.with_(required=False, help="height (cm); selects the dosing weight"),
              CREATININE)

    def formula(self, v: Values):
        lines = [
            "CrCl = (140 - age) x weight x (0.85 if female) / (72 x serum creatinine in mg/dL).",
            f"Age {v.text('age')}; sex {v['sex']}; weight {v.text('weight')}; creatinine {v.text('creatinine')}.",
        ]
        weight = v["weight"]
        if v["height"] is None:
            lines.append("Height is not given, so the actual body weight is used.")
        else:
            bmi, bmi_text = body_mass_index(weight, v["height"])
            lines.append(f"Height {v.text('height')}. {bmi_text}")
            ibw, ibw_text = ideal_body_weight(v["sex"], v["height"])
            if bmi >= 25:
                lines.append(ibw_text)
                weight, abw_text = adjusted_body_weight(v["weight"], ibw)
                lines.append(f"BMI >= 25 (overweight or obese), so the adjusted body weight is used. {abw_text}")
            elif bmi >= 18.5:
                lines.append(ibw_text)
                weight = min(ibw, v["weight"])
                lines.append(f"BMI is normal (18.5-24.9), so the weight used is min(IBW, actual weight) = "
                             f"min({fmt(ibw)}, {fmt(v['weight'])}) = {fmt(weight)} kg.")
            else:
                lines.append(f"BMI < 18.5 (underweight), so the actual weight {fmt(weight)} kg is used.")
        sex_factor = 0.85 if v["sex"] == "Female" else 1.0
        crcl = (140 - v["age"]) * weight * sex_factor / (72 * v["creatinine"])
        lines.append(f"CrCl = (140 - {fmt(v['age'])}) x {fmt(weight)} x {fmt(sex_factor)} / (72 x "
                     f"{fmt(v['creatinine'])}) = {fmt(crcl)} mL/min.")
        return crcl, "\n".join(lines)


@register
class CkdEpi2021(Calculator):
    id, slug, name = 3, "ckd_epi_2021", "CKD-EPI Equations for Glomerular Filtration Rate"
    category, output_kind, unit = "lab", "decimal", "mL/min/1.73 m^2"
    reference = ("Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based equations to "
                 "estimate GFR without race. N Engl J Med. 2021;385:1737-1749.")
    fields = (AGE, SEX, CREATININE)

    def formula(self, v: Values):
        female = v["sex"] == "Female"
        kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
        ratio = v["creatinine"] / kappa
        sex_factor = 1.012 if female else 1.0
        gfr = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938 ** v["age"] * sex_factor
        return gfr, (
            "eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x (1.012 if female), with "
            "k = 0.7 (female) or 0.9 (male) and a = -0.241 (female) or -0.302 (male).\n"
            f"Age {v.text('age')}; sex {v['sex']}; creatinine {v.text('creatinine')}.\n"
            f"Scr/k = {fmt(v['creatinine'])} / {kappa} = {fmt(ratio)}.\n"
            f"eGFR = 142 x {fmt(min(ratio, 1))}^{alpha} x {fmt(max(ratio, 1))}^-1.2 x 0.9938^{fmt(v['age'])} x "
            f"{sex_factor} = {fmt(gfr)} mL/min/1.73 m^2.")


@register
class Mdrd(Calculator):
    id, slug, name = 9, "mdrd", "MDRD GFR Equation"
    category, output_kind, unit = "lab", "decimal", "mL/min/1.73 m^2"
    reference = ("Levey AS, Coresh J, Greene T, et al. Using standardized serum creatinine values in the "
                 "Modification of Diet in Renal Disease study equation for estimating glomerular filtration "
                 "rate. Ann Intern Med. 2006;145:247-254.")
    fields = (AGE, SEX, CREATININE,
              Field("race", "text", required=False, default="", help="race as recorded; 'Black' applies 1.212",
                    entity_keys=("Race",)))

    def formula(self, v: Values):
        race = (v["race"] or "").casefold()
        black = "black" in race or "african" in race
        race_factor = 1.212 if black else 1.0
        sex_factor = 0.742 if v["sex"] == "Female" else 1.0
        if v["age"] <= 0:
            raise CalculatorInputError("MDRD needs an age above 0 years", field="age")
        gfr = 175 * v["creatinine"] ** -1.154 * v["age"] ** -0.203 * race_factor * sex_factor
        return gfr, (
            "GFR = 175 x Scr^-1.154 x age^-0.203 x (0.742 if female) x (1.212 if Black).\n"
            f"Age {v.text('age')}; sex {v['sex']}; creatinine {v.text('creatinine')}; race "
            f"{v['race'] or 'not given'} (race factor {race_factor}).\n"
            f"GFR = 175 x {fmt(v['creatinine'])}^-1.154 x {fmt(v['age'])}^-0.203 x {race_factor} x {sex_factor} = "
            f"{fmt(gfr)} mL/min/1.73 m^2.")


@register
class FractionalExcretionSodium(Calculator):
    id, slug, name = 40, "fena", "Fractional Excretion of Sodium (FENa)"
    category, output_kind, unit = "lab", "decimal", "%"
    reference = ("Espinel CH. The FENa test: use in the differential diagnosis of acute renal failure. "
                 "JAMA. 1976;236:579-581.")
    fields = (
        Field("serum_sodium", "quantity", "mEq/L", analyte="sodium", minimum=80, maximum=250,
              help="serum sodium", entity_keys=("Sodium", "serum sodium")),
        Field("urine_sodium", "quantity", "mEq/L", analyte="sodium", minimum=0, maximum=500,
              help="urine sodium", entity_keys=("Urine sodium",)),
        CREATININE.with_(name="serum_creatinine", entity_keys=("creatinine", "serum creatinine")),
        Field("urine_creatinine", "quantity", "mg/dL", analyte="creatinine", minimum=1, maximum=1000,
              help="urine creatinine", entity_keys=("Urine creatinine",)),
    )

    def formula(self, v: Values):
        fena = 100 * (v["serum_creatinine"] * v["urine_sodium"]) / (v["serum_sodium"] * v["urine_creatinine"])
        return fena, (
            "FENa (%) = 100 x (serum creatinine x urine sodium) / (serum sodium x urine creatinine).\n"
            f"Serum sodium {v.text('serum_sodium')}; urine sodium {v.text('urine_sodium')}; serum creatinine "
            f"{v.text('serum_creatinine')}; urine creatinine {v.text('urine_creatinine')}.\n"
            f"FENa = 100 x ({fmt(v['serum_creatinine'])} x {fmt(v['urine_sodium'])}) / ({fmt(v['serum_sodium'])} x "
            f"{fmt(v['urine_creatinine'])}) = {fmt(fena)} %.")
