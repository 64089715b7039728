"""Comorbidity burden: the Charlson Comorbidity Index (age-adjusted)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinrl.calculators._tally import Tally, band, flag, present, python_names
from clinrl.calculators.base import AGE, Calculator, Field, Values, fmt, register

_LIVER = ("none", "mild", "moderate to severe")
_DIABETES = ("none or diet-controlled", "uncomplicated", "end-organ damage")
_TUMOR = ("none", "localized", "metastatic")
# (field, label, points, entity keys) for the yes/no conditions.
_CONDITIONS = (
    ("mi", "Myocardial infarction", 1, ("Myocardial infarction",)),
    ("chf", "Congestive heart failure", 1, ("Congestive Heart Failure", "Congestive Heart Faliure")),
    ("peripheral_vascular_disease", "Peripheral vascular disease", 1, ("Peripheral vascular disease",)),
    ("dementia", "Dementia", 1, ("Dementia",)),
    ("copd", "Chronic pulmonary disease", 1, ("Chronic Obstructive Pulmonary Disease", "Chronic Pulmonary Disease")),
    ("connective_tissue_disease", "Connective tissue disease", 1, ("Connective tissue disease",)),
    ("peptic_ulcer_disease", "Peptic ulcer disease", 1, ("Peptic ulcer disease",)),
    ("hemiplegia", "Hemiplegia", 2, ("Hemiplegia",)),
    ("moderate_severe_ckd", "Moderate to severe chronic kidney disease", 2,
     ("Moderate to severe Chronic Kidney Disease",)),
    ("leukemia", "Leukemia", 2, ("Leukemia",)),
    ("lymphoma", "Lymphoma", 2, ("Lymphoma",)),
    ("aids", "AIDS", 6, ("AIDS",)),
)


@register
class CharlsonComorbidityIndex(Calculator):
    id, slug, name = 32, "cci", "Charlson Comorbidity Index (CCI)"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Charlson ME, Pompei P, Ales KL, MacKenzie CR. A new method of classifying prognostic comorbidity "
                 "in longitudinal studies: development and validation. J Chronic Dis 1987;40(5):373-383; age "
                 "points: Charlson M, Szatrowski TP, Peterson J, Gold J. J Clin Epidemiol 1994;47(11):1245-1251.")
    fields = (
        AGE,
        flag("cva", "cerebrovascular accident", "Cerebrovascular Accident"),
        flag("tia", "transient ischemic attack", "Transient Ischemic Attacks History"),
        *(flag(name, label, *keys) for name, label, _, keys in _CONDITIONS),
        Field("liver_disease", "choice", choices=_LIVER, required=False, default="none",
              help="liver disease: none, mild (chronic hepatitis or cirrhosis without portal hypertension), "
                   "moderate to severe (cirrhosis with portal hypertension)", entity_keys=("Liver disease severity",),
              synonyms=(("moderate", "moderate to severe"), ("severe", "moderate to severe"), ("absent", "none"))),
        Field("diabetes", "choice", choices=_DIABETES, required=False, default="none or diet-controlled",
              help="diabetes mellitus: none or diet-controlled, uncomplicated, end-organ damage",
              entity_keys=("Diabetes mellitus criteria for CCI rule", "Diabetes mellitus"),
              synonyms=(("none", _DIABETES[0]), ("diet-controlled", _DIABETES[0]))),
        Field("solid_tumor", "choice", choices=_TUMOR, required=False, default="none",
              help="solid tumor: none, localized, metastatic", entity_keys=("Solid tumor",),
              synonyms=(("absent", "none"),)),
    )
    fields = python_names(
        fields, peptic_ulcer_disease="peptic_ucler_disease", moderate_severe_ckd="moderate_to_severe_ckd")

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        # The dataset writes some graded conditions as plain booleans ("Solid tumor": True) and severities
        # outside the yes/no fields ("Moderate to severe Chronic Kidney Disease": "Severe").
        inputs = super().from_entities(entities)
        as_true = {"liver_disease": "mild", "diabetes": "uncomplicated", "solid_tumor": "localized"}
        as_false = {"liver_disease": "none", "diabetes": "none or diet-controlled", "solid_tumor": "none"}
        for name in as_true:
            if isinstance(inputs.get(name), bool):
                inputs[name] = as_true[name] if inputs[name] else as_false[name]
        ckd = inputs.get("moderate_severe_ckd")
        if isinstance(ckd, str) and ckd.strip().casefold() in {"moderate", "severe", "moderate to severe"}:
            inputs["moderate_severe_ckd"] = True
        return inputs

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Charlson Comorbidity Index")
        t.add("Age", f"{fmt(v['age'])} years",
              band(v["age"], [(None, 50, 0), (50, 60, 1), (60, 70, 2), (70, 80, 3), (80, None, 4)]),
              "<50: 0, 50-59: 1, 60-69: 2, 70-79: 3, >=80: 4")
        for name, label, points, _ in _CONDITIONS[:3]:
            t.add(label, present(v[name]), points if v[name] else 0)
        either = v["cva"] or v["tia"]
        t.add("Cerebrovascular accident or TIA", f"CVA {present(v['cva'])}, TIA {present(v['tia'])}", int(either))
        for name, label, points, _ in _CONDITIONS[3:]:
            t.add(label, present(v[name]), points if v[name] else 0)
        t.add("Liver disease", v["liver_disease"], _LIVER.index(v["liver_disease"]) and
              (1 if v["liver_disease"] == "mild" else 3), "mild 1, moderate to severe 3")
        t.add("Diabetes mellitus", v["diabetes"], _DIABETES.index(v["diabetes"]),
              "none or diet-controlled 0, uncomplicated 1, end-organ damage 2")
        t.add("Solid tumor", v["solid_tumor"], {"none": 0, "localized": 2, "metastatic": 6}[v["solid_tumor"]],
              "localized 2, metastatic 6")
        return int(t.total), t.explanation(
            "The Charlson Comorbidity Index sums age points and weighted comorbidities (1, 2, 3 or 6 points).")
