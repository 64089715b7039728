"""Laboratory indices: FIB-4, MELD Na (UNOS/OPTN), HOMA-IR, Friedewald LDL."""

from __future__ import annotations

import math

from clinrl.calculators.base import AGE, Calculator, Field, Values, fmt, register
from clinrl.calculators.electrolytes import GLUCOSE, SODIUM
from clinrl.calculators.renal import CREATININE


@register
class Fib4(Calculator):
    id, slug, name = 19, "fib4", "Fibrosis-4 (FIB-4) Index for Liver Fibrosis"
    category, output_kind, unit = "lab", "decimal", ""
    reference = ("Sterling RK, Lissen E, Clumeck N, et al. Development of a simple noninvasive index to predict "
                 "significant fibrosis in patients with HIV/HCV coinfection. Hepatology. 2006;43:1317-1325.")
    fields = (
        AGE,
        Field("ast", "quantity", "U/L", minimum=1, maximum=50_000, help="aspartate aminotransferase (U/L)",
              entity_keys=("Aspartate aminotransferase", "AST")),
        Field("alt", "quantity", "U/L", minimum=1, maximum=50_000, help="alanine aminotransferase (U/L)",
              entity_keys=("Alanine aminotransferase", "ALT")),
        Field("platelets", "quantity", "10^9/L", minimum=1, maximum=5000, help="platelet count (10^9/L)",
              entity_keys=("Platelet count", "platelets")),
    )

    def formula(self, v: Values):
        value = v["age"] * v["ast"] / (v["platelets"] * math.sqrt(v["alt"]))
        return value, (
            "FIB-4 = age (years) x AST (U/L) / (platelets (10^9/L) x sqrt(ALT (U/L))).\n"
            f"Age {v.text('age')}; AST {v.text('ast')}; ALT {v.text('alt')}; platelets {v.text('platelets')}.\n"
            f"FIB-4 = {fmt(v['age'])} x {fmt(v['ast'])} / ({fmt(v['platelets'])} x sqrt({fmt(v['alt'])})) = "
            f"{fmt(value)}.")


def _half_up(x: float) -> float:
    """Round half away from zero for the positive scores here (Python's round() is half-to-even)."""
    return math.floor(x + 0.5 + 1e-9)


@register
class MeldNa(Calculator):
    id, slug, name = 23, "meld_na", "MELD Na (UNOS/OPTN)"
    category, output_kind, unit = "lab", "decimal", "points"
    reference = ("Kim WR, Biggins SW, Kremers WK, et al. Hyponatremia and mortality among patients on the "
                 "liver-transplant waiting list. N Engl J Med. 2008;359:1018-1026; OPTN/UNOS policy 9.1 "
                 "(MELD-Na, 2016): bounds, x10 rounding and the MELD > 11 condition.")
    fields = (
        CREATININE,
        Field("bilirubin", "quantity", "mg/dL", analyte="bilirubin", minimum=0.05, maximum=80,
              help="total bilirubin (mg/dL)", entity_keys=("Bilirubin",)),
        Field("inr", "float", minimum=0.5, maximum=20, help="INR", entity_keys=("international normalized ratio",)),
        SODIUM,
        Field("dialysis_twice_past_week", "bool", required=False, default=False,
              help="dialysis at least twice in the past week",
              entity_keys=("Dialysis at least twice in the past week", "dialysis_twice")),
        Field("cvvhd_24h_past_week", "bool", required=False, default=False,
              help="CVVHD for >= 24 hours in the past week",
              entity_keys=("Continuous veno-venous hemodialysis for \u226524 hours in the past week", "cvvhd",
                           "cvvd")),
    )

    def formula(self, v: Values):
        lines = ["MELD(i) = 0.957 x ln(Cr) + 0.378 x ln(bilirubin) + 1.120 x ln(INR) + 0.643; MELD = 10 x MELD(i) "
                 "rounded to the tenth; if MELD > 11: MELD-Na = MELD + 1.32 x (137 - Na) - 0.033 x MELD x "
                 "(137 - Na). Values below 1 are set to 1; creatinine is capped at 4 (and set to 4 after "
                 "dialysis twice or 24 h of CVVHD in the past week); sodium is bounded to 125-137; the score is "
                 "capped at 40."]
        dialysis = v["dialysis_twice_past_week"] or v["cvvhd_24h_past_week"]
        cr = 4.0 if dialysis else min(max(v["creatinine"], 1.0), 4.0)
        bili = max(v["bilirubin"], 1.0)
        inr = max(v["inr"], 1.0)
        na = min(max(v["sodium"], 125.0), 137.0)
        lines.append(f"Creatinine {v.text('creatinine')}{' (dialysis: set to 4)' if dialysis else ''} -> {fmt(cr)}; "
                     f"bilirubin {v.text('bilirubin')} -> {fmt(bili)}; INR {fmt(v['inr'])} -> {fmt(inr)}; "
                     f"sodium {v.text('sodium')} -> {fmt(na)}.")
        meld_i = 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(inr) + 0.643
        tenth = _half_up(meld_i * 10) / 10
        meld = int(_half_up(tenth * 10))
        lines.append(f"MELD(i) = 0.957 x ln({fmt(cr)}) + 0.378 x ln({fmt(bili)}) + 1.120 x ln({fmt(inr)}) + 0.643 "
                     f"= {fmt(meld_i, 4)}; MELD = {fmt(tenth, 1)} x 10 = {meld}.")
        score = float(meld)
        if meld > 11:
            score = meld + 1.32 * (137 - na) - 0.033 * meld * (137 - na)
            lines.append(f"MELD > 11, so MELD-Na = {meld} + 1.32 x (137 - {fmt(na)}) - 0.033 x {meld} x "
                         f"(137 - {fmt(na)}) = {fmt(score)}.")
        else:
            lines.append("MELD <= 11, so no sodium adjustment.")
        final = min(int(_half_up(score)), 40)
        lines.append(f"Rounded to the nearest integer (cap 40): {final} points.")
        return final, "\n".join(lines)


