"""Cardiovascular risk scores: CHA2DS2-VASc, Revised Cardiac Risk Index, HEART, HAS-BLED."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinrl.calculators._tally import Tally, band, flag, present, python_names
from clinrl.calculators.base import AGE, SEX, Calculator, Field, Values, entity_key, fmt, register


@register
class CHA2DS2VASc(Calculator):
    id, slug, name = 4, "cha2ds2-vasc", "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Lip GYH, Nieuwlaat R, Pisters R, Lane DA, Crijns HJGM. Refining clinical risk stratification "
                 "for predicting stroke and thromboembolism in atrial fibrillation using a novel risk factor-based "
                 "approach: the Euro Heart Survey on Atrial Fibrillation. Chest 2010;137(2):263-272.")
    fields = (
        AGE, SEX,
        flag("chf", "congestive heart failure (or LV dysfunction)", "Congestive Heart Failure",
             "Congestive Heart Faliure"),
        flag("hypertension", "hypertension history", "Hypertension history", "Hypertension"),
        flag("stroke", "prior stroke", "Stroke", "Stroke history"),
        flag("tia", "prior transient ischemic attack", "Transient Ischemic Attacks History"),
        flag("thromboembolism", "prior thromboembolism", "Thromboembolism history"),
        flag("vascular_disease", "vascular disease (prior MI, peripheral artery disease, aortic plaque)",
             "Vascular disease history"),
        flag("diabetes", "diabetes mellitus", "Diabetes history", "Diabetes mellitus"),
    )

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("CHA2DS2-VASc score")
        age = v["age"]
        t.add("Age", f"{fmt(age)} years", band(age, [(None, 65, 0), (65, 75, 1), (75, None, 2)]),
              "<65: 0, 65-74: 1, >=75: 2")
        t.add("Sex category", v["sex"], 1 if v["sex"] == "Female" else 0, "female: 1")
        t.add("Congestive heart failure", present(v["chf"]), int(v["chf"]))
        t.add("Hypertension", present(v["hypertension"]), int(v["hypertension"]))
        events = [n for n in ("stroke", "tia", "thromboembolism") if v[n]]
        t.add("Stroke, TIA or thromboembolism", ", ".join(events) if events else "none", 2 if events else 0,
              "any of the three: 2")
        t.add("Vascular disease", present(v["vascular_disease"]), int(v["vascular_disease"]))
        t.add("Diabetes mellitus", present(v["diabetes"]), int(v["diabetes"]))
        return int(t.total), t.explanation(
            "CHA2DS2-VASc = CHF (1) + hypertension (1) + age >=75 (2) or 65-74 (1) + diabetes (1) + prior "
            "stroke/TIA/thromboembolism (2) + vascular disease (1) + female sex (1).")


@register
class RevisedCardiacRiskIndex(Calculator):
    id, slug, name = 17, "rcri", "Revised Cardiac Risk Index for Pre-Operative Risk"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Lee TH, Marcantonio ER, Mangione CM, et al. Derivation and prospective validation of a simple "
                 "index for prediction of cardiac risk of major noncardiac surgery. Circulation "
                 "1999;100(10):1043-1049.")
    fields = (
        flag("elevated_risk_surgery", "intraperitoneal, intrathoracic or suprainguinal vascular surgery",
             "Elevated-risk surgery"),
        flag("ischemic_heart_disease", "history of ischemic heart disease", "History of ischemic heart disease"),
        flag("chf", "history of congestive heart failure",
             "Congestive Heart Failure criteria for the Cardiac Risk Index rule"),
        flag("cerebrovascular_disease", "history of stroke or TIA", "History of cerebrovascular disease",
             "Cerebrovascular disease history"),
        flag("insulin", "pre-operative treatment with insulin", "Pre-operative treatment with insulin"),
        Field("creatinine", "quantity", "mg/dL", required=False, default=None, analyte="creatinine", minimum=0,
              help="pre-operative serum creatinine", entity_keys=("Pre-operative creatinine",)),
        AGE.with_(required=False, help="age (not scored; MedCalc-Bench lists it)"),
    )
    fields = python_names(
        fields, chf="congestive_heart_failure", ischemic_heart_disease="ischemetic_heart_disease",
        insulin="pre_operative_insulin_treatment")

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        # MedCalc-Bench rows may carry both "History of cerebrovascular disease" and "Cerebrovascular disease
        # history"; a documented history under either key is a history (see known_defects for the rows).
        inputs = super().from_entities(entities)
        keys = {entity_key(k): val for k, val in entities.items()}
        both = [keys.get(entity_key(k)) for k in ("History of cerebrovascular disease",
                                                  "Cerebrovascular disease history")]
        if any(b is True for b in both):
            inputs["cerebrovascular_disease"] = True
        return inputs

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Revised Cardiac Risk Index")
        t.add("Elevated-risk surgery", present(v["elevated_risk_surgery"]), int(v["elevated_risk_surgery"]))
        t.add("History of ischemic heart disease", present(v["ischemic_heart_disease"]),
              int(v["ischemic_heart_disease"]))
        t.add("History of congestive heart failure", present(v["chf"]), int(v["chf"]))
        t.add("History of cerebrovascular disease", present(v["cerebrovascular_disease"]),
              int(v["cerebrovascular_disease"]))
        t.add("Pre-operative insulin treatment", present(v["insulin"]), int(v["insulin"]))
        cr = v["creatinine"]
        if cr is None:
            t.add("Pre-operative creatinine > 2 mg/dL", "not given (taken as normal)", 0)
        else:
            t.add("Pre-operative creatinine > 2 mg/dL", v.text("creatinine"), 1 if cr > 2 else 0)
        return int(t.total), t.explanation(
            "The RCRI counts one point for each of: elevated-risk surgery, ischemic heart disease, congestive "
            "heart failure, cerebrovascular disease, pre-operative insulin, creatinine > 2 mg/dL.")


_HISTORY = ("Slightly suspicious", "Moderately suspicious", "Highly suspicious")
_ECG = ("Normal", "Non-specific repolarization disturbance", "Significant ST deviation")
_TROPONIN = ("less than or equal to normal limit", "between the normal limit or up to three times the normal limit",
             "greater than three times normal limit")


@register
class HeartScore(Calculator):
    id, slug, name = 18, "heart-score", "HEART Score for Major Cardiac Events"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Six AJ, Backus BE, Kelder JC. Chest pain in the emergency room: value of the HEART score. "
                 "Neth Heart J 2008;16(6):191-196; Backus BE et al. A prospective validation of the HEART score "
                 "for chest pain patients at the emergency department. Int J Cardiol 2013;168(3):2153-2158.")
    fields = (
        Field("history", "choice", choices=_HISTORY, required=False, default="Slightly suspicious",
              help="how suspicious the history is for ACS", entity_keys=("Suspicion History",),
              synonyms=(("slightly", _HISTORY[0]), ("moderately", _HISTORY[1]), ("highly", _HISTORY[2]))),
        Field("ecg", "choice", choices=_ECG, required=False, default="Normal", help="ECG finding",
              entity_keys=("Electrocardiogram Test",),
              synonyms=(("non-specific repolarisation disturbance", _ECG[1]), ("st deviation", _ECG[2]))),
        AGE,
        flag("hypertension", "hypertension", "Hypertension history"),
        flag("hypercholesterolemia", "hypercholesterolemia", "hypercholesterolemia"),
        flag("diabetes", "diabetes mellitus", "Diabetes mellitus", "Diabetes mellitus criteria for CCI rule"),
        flag("obesity", "obesity (BMI > 30 kg/m2)", "obesity"),
        flag("smoking", "current or recent (< 3 months) smoker", "smoking"),
        flag("family_history", "parent or sibling with cardiovascular disease before 65",
             "parent or sibling with Cardiovascular disease before age 65"),
        flag("atherosclerotic_disease", "known atherosclerotic disease (prior MI, PCI/CABG, stroke/TIA, PAD)",
             "atherosclerotic disease"),
        flag("tia", "prior transient ischemic attack (an atherosclerotic disease)",
             "Transient Ischemic Attacks History"),
        Field("troponin", "choice", choices=_TROPONIN, required=False, default=_TROPONIN[0],
              help="initial troponin relative to the normal limit", entity_keys=("Initial troponin",),
              synonyms=(("normal", _TROPONIN[0]), ("1-3x normal limit", _TROPONIN[1]),
                        (">3x normal limit", _TROPONIN[2]))),
    )
    fields = python_names(
        fields, ecg="electrocardiogram", family_history="family_with_cvd",
        hypercholesterolemia="hypercholesterolaemia")
    _RISK_FACTORS = (("hypertension", "hypertension"), ("hypercholesterolemia", "hypercholesterolemia"),
                     ("diabetes", "diabetes mellitus"), ("obesity", "obesity"), ("smoking", "smoking"),
                     ("family_history", "family history of early cardiovascular disease"))

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("HEART score")
        t.add("History", v["history"], _HISTORY.index(v["history"]), "slightly 0, moderately 1, highly 2")
        t.add("ECG", v["ecg"], _ECG.index(v["ecg"]), "normal 0, non-specific repolarization 1, ST deviation 2")
        t.add("Age", f"{fmt(v['age'])} years", band(v["age"], [(None, 45, 0), (45, 65, 1), (65, None, 2)]),
              "<45: 0, 45-64: 1, >=65: 2")
        factors = [label for name, label in self._RISK_FACTORS if v[name]]
        athero = v["atherosclerotic_disease"] or v["tia"]
        if athero:
            points, why = 2, "known atherosclerotic disease: 2"
        else:
            points, why = (0 if not factors else 1 if len(factors) <= 2 else 2), "none 0, 1-2: 1, >=3: 2"
        finding = (f"{len(factors)} risk factor(s)" + (f" ({', '.join(factors)})" if factors else "")
                   + ("; history of atherosclerotic disease" if athero else ""))
        t.add("Risk factors", finding, points, why)
        t.add("Initial troponin", v["troponin"], _TROPONIN.index(v["troponin"]), "<=normal 0, 1-3x 1, >3x 2")
        return int(t.total), t.explanation(
            "HEART = History + ECG + Age + Risk factors + Troponin, each 0-2 points.")


@register
class HasBled(Calculator):
    id, slug, name = 25, "has-bled", "HAS-BLED Score for Major Bleeding Risk"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Pisters R, Lane DA, Nieuwlaat R, de Vos CB, Crijns HJGM, Lip GYH. A novel user-friendly score "
                 "(HAS-BLED) to assess 1-year risk of major bleeding in patients with atrial fibrillation: the "
                 "Euro Heart Survey. Chest 2010;138(5):1093-1100.")
    fields = (
        AGE,
        flag("hypertension", "uncontrolled hypertension (systolic > 160 mm Hg)", "Hypertension",
             "Hypertension history"),
        flag("renal_disease", "renal disease (dialysis, transplant, creatinine > 2.26 mg/dL)",
             "Renal disease criteria for the HAS-BLED rule"),
        flag("liver_disease", "liver disease (cirrhosis, bilirubin > 2x normal with AST/ALT > 3x normal)",
             "Liver disease criteria for the HAS-BLED rule"),
        flag("stroke", "prior stroke", "Stroke"),
        flag("prior_bleeding", "prior major bleeding or predisposition to bleeding",
             "Prior major bleeding or predisposition to bleeding"),
        flag("labile_inr", "labile INR (time in therapeutic range < 60%)", "Labile international normalized ratio"),
        flag("bleeding_medication", "antiplatelet agents or NSAIDs", "Medication usage predisposing to bleeding"),
        Field("alcohol_drinks_per_week", "int", required=False, default=0, minimum=0, maximum=500,
              help="alcoholic drinks per week (>= 8 scores a point)",
              entity_keys=("Number of Alcoholic Drinks Per Week",)),
    )
    fields = python_names(
        fields, liver_disease="liver_disease_has_bled", renal_disease="renal_disease_has_bled",
        alcohol_drinks_per_week="alcoholic_drinks",
        bleeding_medication=("medications for bleeding", "medications_for_bleeding"))

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("HAS-BLED score")
        t.add("Hypertension (uncontrolled)", present(v["hypertension"]), int(v["hypertension"]))
        t.add("Abnormal renal function", present(v["renal_disease"]), int(v["renal_disease"]))
        t.add("Abnormal liver function", present(v["liver_disease"]), int(v["liver_disease"]))
        t.add("Stroke history", present(v["stroke"]), int(v["stroke"]))
        t.add("Prior major bleeding or predisposition", present(v["prior_bleeding"]), int(v["prior_bleeding"]))
        t.add("Labile INR", present(v["labile_inr"]), int(v["labile_inr"]))
        t.add("Elderly (age > 65)", f"{fmt(v['age'])} years", 1 if v["age"] > 65 else 0)
        t.add("Drugs predisposing to bleeding", present(v["bleeding_medication"]), int(v["bleeding_medication"]))
        drinks = v["alcohol_drinks_per_week"]
        t.add("Alcohol (>= 8 drinks/week)", f"{drinks} drinks/week", 1 if drinks >= 8 else 0)
        return int(t.total), t.explanation(
            "HAS-BLED counts one point for each of: uncontrolled hypertension, abnormal renal function, abnormal "
            "liver function, stroke, bleeding history, labile INR, age > 65, drugs, alcohol >= 8 drinks/week.")
