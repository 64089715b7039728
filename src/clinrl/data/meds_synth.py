"""A seeded synthetic MEDS cohort whose outcomes depend on risk factors, so its labels are learnable.

Every subject gets demographics (sex, birth), chronic risk factors present from baseline (obesity,
type 2 diabetes, tobacco use, chronic kidney disease, COPD) and 1–6 inpatient stays over five years.
Each stay has MIMIC-style events: an admission, labs and vitals, medication starts, ICD-10-PCS
procedures, and at discharge the ICD-10-CM diagnoses of the stay (the reason for admission plus
every chronic condition known so far), as MIMIC codes them.

Outcomes follow simple proportional hazards, so the EHRSHOT labelers find real signal:

* hypertension (I10): more likely with age, obesity, diabetes and CKD; systolic pressure rises
  before it is diagnosed;
* hyperlipidemia (E78.5): age, obesity, diabetes; LDL rises before diagnosis;
* acute MI (I21.4): age, male sex, smoking, diabetes, hypertension, hyperlipidemia; an MI brings
  its own emergency stay with a coronary intervention;
* pancreatic cancer (C25.9), celiac disease (K90.0), lupus (M32.9): rare, with their known skews;
* length of stay grows with age, CKD and sepsis; 30-day readmission with CKD, COPD, age and diabetes.

A diagnosis is coded at the discharge of the first stay after its onset, so the labelers'
"first occurrence" is the first stay that could have noticed it. The code vocabulary is MIMIC's
(``DIAGNOSIS//ICD//10//I10``), so the same labeler code sets serve the synthetic and the real data.

Determinism: subject ``i`` draws from ``random.Random(seed * 1_000_003 + i)``; the same seed and size
give identical events and byte-identical files (``write_meds`` writes no wall-clock time).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from clinrl.data.meds import MedsDataset, hash_split
from clinrl.errors import ConfigError, require

GENERATOR_VERSION = "1"
BASELINE = datetime(2015, 1, 1)
FOLLOW_UP_YEARS = 5.0
FIRST_SUBJECT_ID = 100_000

DX = "DIAGNOSIS//ICD//10//"
PX = "PROCEDURE//ICD//10//"

#: code → description, written to metadata/codes.parquet (descriptions from ICD-10-CM / ICD-10-PCS)
CODE_DESCRIPTIONS: dict[str, str] = {
    "MEDS_BIRTH": "Birth", "GENDER//F": "Female", "GENDER//M": "Male",
    "HOSPITAL_ADMISSION//EW EMER.//EMERGENCY ROOM": "Emergency hospital admission",
    "HOSPITAL_ADMISSION//ELECTIVE//PHYSICIAN REFERRAL": "Elective hospital admission",
    "HOSPITAL_DISCHARGE//HOME": "Discharged home",
    "HOSPITAL_DISCHARGE//SKILLED NURSING FACILITY": "Discharged to a skilled nursing facility",
    DX + "E669": "Obesity, unspecified",
    DX + "E119": "Type 2 diabetes mellitus without complications",
    DX + "F17210": "Nicotine dependence, cigarettes, uncomplicated",
    DX + "N183": "Chronic kidney disease, stage 3 (moderate)",
    DX + "J449": "Chronic obstructive pulmonary disease, unspecified",
    DX + "J189": "Pneumonia, unspecified organism",
    DX + "N390": "Urinary tract infection, site not specified",
    DX + "L0390": "Cellulitis, unspecified",
    DX + "I4891": "Unspecified atrial fibrillation",
    DX + "K922": "Gastrointestinal hemorrhage, unspecified",
    DX + "A419": "Sepsis, unspecified organism",
    DX + "R55": "Syncope and collapse",
    DX + "R0789": "Other chest pain",
    DX + "I10": "Essential (primary) hypertension",
    DX + "E785": "Hyperlipidemia, unspecified",
    DX + "I214": "Non-ST elevation (NSTEMI) myocardial infarction",
    DX + "C259": "Malignant neoplasm of pancreas, unspecified",
    DX + "K900": "Celiac disease",
    DX + "M329": "Systemic lupus erythematosus, unspecified",
    PX + "5A1955Z": "Respiratory Ventilation, Greater than 96 Consecutive Hours",
    PX + "02703ZZ": "Dilation of Coronary Artery, One Artery, Percutaneous Approach",
    PX + "0DJ08ZZ": "Inspection of Upper Intestinal Tract, Via Natural or Artificial Opening Endoscopic",
    PX + "30233N1": "Transfusion of Nonautologous Red Blood Cells into Peripheral Vein, Percutaneous Approach",
    PX + "5A1D70Z": "Performance of Urinary Filtration, Intermittent, Less than 6 Hours Per Day",
    "LAB//50931//mg/dL": "Glucose (mg/dL)",
    "LAB//50912//mg/dL": "Creatinine (mg/dL)",
    "LAB//50905//mg/dL": "LDL cholesterol, calculated (mg/dL)",
    "LAB//50852//%": "Hemoglobin A1c (%)",
    "BMI (kg/m2)": "Body mass index (kg/m2)",
    "Blood Pressure Systolic (mmHg)": "Systolic blood pressure (mmHg)",
    "MEDICATION//START//Metformin": "Metformin started",
    "MEDICATION//START//Lisinopril": "Lisinopril started",
    "MEDICATION//START//Atorvastatin": "Atorvastatin started",
    "MEDICATION//START//Albuterol": "Albuterol started",
    "MEDICATION//START//Aspirin": "Aspirin started",
    "MEDICATION//START//Ceftriaxone": "Ceftriaxone started",
}

RISK_CODES = {"obesity": DX + "E669", "diabetes": DX + "E119", "smoker": DX + "F17210", "ckd": DX + "N183",
              "copd": DX + "J449"}
OUTCOME_CODES = {"hypertension": DX + "I10", "hyperlipidemia": DX + "E785", "acutemi": DX + "I214",
                 "pancan": DX + "C259", "celiac": DX + "K900", "lupus": DX + "M329"}
REASONS = ("J189", "N390", "L0390", "I4891", "K922", "A419", "R55", "R0789")


def _onset(rng: random.Random, yearly_hazard: float) -> float | None:
    """Years after baseline until onset (exponential), ``None`` if beyond follow-up."""
    years = rng.expovariate(max(yearly_hazard, 1e-9))
    return years if years < FOLLOW_UP_YEARS else None


def _subject(rng: random.Random) -> list[tuple[datetime | None, int, str, float | None]]:
    """One subject's events as ``(time, tie-break order, code, numeric_value)``."""
    female = rng.random() < 0.52
    age0 = rng.uniform(25, 88)
    start = BASELINE + timedelta(days=rng.uniform(0, 365))
    birth = start - timedelta(days=age0 * 365.25)
    obesity = rng.random() < 0.32
    diabetes = rng.random() < 0.06 + 0.22 * obesity + 0.003 * max(age0 - 40, 0)
    smoker = rng.random() < 0.22
    ckd = rng.random() < 0.03 + 0.12 * diabetes + 0.003 * max(age0 - 50, 0)
    copd = rng.random() < 0.03 + 0.25 * smoker
    risks = {"obesity": obesity, "diabetes": diabetes, "smoker": smoker, "ckd": ckd, "copd": copd}

    def age_at(t: datetime) -> float:
        return (t - birth).days / 365.25

    # Chronic outcomes: prevalent at baseline with a probability that grows with risk, else an onset.
    htn_risk = math.exp(0.045 * (age0 - 55) + 0.9 * obesity + 0.7 * diabetes + 0.7 * ckd)
    lip_risk = math.exp(0.035 * (age0 - 55) + 0.8 * obesity + 0.8 * diabetes)
    onset: dict[str, float | None] = {}
    for name, risk in (("hypertension", htn_risk), ("hyperlipidemia", lip_risk)):
        onset[name] = -1.0 if rng.random() < min(0.4, 0.08 * risk) else _onset(rng, 0.10 * risk)
    mi_risk = math.exp(0.05 * (age0 - 60) + 0.5 * (not female) + 0.7 * smoker + 0.5 * diabetes
                       + 0.6 * (onset["hypertension"] is not None) + 0.5 * (onset["hyperlipidemia"] is not None))
    onset["acutemi"] = _onset(rng, 0.035 * mi_risk)
    onset["pancan"] = _onset(rng, 0.004 * math.exp(0.05 * (age0 - 60) + 0.7 * smoker + 0.5 * diabetes))
    onset["celiac"] = _onset(rng, 0.003 * (1.8 if female else 1.0))
    onset["lupus"] = _onset(rng, 0.004 * (6.0 if female else 1.0) * (1.5 if age0 < 50 else 0.5))

    # Stay start times: planned stays, an emergency stay for an acute MI, and usually a stay soon
    # after any other onset (where the new condition gets coded).
    n_planned = 2 + min(6, int(rng.expovariate(1 / (1.5 + 0.8 * ckd + 0.6 * copd + 0.5 * diabetes))))
    starts = [rng.uniform(0, FOLLOW_UP_YEARS) for _ in range(n_planned)]
    mi_stay = onset["acutemi"]
    if mi_stay is not None:
        starts.append(mi_stay)
    for name, when in onset.items():
        if name != "acutemi" and when is not None and when > 0 and rng.random() < 0.6:
            starts.append(min(when + rng.uniform(0, 0.15), FOLLOW_UP_YEARS))
    starts.sort()
    events: list[tuple[datetime | None, int, str, float | None]] = [
        (None, 0, "GENDER//F" if female else "GENDER//M", None), (birth, 0, "MEDS_BIRTH", None)]
    diagnosed: set[str] = set()
    previous_end: datetime | None = None
    readmit_p = 0.06 + 0.14 * ckd + 0.10 * copd + 0.06 * diabetes + 0.08 * (age0 > 75)
    for years in starts:
        admit = start + timedelta(days=years * 365.25, hours=rng.uniform(0, 23))
        if previous_end is not None and rng.random() < readmit_p:  # an early readmission
            admit = previous_end + timedelta(days=rng.uniform(2, 28), hours=rng.uniform(0, 12))
        if previous_end is not None and admit <= previous_end + timedelta(days=1):
            admit = previous_end + timedelta(days=1, hours=rng.uniform(1, 12))
        t_years = (admit - start).days / 365.25
        is_mi = mi_stay is not None and years == mi_stay
        reason = "I214" if is_mi else rng.choice(REASONS)
        age = age_at(admit)
        los_days = rng.lognormvariate(math.log(2.5 + 0.05 * max(age - 50, 0) + 2.5 * ckd
                                               + 3.0 * (reason == "A419") + 1.5 * is_mi), 0.55)
        discharge = admit + timedelta(days=los_days)
        elective = not is_mi and rng.random() < 0.2
        events.append((admit, 1, "HOSPITAL_ADMISSION//ELECTIVE//PHYSICIAN REFERRAL" if elective
                       else "HOSPITAL_ADMISSION//EW EMER.//EMERGENCY ROOM", None))
        labs_at = admit + timedelta(hours=2)
        # Pressure and LDL rise as onset approaches (or once present), before the code appears.
        htn_soon = onset["hypertension"] is not None and onset["hypertension"] <= t_years + 1.5
        lip_soon = onset["hyperlipidemia"] is not None and onset["hyperlipidemia"] <= t_years + 1.5
        sbp = rng.gauss(122 + 0.3 * max(age - 40, 0) + (20 if htn_soon else 0) - (10 if "I10" in diagnosed else 0), 9)
        ldl = rng.gauss(105 + (45 if lip_soon else 0) - (35 if "E785" in diagnosed else 0), 15)
        glucose = rng.gauss(150 if diabetes else 98, 20)
        creat = rng.gauss(1.9 if ckd else 0.9, 0.2)
        bmi = rng.gauss(34 if obesity else 25, 2.5)
        events += [(labs_at, 2, "LAB//50931//mg/dL", round(glucose, 0)),
                   (labs_at, 3, "LAB//50912//mg/dL", round(max(creat, 0.3), 1)),
                   (labs_at, 4, "BMI (kg/m2)", round(bmi, 1)),
                   (labs_at, 5, "Blood Pressure Systolic (mmHg)", round(sbp, 0))]
        if rng.random() < 0.6:
            events.append((labs_at, 6, "LAB//50905//mg/dL", round(max(ldl, 30), 0)))
        if diabetes and rng.random() < 0.7:
            events.append((labs_at, 7, "LAB//50852//%", round(rng.gauss(7.8, 0.8), 1)))
        meds_at = admit + timedelta(hours=3)
        for code, on in (("E119", "Metformin"), ("I10", "Lisinopril"), ("E785", "Atorvastatin"),
                         ("J449", "Albuterol")):
            if code in diagnosed:
                events.append((meds_at, 8, f"MEDICATION//START//{on}", None))
        if reason in ("J189", "N390", "L0390", "A419"):
            events.append((meds_at, 9, "MEDICATION//START//Ceftriaxone", None))
        proc_at = admit + timedelta(hours=min(20.0, los_days * 12))
        procedures = []
        if is_mi:
            procedures += ["02703ZZ"]
            events.append((meds_at, 10, "MEDICATION//START//Aspirin", None))
        if reason == "K922":
            procedures += ["0DJ08ZZ"] + (["30233N1"] if rng.random() < 0.5 else [])
        if reason == "A419" and los_days > 5 and rng.random() < 0.5:
            procedures += ["5A1955Z"]
        if ckd and rng.random() < 0.2:
            procedures += ["5A1D70Z"]
        events += [(proc_at, 11, PX + p, None) for p in procedures]

        home = age < 80 and rng.random() < 0.85
        events.append((discharge, 20, "HOSPITAL_DISCHARGE//HOME" if home
                       else "HOSPITAL_DISCHARGE//SKILLED NURSING FACILITY", None))
        stay_codes = [reason] + [RISK_CODES[r].removeprefix(DX) for r, on in risks.items() if on]
        end_years = (discharge - start).days / 365.25
        for name, when in onset.items():
            if when is not None and when <= end_years:
                stay_codes.append(OUTCOME_CODES[name].removeprefix(DX))
        for order, code in enumerate(dict.fromkeys(stay_codes)):
            events.append((discharge, 21 + order, DX + code, None))
            diagnosed.add(code)
        previous_end = discharge
    return events