@register
class HomaIR(Calculator):
    id, slug, name = 31, "homa_ir", "HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)"
    category, output_kind, unit = "lab", "decimal", ""
    reference = ("Matthews DR, Hosker JP, Rudenski AS, et al. Homeostasis model assessment: insulin resistance "
                 "and beta-cell function from fasting plasma glucose and insulin concentrations in man. "
                 "Diabetologia. 1985;28:412-419.")
    fields = (
        Field("insulin", "quantity", "uIU/mL", analyte="insulin", minimum=0.1, maximum=5000,
              help="fasting insulin (µIU/mL)", entity_keys=("Insulin",)),
        GLUCOSE.with_(help="fasting glucose (mg/dL)"),
    )

    def formula(self, v: Values):
        value = v["insulin"] * v["glucose"] / 405
        return value, (
            "HOMA-IR = fasting insulin (µIU/mL) x fasting glucose (mg/dL) / 405 (= insulin x glucose in mmol/L "
            "/ 22.5).\n"
            f"Insulin {v.text('insulin')}; glucose {v.text('glucose')}.\n"
            f"HOMA-IR = {fmt(v['insulin'])} x {fmt(v['glucose'])} / 405 = {fmt(value)}.")


def _lipid(name: str, analyte: str, help_: str, *keys: str) -> Field:
    return Field(name, "quantity", "mg/dL", analyte=analyte, minimum=1, maximum=5000, help=help_,
                 entity_keys=keys)


# The 2024 entity maps spell "cholestrol"; both spellings are read.
TOTAL_CHOLESTEROL = _lipid("total_cholesterol", "cholesterol", "total cholesterol (mg/dL)", "Total cholesterol",
                           "Total cholestrol", "total_cholestrol")
HDL = _lipid("hdl", "cholesterol", "HDL cholesterol (mg/dL)", "high-density lipoprotein cholesterol",
             "high-density lipoprotein cholestrol", "HDL", "hdl_cholesterol", "hdl_cholestrol")


@register
class LdlFriedewald(Calculator):
    id, slug, name = 44, "ldl_friedewald", "LDL Calculated"
    category, output_kind, unit = "lab", "decimal", "mg/dL"
    reference = ("Friedewald WT, Levy RI, Fredrickson DS. Estimation of the concentration of low-density "
                 "lipoprotein cholesterol in plasma, without use of the preparative ultracentrifuge. Clin Chem. "
                 "1972;18:499-502.")
    fields = (TOTAL_CHOLESTEROL, HDL,
              _lipid("triglycerides", "triglycerides", "triglycerides (mg/dL)", "Triglycerides"))

    def formula(self, v: Values):
        value = v["total_cholesterol"] - v["hdl"] - v["triglycerides"] / 5
        caveat = (" Friedewald is unreliable with triglycerides >= 400 mg/dL."
                  if v["triglycerides"] >= 400 else "")
        return value, (
            "LDL = total cholesterol - HDL - triglycerides / 5 (all mg/dL)." + caveat + "\n"
            f"Total cholesterol {v.text('total_cholesterol')}; HDL {v.text('hdl')}; triglycerides "
            f"{v.text('triglycerides')}.\n"
            f"LDL = {fmt(v['total_cholesterol'])} - {fmt(v['hdl'])} - {fmt(v['triglycerides'])} / 5 = "
            f"{fmt(value)} mg/dL.")
