"""The variable library behind the synthetic MedCalc generator: what a clinical finding looks like.

Every MedCalc-Bench ``Relevant Entities`` key that a calculator reads has a spec here:

* :class:`Quantity` — a measured value: plausible range in the unit MedCalc-Bench writes, the number
  of decimals a chart would show, alternative units (for the "mixed units" difficulty levels) and the
  phrases a note uses for it;
* :class:`Flag` — a yes/no finding, written as a noun phrase ("a history of congestive heart failure");
* :class:`Choice` — one of a fixed set of values (the strings the calculators' entity readers accept),
  each with its own phrase;
* :class:`Count` — a unitless integer or decimal (cycle length, INR, pH, drinks per week).

The generator (:mod:`clinrl.tasks.medcalc.synth`) samples values, writes them into ``Relevant
Entities`` exactly as the note states them (same number, same unit) and asks the calculator library
for the ground truth, so a note can never disagree with its label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable


def fmt_number(value: float, decimals: int) -> str:
    """A number as a chart writes it: fixed decimals, no trailing ``.0`` for integers."""
    if decimals <= 0:
        return str(int(round(value)))
    return f"{value:.{decimals}f}"


@dataclass(frozen=True)
class AltUnit:
    """Another unit a note may state a quantity in: ``value_in_alt = convert(value_in_base)``."""

    unit: str
    convert: Callable[[float], float]
    decimals: int
    spoken: str = ""


@dataclass(frozen=True)
class Quantity:
    key: str
    label: str
    unit: str
    low: float
    high: float
    decimals: int = 0
    alts: tuple[AltUnit, ...] = ()
    group: str = "lab"  # vital | lab | body | history — where a narrative note mentions it
    spoken: str = ""  # the unit as the note prints it (default: ``unit``)

    def sample(self, rng: random.Random) -> float:
        value = round(rng.uniform(self.low, self.high), self.decimals)
        return value if self.decimals > 0 else float(int(value))


@dataclass(frozen=True)
class Flag:
    key: str
    phrase: str  # a noun phrase: "congestive heart failure"
    group: str = "history"


@dataclass(frozen=True)
class Choice:
    key: str
    options: tuple[tuple[str, str], ...]  # (entity value, sentence fragment)
    group: str = "exam"
    weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    low: float
    high: float
    decimals: int = 0
    group: str = "lab"
    template: str = "{label} of {v}"

    def sample(self, rng: random.Random) -> float | int:
        value = rng.uniform(self.low, self.high)
        return round(value, self.decimals) if self.decimals > 0 else int(round(value))


Spec = Quantity | Flag | Choice | Count


def _mul(factor: float) -> Callable[[float], float]:
    return lambda x: x * factor


def _c_to_f(x: float) -> float:
    return x * 9.0 / 5.0 + 32.0


MMOL = AltUnit("mmol/L", lambda x: x, 0)  # monovalent ions: 1 mEq = 1 mmol
MMOL1 = AltUnit("mmol/L", lambda x: x, 1)

QUANTITIES: tuple[Quantity, ...] = (
    Quantity("age", "age", "years", 18, 90, 0, group="demo"),
    Quantity("weight", "weight", "kg", 45, 130, 1, (AltUnit("lbs", _mul(2.20462), 1),), group="body"),
    Quantity("height", "height", "cm", 148, 198, 1,
             (AltUnit("m", _mul(0.01), 2), AltUnit("in", _mul(1 / 2.54), 1)), group="body"),
    Quantity("Body Mass Index (BMI)", "body mass index", "kg/m^2", 17, 45, 1, group="body", spoken="kg/m²"),
    Quantity("Heart Rate or Pulse", "heart rate", "beats per minute", 45, 150, 0, group="vital", spoken="bpm"),
    Quantity("Systolic Blood Pressure", "systolic blood pressure", "mm Hg", 85, 190, 0, group="vital"),
    Quantity("Diastolic Blood Pressure", "diastolic blood pressure", "mm Hg", 45, 110, 0, group="vital"),
    Quantity("respiratory rate", "respiratory rate", "breaths per minute", 10, 36, 0, group="vital",
             spoken="breaths/min"),
    Quantity("Temperature", "temperature", "degrees celsius", 35.5, 40.5, 1,
             (AltUnit("degrees fahrenheit", _c_to_f, 1, "°F"),), group="vital", spoken="°C"),
    Quantity("O₂ saturation percentage", "oxygen saturation", "%", 85, 100, 0, group="vital"),
    Quantity("QT interval", "QT interval", "msec", 320, 480, 0, group="ecg"),
    Quantity("Sodium", "sodium", "mEq/L", 122, 156, 0, (MMOL,), spoken="mEq/L"),
    Quantity("Potassium", "potassium", "mEq/L", 3.0, 6.2, 1, (MMOL1,)),
    Quantity("Chloride", "chloride", "mEq/L", 88, 118, 0, (MMOL,)),
    Quantity("Bicarbonate", "bicarbonate", "mEq/L", 8, 32, 0, (MMOL,)),
    Quantity("Blood Urea Nitrogen (BUN)", "blood urea nitrogen", "mg/dL", 6, 90, 0,
             (AltUnit("mmol/L", _mul(0.357), 1),)),
    Quantity("creatinine", "serum creatinine", "mg/dL", 0.5, 4.5, 2, (AltUnit("µmol/L", _mul(88.4), 0),)),
    Quantity("Pre-operative creatinine", "pre-operative creatinine", "mg/dL", 0.6, 3.2, 2),
    Quantity("Glucose", "glucose", "mg/dL", 60, 520, 0, (AltUnit("mmol/L", _mul(1 / 18.0), 1),)),
    Quantity("Albumin", "albumin", "g/dL", 1.8, 5.0, 1, (AltUnit("g/L", _mul(10.0), 0),)),
    Quantity("Calcium", "calcium", "mg/dL", 7.0, 11.5, 1, (AltUnit("mmol/L", _mul(0.2495), 2),)),
    Quantity("Bilirubin", "total bilirubin", "mg/dL", 0.3, 9.0, 1, (AltUnit("µmol/L", _mul(17.1), 0),)),
    Quantity("Hemoglobin", "hemoglobin", "g/dL", 6.5, 17.0, 1),
    Quantity("Hematocrit", "hematocrit", "%", 22, 55, 0),
    Quantity("White blood cell count", "white blood cell count", "µL", 2500, 24000, -1, spoken="/µL"),
    Quantity("Platelet count", "platelet count", "µL", 40000, 420000, -3, spoken="/µL"),
    Quantity("Alanine aminotransferase", "alanine aminotransferase (ALT)", "U/L", 10, 400, 0),
    Quantity("Aspartate aminotransferase", "aspartate aminotransferase (AST)", "U/L", 10, 450, 0),
    Quantity("Total cholesterol", "total cholesterol", "mg/dL", 130, 320, 0,
             (AltUnit("mmol/L", _mul(1 / 38.67), 2),)),
    Quantity("high-density lipoprotein cholesterol", "HDL cholesterol", "mg/dL", 25, 95, 0,
             (AltUnit("mmol/L", _mul(1 / 38.67), 2),)),
    Quantity("Triglycerides", "triglycerides", "mg/dL", 50, 380, 0, (AltUnit("mmol/L", _mul(1 / 88.57), 2),)),
    Quantity("Insulin", "fasting insulin", "µIU/mL", 2, 40, 1),
    Quantity("Urine sodium", "urine sodium", "mEq/L", 10, 180, 0, (MMOL,)),
    Quantity("Urine creatinine", "urine creatinine", "mg/dL", 20, 250, 0),
    Quantity("FiO₂", "FiO₂", "%", 21, 80, 0, group="vent"),
    Quantity("Partial pressure of oxygen (PaO₂) for Apache II", "PaO₂", "mm Hg", 55, 110, 0, group="abg"),
    Quantity("PaCO₂", "PaCO₂", "mm Hg", 25, 50, 0, group="abg"),
    Quantity("Urine Output", "urine output", "mL/day", 200, 2500, 0),
    Quantity("DOPamine", "dopamine infusion", "mcg/kg/min", 2, 15, 1, group="drip"),
    Quantity("DOBUTamine", "dobutamine infusion", "mcg/kg/min", 1, 10, 1, group="drip"),
    Quantity("EPINEPHrine", "epinephrine infusion", "mcg/kg/min", 0.02, 0.3, 2, group="drip"),
    Quantity("norEPINEPHrine", "norepinephrine infusion", "mcg/kg/min", 0.02, 0.3, 2, group="drip"),
)

COUNTS: tuple[Count, ...] = (
    Count("international normalized ratio", "INR", 0.9, 3.5, 1, template="an INR of {v}"),
    Count("pH", "arterial pH", 7.15, 7.55, 2, group="abg", template="an arterial pH of {v}"),
    Count("A-a gradient", "A-a gradient", 10, 450, 0, group="abg", template="an A-a gradient of {v} mm Hg"),
    Count("Glasgow Coma Score", "Glasgow Coma Score", 6, 15, 0, group="exam",
          template="a Glasgow Coma Score of {v}"),
    Count("Number of Alcoholic Drinks Per Week", "alcohol intake", 0, 14, 0, group="social",
          template="{v} alcoholic drinks per week"),
    Count("cycle length", "menstrual cycle length", 21, 35, 0, group="obstetric",
          template="a menstrual cycle length of {v} days"),
)

#: key -> noun phrase for yes/no findings (what "the patient has …" completes with)
FLAG_PHRASES: dict[str, str] = {
    "Absence of cough or coryza": "no cough or coryza",
    "Active cancer": "active cancer (treatment within 6 months or palliative)",
    "Acute Myocardial infarction": "an acute myocardial infarction",
    "Acute renal failure": "acute renal failure",
    "Acute spinal cord injury causing paralysis in the last month": "an acute spinal cord injury with paralysis in the last month",
    "AIDS": "AIDS",
    "Altered mental status": "altered mental status",
    "Altered mental status for PECARN head injury criteria": "altered mental status after head injury",
    "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely": "an alternative diagnosis at least as likely as deep vein thrombosis",
    "atherosclerotic disease": "known atherosclerotic disease",
    "Bedridden recently >3 days or major surgery within 12 weeks": "recent bed rest for more than 3 days or major surgery within 12 weeks",
    "Blood pressure being treated with medicines": "hypertension treated with antihypertensive medication",
    "Calf swelling >3 centimeters compared to the other leg": "calf swelling more than 3 cm compared with the other leg",
    "Cardiac failure present": "cardiac failure",
    "Cerebrovascular Accident": "a prior cerebrovascular accident",
    "Cerebrovascular disease history": "a history of cerebrovascular disease",
    "Chronic Obstructive Pulmonary Disease": "chronic obstructive pulmonary disease",
    "Chronic Renal Failure": "chronic renal failure",
    "Clinical signs and symptoms of Deep Vein Thrombosis": "clinical signs of deep vein thrombosis",
    "Collateral (nonvaricose) superficial veins present": "collateral (non-varicose) superficial veins",
    "Confusion": "new confusion",
    "Congestive Heart Failure criteria for the Cardiac Risk Index rule": "congestive heart failure",
    "Congestive Heart Failure in the last month": "congestive heart failure in the last month",
    "Congestive Heart Faliure": "congestive heart failure",
    "Connective tissue disease": "connective tissue disease",
    "Continous positive airway pressure": "continuous positive airway pressure",
    "Continuous veno-venous hemodialysis for ≥24 hours in the past week": "continuous veno-venous hemodialysis for at least 24 hours in the past week",
    "Cough Absent": "no cough",
    "Current central venous access": "a central venous catheter in place",
    "Current swollen legs": "swollen legs",
    "Dementia": "dementia",
    "Diabetes history": "diabetes mellitus",
    "Dialysis at least twice in the past week": "dialysis at least twice in the past week",
    "Elevated anticardiolipin antibody": "elevated anticardiolipin antibodies",
    "Elevated serum homocysteine": "elevated serum homocysteine",
    "Elevated-risk surgery": "an elevated-risk (intraperitoneal, intrathoracic or suprainguinal vascular) surgery planned",
    "Entire Leg Swollen": "swelling of the entire leg",
    "Exudate or swelling on tonsils": "tonsillar exudate or swelling",
    "Family history of thrombosis": "a family history of thrombosis",
    "Fever in past 24 hours": "fever in the past 24 hours",
    "Hemiplegia": "hemiplegia",
    "Hemoptysis": "hemoptysis",
    "Heparin-induced thrombocytopenia": "heparin-induced thrombocytopenia",
    "Hepatic disease history": "hepatic disease",
    "Hip, pelvis, or leg fracture in the last month": "a hip, pelvis or leg fracture in the last month",
    "History of cerebrovascular disease": "a history of cerebrovascular disease",
    "History of inflammatory bowel disease": "inflammatory bowel disease",
    "History of ischemic heart disease": "ischemic heart disease",
    "History of severe organ failure or immunocompromise": "a history of severe organ insufficiency or immunocompromise",
    "Hormone use": "exogenous estrogen use",
    "hypercholesterolemia": "hypercholesterolemia",
    "Hypertension history": "hypertension",
    "Hypotension": "hypotension",
    "Immobilization for at least 3 days": "immobilization for at least 3 days",
    "Immobilizing plaster cast in the last month": "an immobilizing plaster cast in the last month",
    "Labile international normalized ratio": "a labile INR",
    "Leukemia": "leukemia",
    "Liver disease criteria for the HAS-BLED rule": "liver disease (cirrhosis or bilirubin over 2x normal with transaminases over 3x normal)",
    "Localized tenderness along the deep venous system": "localized tenderness along the deep venous system",
    "Lymphoma": "lymphoma",
    "Major Surgery in the last month": "major surgery in the last month",
    "Major surgery within 12 weeks": "major surgery within the past 12 weeks",
    "Malignancy with treatment within 6 months or palliative": "a malignancy treated within 6 months or on palliative care",
    "Medication usage predisposing to bleeding": "use of medication predisposing to bleeding (antiplatelet agents or NSAIDs)",
    "Melena present": "melena",
    "Moderate to severe Chronic Kidney Disease": "moderate to severe chronic kidney disease",
    "Multiple trauma in the last month": "multiple trauma in the last month",
    "Myocardial infarction": "a prior myocardial infarction",
    "Neoplastic disease": "neoplastic disease",
    "Nursing home resident": "nursing home residence",
    "obesity": "obesity",
    "On mechanical ventilation": "mechanical ventilation",
    "Other congenital or acquired thrombophilia": "another congenital or acquired thrombophilia",
    "Paralysis, paresis, or recent plaster immobilization of the lower extremity": "paresis or recent plaster immobilization of the lower extremity",
    "parent or sibling with Cardiovascular disease before age 65": "a parent or sibling with cardiovascular disease before age 65",
    "Peptic ulcer disease": "peptic ulcer disease",
    "Peripheral vascular disease": "peripheral vascular disease",
    "Pitting edema, confined to symptomatic leg": "pitting edema confined to the symptomatic leg",
    "Pleural effusion on x-ray": "a pleural effusion on chest x-ray",
    "Pneumonia in the last month": "pneumonia in the last month",
    "Positive Factor V Leiden": "a positive factor V Leiden test",
    "Positive lupus anticoagulant": "a positive lupus anticoagulant",
    "Positive prothrombin 20210A": "a positive prothrombin 20210A mutation",
    "Pre-operative treatment with insulin": "pre-operative treatment with insulin",
    "Present or previous malignancy": "a present or previous malignancy",
    "Previously documented Deep Vein Thrombosis": "a previously documented deep vein thrombosis",
    "Previously Documented Pulmonary Embolism": "a previously documented pulmonary embolism",
    "Prior major bleeding or predisposition to bleeding": "prior major bleeding or a predisposition to bleeding",
    "Pulmonary Embolism is #1 diagnosis OR equally likely": "pulmonary embolism as the leading diagnosis",
    "Purulent tonsils": "purulent tonsils",
    "Recent surgery or trauma": "surgery or trauma within the past 4 weeks",
    "Recent syncope": "recent syncope",
    "Renal disease": "chronic renal disease",
    "Renal disease criteria for the HAS-BLED rule": "renal disease (dialysis, transplant or creatinine above 2.26 mg/dL)",
    "Sepsis in the last month": "sepsis in the last month",
    "Severe tonsil inflammation": "severe tonsillar inflammation",
    "Smoker": "current smoking",
    "smoking": "current smoking",
    "Stroke": "a prior stroke",
    "Stroke in the last month": "a stroke in the last month",
    "Surgery in the previous 4 weeks": "surgery in the previous 4 weeks",
    "Symptom onset ≤3 days": "symptom onset within the last 3 days",
    "Tender/swollen anterior cervical lymph nodes": "tender, swollen anterior cervical lymph nodes",
    "Thromboembolism history": "a prior thromboembolism",
    "Transient Ischemic Attacks History": "a prior transient ischemic attack",
    "Unilateral Leg Swelling": "unilateral leg swelling",
    "Varicose veins": "varicose veins",
    "Vascular disease history": "vascular disease (prior myocardial infarction, peripheral artery disease or aortic plaque)",
    "Occipital, parietal or temporal scalp hematoma; history of level of conciousness (LOC) ≥5 sec; not acting normally per parent or severe mechanism of injury?": "a scalp hematoma or loss of consciousness after head injury",
}

CHOICES: tuple[Choice, ...] = (
    Choice("sex", (("Male", "male"), ("Female", "female")), group="demo"),
    Choice("Race", (("Black", "Black"), ("White", "White")), group="demo", weights=(0.4, 0.6)),
    Choice("Ascites", (("absent", "no ascites"), ("slight", "slight ascites"),
                       ("moderate", "moderate ascites")), group="exam"),
    Choice("Encephalopathy", (("No Encephalopathy", "no hepatic encephalopathy"),
                              ("Grade 1-2", "grade 1-2 hepatic encephalopathy"),
                              ("Grade 3-4", "grade 3-4 hepatic encephalopathy")), group="exam"),
    Choice("Best eye response", (("eyes open spontaneously", "opens the eyes spontaneously"),
                                 ("eye opening to verbal command", "opens the eyes to verbal command"),
                                 ("eye opening to pain", "opens the eyes only to pain"),
                                 ("no eye opening", "does not open the eyes")), group="verb"),
    Choice("Best verbal response", (("oriented", "is oriented"), ("confused", "is confused"),
                                    ("inappropriate words", "uses inappropriate words"),
                                    ("incomprehensible sounds", "makes incomprehensible sounds"),
                                    ("no verbal response", "makes no verbal response")), group="verb"),
    Choice("Best motor response", (("obeys commands", "obeys commands"), ("localizes pain", "localizes pain"),
                                   ("withdrawal from pain", "withdraws from pain"),
                                   ("flexion to pain", "shows abnormal flexion to pain"),
                                   ("extension to pain", "shows extension to pain"),
                                   ("no motor response", "has no motor response")), group="verb"),
    Choice("Suspicion History", (("Slightly suspicious", "a history that is slightly suspicious for ACS"),
                                 ("Moderately suspicious", "a history that is moderately suspicious for ACS"),
                                 ("Highly suspicious", "a history that is highly suspicious for ACS")),
           group="history"),
    Choice("Electrocardiogram Test", (("Normal", "a normal ECG"),
                                      ("Non-specific repolarization disturbance",
                                       "non-specific repolarization changes on ECG"),
                                      ("Significant ST deviation", "significant ST deviation on ECG")), group="ecg"),
    Choice("Initial troponin", (("less than or equal to normal limit", "an initial troponin within the normal limit"),
                                ("between the normal limit or up to three times the normal limit",
                                 "an initial troponin between one and three times the normal limit"),
                                ("greater than three times normal limit",
                                 "an initial troponin above three times the normal limit")), group="lab"),
    Choice("Diabetes mellitus criteria for CCI rule", (("None or diet-controlled", "no diabetes requiring medication"),
                                                       ("Uncomplicated", "uncomplicated diabetes mellitus"),
                                                       ("End-organ damage", "diabetes mellitus with end-organ damage")),
           group="history"),
    Choice("Liver disease severity", (("none", "no liver disease"), ("Mild", "mild liver disease"),
                                      ("Moderate to Severe", "moderate to severe liver disease with portal hypertension")),
           group="history"),
    Choice("Solid tumor", (("none", "no solid tumor"), ("Localized", "a localized solid tumor"),
                           ("Metastatic", "a metastatic solid tumor")), group="history"),
    Choice("Mobility", (("normal", "is ambulatory"), ("on bed rest", "is on bed rest"),
                        ("confined to bed >72 hours", "has been confined to bed for more than 72 hours")),
           group="verb"),
)

BY_KEY: dict[str, Spec] = {}
for _spec in (*QUANTITIES, *COUNTS, *CHOICES):
    BY_KEY[_spec.key] = _spec
for _key, _phrase in FLAG_PHRASES.items():
    BY_KEY[_key] = Flag(_key, _phrase)


def spec_for(key: str, overrides: dict[str, Spec] | None = None) -> Spec:
    if overrides and key in overrides:
        return overrides[key]
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no synthetic spec for the entity key {key!r}") from None


# -- distractors: findings no calculator in clinrl reads ----------------------------------------
DISTRACTOR_LABS: tuple[tuple[str, float, float, int, str], ...] = (
    ("lactate", 0.6, 4.5, 1, "mmol/L"),
    ("magnesium", 1.5, 2.6, 1, "mg/dL"),
    ("phosphate", 2.2, 5.2, 1, "mg/dL"),
    ("lipase", 12, 180, 0, "U/L"),
    ("C-reactive protein", 0.5, 180, 1, "mg/L"),
    ("TSH", 0.3, 6.0, 2, "mIU/L"),
    ("ferritin", 20, 900, 0, "ng/mL"),
    ("procalcitonin", 0.02, 3.5, 2, "ng/mL"),
    ("uric acid", 3.0, 9.5, 1, "mg/dL"),
    ("LDH", 120, 600, 0, "U/L"),
    ("alkaline phosphatase", 40, 320, 0, "U/L"),
    ("CK", 40, 900, 0, "U/L"),
)

DISTRACTOR_HISTORY: tuple[str, ...] = (
    "an appendectomy in childhood", "seasonal allergic rhinitis", "osteoarthritis of the knees",
    "gout", "migraine without aura", "bilateral cataract surgery", "gastro-esophageal reflux disease",
    "hypothyroidism on levothyroxine", "a tonsillectomy at age 9", "chronic low back pain",
    "a cholecystectomy ten years ago", "mild hearing loss", "plantar fasciitis", "eczema",
)

DISTRACTOR_SOCIAL: tuple[str, ...] = (
    "works as a school teacher", "is a retired postal worker", "lives with a spouse",
    "recently returned from a trip abroad", "walks a dog every morning", "works night shifts as a nurse",
    "is a software developer", "keeps two cats at home", "lives alone in an apartment",
)

#: opening complaints; none of them is a criterion of a calculator (no cough, no fever: Centor, FeverPAIN
#: and SIRS score those, and the opening line must not contradict a finding)
COMPLAINTS: tuple[str, ...] = (
    "shortness of breath", "chest discomfort", "abdominal pain", "fatigue for two weeks",
    "dizziness", "back pain", "leg pain", "nausea and vomiting", "palpitations",
    "a routine follow-up visit", "a skin rash", "headache", "a fall at home",
)

SETTINGS: tuple[str, ...] = (
    "the emergency department", "the outpatient clinic", "the medical ward", "the intensive care unit",
    "the pre-operative assessment clinic", "the primary care office",
)


@dataclass
class Finding:
    """One sampled entity and how the note states it."""

    key: str
    spec: Spec
    value: Any  # the entity value (number, bool, choice string)
    text: str = ""  # the number with its unit as written ("7.2 mmol/L"), for quantities and counts


def _strip_article(phrase: str) -> str:
    for article in ("a ", "an ", "the "):
        if phrase.startswith(article):
            return phrase[len(article):]
    return phrase


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def finding_fragment(f: Finding) -> str:
    """A short phrase for lists: "sodium 140 mEq/L", "an INR of 1.3"."""
    if isinstance(f.spec, Quantity):
        return f"{f.spec.label} {f.text}"
    if isinstance(f.spec, Count):
        return f.spec.template.format(label=f.spec.label, v=f.text)
    raise TypeError(f"{f.key} is not a measured value")


def flag_finding_present(f: Finding) -> bool:
    """Whether the clinical finding is there: a true "no cough" flag (Cough Absent) means no cough."""
    return bool(f.value) != f.spec.phrase.startswith("no ")


def finding_sentence(f: Finding, subject: str, rng: random.Random, *, template: bool) -> str | None:
    """One sentence stating the finding (``None`` when an absent flag is left unstated)."""
    spec = f.spec
    if isinstance(spec, Quantity):
        if template:
            article = "an" if spec.label[:1].lower() in "aeio" else "a"
            return f"{subject} has {article} {spec.label} of {f.text}."
        return rng.choice((f"{_cap(spec.label)} was {f.text}.", f"{_cap(spec.label)}: {f.text}.",
                           f"{_cap(spec.label)} measured {f.text}."))
    if isinstance(spec, Count):
        return f"{subject} has {spec.template.format(label=spec.label, v=f.text)}."
    if isinstance(spec, Choice):
        fragment = dict(spec.options)[f.value]
        return f"{subject} {fragment}." if spec.group == "verb" else f"{subject} has {fragment}."
    present = flag_finding_present(f)
    core = spec.phrase[3:] if spec.phrase.startswith("no ") else spec.phrase
    if present:
        if template:
            return f"{subject} has {core}."
        return rng.choice((f"{subject} has {core}.", f"History is notable for {core}.",
                           f"{subject} is known to have {core}."))
    if template:
        return f"{subject} does not have {core}."
    return rng.choice((f"There is no {_strip_article(core)}.", f"{subject} does not have {core}.",
                       f"No {_strip_article(core)} is reported."))


def render_findings(findings: list[Finding], rng: random.Random, *, difficulty: str, subject: str,
                    state_negative_rate: float, distractor_labs: list[str]) -> list[str]:
    """Sentences for the findings. Template notes: one sentence each, in order. Other levels group
    vital signs and laboratory values into list sentences and shuffle the rest."""
    if difficulty == "template":
        return [s for f in findings if (s := finding_sentence(f, subject, rng, template=True))]
    by_key = {f.key: f for f in findings}
    vitals, labs, sentences = [], list(distractor_labs), []
    sbp, dbp = by_key.get("Systolic Blood Pressure"), by_key.get("Diastolic Blood Pressure")
    if sbp and dbp and sbp.text.split(" ", 1)[1] == dbp.text.split(" ", 1)[1]:
        unit = sbp.text.split(" ", 1)[1]
        vitals.append(f"blood pressure {sbp.text.split(' ')[0]}/{dbp.text.split(' ')[0]} {unit}")
        skip = {sbp.key, dbp.key}
    else:
        skip = set()
    for f in findings:
        if f.key in skip:
            continue
        group = getattr(f.spec, "group", "")
        if isinstance(f.spec, Quantity) and group == "vital":
            vitals.append(finding_fragment(f))
        elif isinstance(f.spec, (Quantity, Count)) and group in ("lab", "abg"):
            labs.append(finding_fragment(f))
        elif isinstance(f.spec, Flag) and not flag_finding_present(f) and rng.random() >= state_negative_rate:
            continue  # absent and unstated: a reader takes it as absent, as the calculators do
        elif (s := finding_sentence(f, subject, rng, template=False)):
            sentences.append(s)
    if vitals:
        rng.shuffle(vitals)
        lead = rng.choice(("Vital signs were", "On arrival, vital signs showed", "Vitals:"))
        sentences.append(f"{lead} {_join(vitals)}.")
    if labs:
        rng.shuffle(labs)
        lead = rng.choice(("Laboratory studies showed", "Labs revealed", "Blood tests returned"))
        sentences.append(f"{lead} {_join(labs)}.")
    rng.shuffle(sentences)
    return sentences


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def distractor_sentences(rng: random.Random, n: int, subject: str) -> tuple[list[str], list[str]]:
    """``n`` irrelevant findings: (stand-alone sentences, lab fragments for the lab sentence)."""
    sentences, labs, used = [], [], set()
    for _ in range(n):
        kind = rng.random()
        if kind < 0.45:
            name, low, high, decimals, unit = rng.choice(DISTRACTOR_LABS)
            if name not in used:
                used.add(name)
                labs.append(f"{name} {fmt_number(rng.uniform(low, high), decimals)} {unit}")
        elif kind < 0.8:
            sentences.append(f"{subject} has a past history of {rng.choice(DISTRACTOR_HISTORY)}.")
        else:
            sentences.append(f"{subject} {rng.choice(DISTRACTOR_SOCIAL)}.")
    return list(dict.fromkeys(sentences)), list(dict.fromkeys(labs))
