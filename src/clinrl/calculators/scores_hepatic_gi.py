"""Liver and gastrointestinal scores: Child-Pugh, Glasgow-Blatchford bleeding score."""

from __future__ import annotations

from clinrl.calculators._tally import Tally, band, flag, optional, present, python_names
from clinrl.calculators.base import SEX, Calculator, Field, Values, register

_ASCITES = ("absent", "slight", "moderate")
_ENCEPHALOPATHY = ("none", "Grade 1-2", "Grade 3-4")


@register
class ChildPugh(Calculator):
    id, slug, name = 15, "child-pugh", "Child-Pugh Score for Cirrhosis Mortality"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Pugh RN, Murray-Lyon IM, Dawson JL, Pietroni MC, Williams R. Transection of the oesophagus for "
                 "bleeding oesophageal varices. Br J Surg 1973;60(8):646-649.")
    fields = (
        Field("bilirubin", "quantity", "mg/dL", analyte="bilirubin", minimum=0, maximum=100,
              help="total bilirubin", entity_keys=("Bilirubin", "total bilirubin")),
        Field("albumin", "quantity", "g/dL", analyte="albumin", minimum=0, maximum=15, help="serum albumin",
              entity_keys=("Albumin",)),
        Field("inr", "float", minimum=0.1, maximum=30, help="international normalized ratio",
              entity_keys=("international normalized ratio", "INR")),
        Field("ascites", "choice", choices=_ASCITES, required=False, default="absent",
              help="ascites: absent, slight, moderate (or severe)", entity_keys=("Ascites",),
              synonyms=(("none", "absent"), ("mild", "slight"), ("severe", "moderate"),
                        ("moderate to severe", "moderate"))),
        Field("encephalopathy", "choice", choices=_ENCEPHALOPATHY, required=False, default="none",
              help="hepatic encephalopathy: none, grade 1-2, grade 3-4", entity_keys=("Encephalopathy",),
              synonyms=(("No Encephalopathy", "none"), ("Grade 0", "none"), ("absent", "none"),
                        ("grade 1-2 encephalopathy", "Grade 1-2"), ("grade 3-4 encephalopathy", "Grade 3-4"))),
    )

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Child-Pugh score")
        t.add("Total bilirubin", v.text("bilirubin"), band(v["bilirubin"], [(None, 2, 1), (2, 3.0000001, 2),
                                                                          (3.0000001, None, 3)]),
              "< 2 mg/dL: 1, 2-3: 2, > 3: 3")
        t.add("Albumin", v.text("albumin"), band(v["albumin"], [(None, 2.8, 3), (2.8, 3.5000001, 2),
                                                                (3.5000001, None, 1)]),
              "> 3.5 g/dL: 1, 2.8-3.5: 2, < 2.8: 3")
        t.add("INR", v.text("inr"), band(v["inr"], [(None, 1.7, 1), (1.7, 2.3000001, 2), (2.3000001, None, 3)]),
              "< 1.7: 1, 1.7-2.3: 2, > 2.3: 3")
        t.add("Ascites", v["ascites"], _ASCITES.index(v["ascites"]) + 1, "absent 1, slight 2, moderate 3")
        t.add("Hepatic encephalopathy", v["encephalopathy"], _ENCEPHALOPATHY.index(v["encephalopathy"]) + 1,
              "none 1, grade 1-2: 2, grade 3-4: 3")
        grade = "A" if t.total <= 6 else "B" if t.total <= 9 else "C"
        return int(t.total), t.explanation(
            "Child-Pugh sums 1-3 points for each of bilirubin, albumin, INR, ascites and encephalopathy "
            "(5-6 class A, 7-9 class B, 10-15 class C).",
            f"the patient's Child-Pugh score is {int(t.total)} (class {grade})")


@register
class GlasgowBlatchford(Calculator):
    id, slug, name = 27, "glasgow-blatchford", "Glasgow-Blatchford Bleeding Score (GBS)"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Blatchford O, Murray WR, Blatchford M. A risk score to predict need for treatment for "
                 "upper-gastrointestinal haemorrhage. Lancet 2000;356(9238):1318-1321.")
    fields = (
        SEX,
        Field("bun", "quantity", "mg/dL", analyte="bun", minimum=0, maximum=500,
              help="blood urea nitrogen (urea mmol/L accepted: 1 mmol/L = 2.8 mg/dL BUN)",
              entity_keys=("Blood Urea Nitrogen (BUN)", "BUN")),
        Field("hemoglobin", "quantity", "g/dL", minimum=0, maximum=30, help="hemoglobin",
              entity_keys=("Hemoglobin",)),
        Field("systolic_bp", "quantity", "mmHg", minimum=0, maximum=350, help="systolic blood pressure",
              entity_keys=("Systolic Blood Pressure",)),
        optional("heart_rate", "/min", "heart rate", "Heart Rate or Pulse", maximum=400),
        flag("melena", "melena present", "Melena present"),
        flag("syncope", "recent syncope", "Recent syncope"),
        flag("hepatic_disease", "history of hepatic disease", "Hepatic disease history"),
        flag("cardiac_failure", "cardiac failure present", "Cardiac failure present"),
    )
    fields = python_names(
        fields, systolic_bp="sys_bp")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Glasgow-Blatchford score")
        # Blatchford's urea bands (mmol/L) 6.5 / 8 / 10 / 25 are BUN 18.2 / 22.4 / 28 / 70 mg/dL.
        t.add("BUN", v.text("bun"), band(v["bun"], [(None, 18.2, 0), (18.2, 22.4, 2), (22.4, 28, 3), (28, 70, 4),
                                                    (70, None, 6)]),
              "< 18.2 mg/dL: 0, 18.2-22.3: 2, 22.4-27.9: 3, 28-69.9: 4, >= 70: 6")
        if v["sex"] == "Male":
            hb = band(v["hemoglobin"], [(None, 10, 6), (10, 12, 3), (12, 13, 1), (13, None, 0)])
            why = "men: >= 13 g/dL 0, 12-12.9: 1, 10-11.9: 3, < 10: 6"
        else:
            hb = band(v["hemoglobin"], [(None, 10, 6), (10, 12, 1), (12, None, 0)])
            why = "women: >= 12 g/dL 0, 10-11.9: 1, < 10: 6"
        t.add(f"Hemoglobin ({v['sex'].lower()})", v.text("hemoglobin"), hb, why)
        t.add("Systolic blood pressure", v.text("systolic_bp"),
              band(v["systolic_bp"], [(None, 90, 3), (90, 100, 2), (100, 110, 1), (110, None, 0)]),
              ">= 110: 0, 100-109: 1, 90-99: 2, < 90: 3")
        hr = v["heart_rate"]
        t.add("Heart rate >= 100", "not given (taken as normal)" if hr is None else v.text("heart_rate"),
              1 if hr is not None and hr >= 100 else 0)
        t.add("Melena", present(v["melena"]), int(v["melena"]))
        t.add("Syncope", present(v["syncope"]), 2 if v["syncope"] else 0)
        t.add("Hepatic disease", present(v["hepatic_disease"]), 2 if v["hepatic_disease"] else 0)
        t.add("Cardiac failure", present(v["cardiac_failure"]), 2 if v["cardiac_failure"] else 0)
        return int(t.total), t.explanation(
            "The Glasgow-Blatchford score adds points for BUN, hemoglobin (by sex), systolic pressure, heart rate "
            ">= 100, melena, syncope, hepatic disease and cardiac failure.")