def generate_cohort(n_subjects: int = 300, seed: int = 0) -> MedsDataset:
    """Generate the cohort in memory (polars events in MEDS column types, codes, splits, metadata)."""
    if n_subjects < 1:
        raise ConfigError(f"n_subjects must be at least 1, got {n_subjects}")
    pl = require("polars", "meds")
    rows: dict[str, list[Any]] = {"subject_id": [], "time": [], "code": [], "numeric_value": []}
    for i in range(n_subjects):
        subject_id = FIRST_SUBJECT_ID + i
        events = _subject(random.Random(seed * 1_000_003 + i))
        # Static events first, then time order; ties keep the generator's clinical order.
        events.sort(key=lambda e: (e[0] is not None, e[0] or datetime.min, e[1]))
        for time, _, code, value in events:
            rows["subject_id"].append(subject_id)
            rows["time"].append(time.replace(microsecond=0) if time is not None else None)
            rows["code"].append(code)
            rows["numeric_value"].append(value)
    events_df = pl.DataFrame(rows, schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String,
                                           "numeric_value": pl.Float32}).with_columns(
        text_value=pl.lit(None, dtype=pl.String))
    used = sorted(set(rows["code"]))
    codes = pl.DataFrame({"code": used, "description": [CODE_DESCRIPTIONS.get(c) for c in used],
                          "parent_codes": [[] for _ in used]},
                         schema={"code": pl.String, "description": pl.String, "parent_codes": pl.List(pl.String)})
    splits = {FIRST_SUBJECT_ID + i: hash_split(FIRST_SUBJECT_ID + i, seed) for i in range(n_subjects)}
    metadata = {"dataset_name": "clinrl-synthetic-meds", "dataset_version": f"{GENERATOR_VERSION}-seed{seed}-n{n_subjects}",
                "etl_name": "clinrl.data.meds_synth", "etl_version": GENERATOR_VERSION,
                "license": "CC0-1.0 (synthetic)"}
    return MedsDataset(events=events_df, codes=codes, splits=splits, metadata=metadata,
                       source=f"synthetic(seed={seed}, n={n_subjects})", split_origin="hash")


def write_cohort(root: Any, n_subjects: int = 300, seed: int = 0, subjects_per_shard: int = 100,
                 overwrite: bool = False) -> MedsDataset:
    """Generate and write the cohort as a MEDS dataset directory (atomically; an existing data set there is
    refused unless ``overwrite``); returns the in-memory dataset."""
    from clinrl.data.atomic import check_output_dir
    from clinrl.data.meds import check_dataset_dir, write_meds

    check_output_dir(check_dataset_dir(root), overwrite=overwrite)  # before generating, not after
    dataset = generate_cohort(n_subjects, seed)
    write_meds(root, dataset.events, splits=dataset.splits, codes=dataset.codes, metadata=dataset.metadata,
               subjects_per_shard=subjects_per_shard, overwrite=overwrite)
    return dataset
