"""Vocabulary of the synthetic patient–trial generator: conditions, medications, past events, labs + units."""

from __future__ import annotations

from dataclasses import dataclass

#: condition key -> (name used in criteria, synonyms a note may use instead)
CONDITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "t2dm": ("type 2 diabetes mellitus", ("type 2 diabetes", "T2DM")),
    "htn": ("hypertension", ("high blood pressure", "HTN")),
    "ckd": ("chronic kidney disease", ("CKD",)),
    "hf": ("heart failure", ("congestive heart failure", "CHF")),
    "afib": ("atrial fibrillation", ("AF", "AFib")),
    "copd": ("chronic obstructive pulmonary disease", ("COPD",)),
    "asthma": ("asthma", ("bronchial asthma",)),
    "ra": ("rheumatoid arthritis", ("RA",)),
    "breast_cancer": ("breast cancer", ("carcinoma of the breast",)),
    "nsclc": ("non-small cell lung cancer", ("NSCLC",)),
    "crc": ("colorectal cancer", ("colorectal carcinoma",)),
    "mdd": ("major depressive disorder", ("major depression",)),
    "hypothyroidism": ("hypothyroidism", ("underactive thyroid",)),
    "cirrhosis": ("liver cirrhosis", ("cirrhosis of the liver",)),
    "psoriasis": ("plaque psoriasis", ("psoriasis vulgaris",)),
    "ms": ("multiple sclerosis", ("MS",)),
    "parkinson": ("Parkinson's disease", ("parkinsonism due to Parkinson's disease",)),
    "osteoporosis": ("osteoporosis", ("low bone density with osteoporosis",)),
    "hiv": ("HIV infection", ("human immunodeficiency virus infection",)),
    "epilepsy": ("epilepsy", ("seizure disorder",)),
}

MEDICATIONS: tuple[str, ...] = (
    "metformin", "insulin glargine", "lisinopril", "amlodipine", "atorvastatin", "warfarin", "apixaban",
    "prednisone", "methotrexate", "levothyroxine", "sertraline", "albuterol", "furosemide", "omeprazole",
    "tacrolimus", "adalimumab", "levetiracetam", "tamoxifen",
)

#: event key -> (name used in criteria, what the note says the patient did)
EVENTS: dict[str, tuple[str, str]] = {
    "mi": ("myocardial infarction", "had a myocardial infarction"),
    "stroke": ("stroke", "had a stroke"),
    "surgery": ("major surgery", "underwent major surgery"),
    "chemo": ("chemotherapy", "completed a course of chemotherapy"),
    "transplant": ("organ transplantation", "received an organ transplant"),
    "pe": ("pulmonary embolism", "had a pulmonary embolism"),
    "gi_bleed": ("gastrointestinal bleeding", "was treated for gastrointestinal bleeding"),
}


@dataclass(frozen=True)
class Lab:
    """A measurement. Values are stored in ``unit``; ``alt_unit`` = value × ``factor`` (None: no alternative)."""

    name: str
    unit: str
    decimals: int
    low: float
    high: float
    step: float  # thresholds are multiples of this (in ``unit``)
    alt_unit: str | None = None
    factor: float = 1.0
    alt_decimals: int = 0

    def render(self, value: float, alt: bool) -> str:
        if alt and self.alt_unit:
            return f"{round(value * self.factor, self.alt_decimals):.{self.alt_decimals}f} {self.alt_unit}"
        return f"{value:.{self.decimals}f} {self.unit}"

    def rendered_value(self, value: float, alt: bool) -> float:
        """The number a reader gets back from :meth:`render`, converted to ``unit``."""
        if alt and self.alt_unit:
            return round(value * self.factor, self.alt_decimals) / self.factor
        return round(value, self.decimals)


LABS: dict[str, Lab] = {
    "creatinine": Lab("serum creatinine", "mg/dL", 2, 0.5, 4.0, 0.1, "µmol/L", 88.4, 0),
    "hemoglobin": Lab("hemoglobin", "g/dL", 1, 7.5, 17.5, 0.5, "g/L", 10.0, 0),
    "platelets": Lab("platelet count", "×10^9/L", 0, 60, 450, 10, "/µL", 1000.0, 0),
    "glucose": Lab("fasting glucose", "mg/dL", 0, 70, 260, 10, "mmol/L", 1 / 18.016, 1),
    "ldl": Lab("LDL cholesterol", "mg/dL", 0, 50, 220, 10, "mmol/L", 0.02586, 2),
    "bilirubin": Lab("total bilirubin", "mg/dL", 1, 0.3, 4.0, 0.1, "µmol/L", 17.1, 1),
    "hba1c": Lab("HbA1c", "%", 1, 5.0, 12.0, 0.5),
    "egfr": Lab("eGFR", "mL/min/1.73 m²", 0, 15, 120, 5),
    "alt": Lab("ALT", "U/L", 0, 8, 250, 5),
    "weight": Lab("body weight", "kg", 0, 45, 140, 5, "lb", 2.20462, 0),
    "bmi": Lab("BMI", "kg/m²", 1, 17.0, 45.0, 1),
    "sbp": Lab("systolic blood pressure", "mmHg", 0, 95, 190, 5),
    "lvef": Lab("left ventricular ejection fraction", "%", 0, 15, 70, 5),
}
