"""Framingham risk score for hard coronary heart disease (10-year risk of MI or coronary death).

The NCEP ATP III (2001) sex-specific Cox model: L = sum of coefficient x term, 10-year risk
= 1 - S10^exp(L), reported in percent. Smokers' age term uses min(age, 70) for men and min(age, 78) for
women, as the model was fitted. MedCalc-Bench v1.0 reports the raw fraction (not x 100) rounded to 3
decimals, so most of its labels are 0; clinrl reports percent (see
:mod:`clinrl.tasks.medcalc.known_defects`).
"""

from __future__ import annotations

import math

from clinrl.calculators.base import AGE, SEX, Calculator, Field, Values, fmt, register
from clinrl.calculators.lab_indices import HDL, TOTAL_CHOLESTEROL

_MALE = {"ln_age": 52.00961, "ln_tc": 20.014077, "ln_hdl": -0.905964, "ln_sbp": 1.305784, "bp_treated": 0.241549,
         "smoker": 12.096316, "ln_age_x_ln_tc": -4.605038, "ln_age_smoke_x_smoker": -2.84367,
         "ln_age_sq": -2.93323, "constant": -172.300168, "s10": 0.9402, "age_smoke_cap": 70}
_FEMALE = {"ln_age": 31.764001, "ln_tc": 22.465206, "ln_hdl": -1.187731, "ln_sbp": 2.552905, "bp_treated": 0.420251,
           "smoker": 13.07543, "ln_age_x_ln_tc": -5.060998, "ln_age_smoke_x_smoker": -2.996945,
           "ln_age_sq": 0.0, "constant": -146.5933061, "s10": 0.98767, "age_smoke_cap": 78}


@register
class FraminghamHardChd(Calculator):
    id, slug, name = 46, "framingham_hard_chd", "Framingham Risk Score for Hard Coronary Heart Disease"
    category, output_kind, unit = "lab", "decimal", "%"
    reference = ("Expert Panel on Detection, Evaluation, and Treatment of High Blood Cholesterol in Adults. "
                 "Executive Summary of the Third Report of the NCEP (Adult Treatment Panel III). JAMA. "
                 "2001;285:2486-2497 (Framingham hard CHD risk equations).")
    fields = (
        AGE.with_(minimum=20, help="age (years; the model covers 20-79)"),
        SEX,
        Field("sbp", "quantity", "mmHg", minimum=40, maximum=350, help="systolic blood pressure",
              entity_keys=("Systolic Blood Pressure", "sys_bp")),
        Field("smoker", "bool", required=False, default=False, help="current smoker", entity_keys=("Smoker",)),
        TOTAL_CHOLESTEROL,
        HDL,
        Field("bp_treated", "bool", required=False, default=False, help="on blood-pressure medication",
              entity_keys=("Blood pressure being treated with medicines", "bp_medicine")),
    )

    def formula(self, v: Values):
        c = _MALE if v["sex"] == "Male" else _FEMALE
        ln_age = math.log(v["age"])
        ln_tc, ln_hdl, ln_sbp = math.log(v["total_cholesterol"]), math.log(v["hdl"]), math.log(v["sbp"])
        smoker, treated = float(v["smoker"]), float(v["bp_treated"])
        age_smoke = min(v["age"], c["age_smoke_cap"])
        terms = {
            "ln_age": ln_age, "ln_tc": ln_tc, "ln_hdl": ln_hdl, "ln_sbp": ln_sbp, "bp_treated": treated,
            "smoker": smoker, "ln_age_x_ln_tc": ln_age * ln_tc,
            "ln_age_smoke_x_smoker": math.log(age_smoke) * smoker, "ln_age_sq": ln_age * ln_age,
        }
        linear = c["constant"] + sum(c[k] * x for k, x in terms.items())
        risk = 1 - c["s10"] ** math.exp(linear)
        percent = 100 * risk
        parts = " ".join(f"{'-' if c[k] < 0 else '+'} {abs(c[k])} x {fmt(x, 4)}" for k, x in terms.items() if c[k])
        parts = parts[2:] if parts.startswith("+ ") else parts
        return percent, (
            f"ATP III Framingham hard CHD model for a {v['sex'].lower()} patient: L = sum of coefficient x term "
            f"(terms ln(age), ln(total cholesterol), ln(HDL), ln(systolic BP), BP treated, smoker, "
            f"ln(age) x ln(total cholesterol), ln(min(age, {c['age_smoke_cap']})) x smoker"
            f"{', ln(age)^2' if c['ln_age_sq'] else ''}) - {abs(c['constant'])}; "
            f"10-year risk = 1 - {c['s10']}^exp(L).\n"
            f"Age {v.text('age')}; systolic BP {v.text('sbp')}; total cholesterol {v.text('total_cholesterol')}; "
            f"HDL {v.text('hdl')}; smoker: {'yes' if smoker else 'no'}; BP treated: {'yes' if treated else 'no'}.\n"
            f"L = {parts} - {abs(c['constant'])} = {fmt(linear, 4)}.\n"
            f"Risk = 1 - {c['s10']}^exp({fmt(linear, 4)}) = {fmt(risk, 5)} = {fmt(percent)} %.")
