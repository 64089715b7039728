"""Infection scores: Centor (McIsaac), FeverPAIN, CURB-65, Pneumonia Severity Index."""

from __future__ import annotations

from clinrl.calculators._tally import (
    Tally, absence_finding, absence_flag, band, flag, given, optional, present, python_names, temperature_c,
)
from clinrl.calculators.base import AGE, SEX, Calculator, Field, Values, fmt, register

_TEMP = ("temperature", "degC", "body temperature", "Temperature")
_HR = ("heart_rate", "/min", "heart rate", "Heart Rate or Pulse")
_RR = ("respiratory_rate", "/min", "respiratory rate", "respiratory rate")
#: FeverPAIN's criterion phrased as an absence: met when cough and coryza are not mentioned
_FEVERPAIN_ABSENCE = "no_cough_or_coryza"
_BUN = ("bun", "mg/dL", "blood urea nitrogen (urea mmol/L accepted)", "Blood Urea Nitrogen (BUN)", "BUN")


@register
class Centor(Calculator):
    id, slug, name = 20, "centor-mcisaac", "Centor Score (Modified/McIsaac) for Strep Pharyngitis"
    category, output_kind, unit = "diagnosis", "integer", "points"
    reference = ("McIsaac WJ, White D, Tannenbaum D, Low DE. A clinical score to reduce unnecessary antibiotic use "
                 "in patients with sore throat. CMAJ 1998;158(1):75-83.")
    fields = (
        AGE,
        optional(*_TEMP, minimum=10, maximum=47),
        absence_flag("cough_absent", "cough absent (not mentioned = absent: the point is given)", "Cough Absent"),
        flag("tender_nodes", "tender/swollen anterior cervical lymph nodes",
             "Tender/swollen anterior cervical lymph nodes"),
        flag("tonsillar_exudate", "exudate or swelling on tonsils", "Exudate or swelling on tonsils"),
    )
    fields = python_names(
        fields, tender_nodes="tender_lymph_nodes", tonsillar_exudate="exudate_swelling_tonsils")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Centor (McIsaac) score")
        t.add("Age", v.text("age"), band(v["age"], [(None, 3, 0), (3, 15, 1), (15, 45, 0), (45, None, -1)]),
              "3-14 years: +1, 15-44: 0, >= 45: -1; the rule is not defined under 3 years: 0")
        temp = temperature_c(v)
        t.add("Temperature > 38 C", given(v, "temperature"), 1 if temp is not None and temp > 38 else 0)
        t.add("Cough absent", absence_finding(v, "cough_absent", "cough"), int(v["cough_absent"]))
        t.add("Tender/swollen anterior cervical nodes", present(v["tender_nodes"]), int(v["tender_nodes"]))
        t.add("Tonsillar exudate or swelling", present(v["tonsillar_exudate"]), int(v["tonsillar_exudate"]))
        return int(t.total), t.explanation(
            "Centor (McIsaac) = age points + one point each for temperature > 38 C, absent cough, tender anterior "
            "cervical nodes and tonsillar exudate or swelling.")


@register
class FeverPAIN(Calculator):
    id, slug, name = 33, "feverpain", "FeverPAIN Score for Strep Pharyngitis"
    category, output_kind, unit = "diagnosis", "integer", "points"
    reference = ("Little P, Moore M, Hobbs FDR, et al. PRImary care Streptococcal Management (PRISM) study: "
                 "identifying clinical variables associated with Lancefield group A beta-haemolytic streptococci "
                 "and Lancefield non-Group A streptococcal throat infections from two cohorts of patients "
                 "presenting with an acute sore throat. BMJ Open 2013;3(10):e003943.")
    _CRITERIA = (
        ("fever", "Fever in the past 24 hours", "Fever in past 24 hours"),
        ("purulence", "Purulent tonsils", "Purulent tonsils"),
        ("attend_rapidly", "Attend rapidly (symptom onset <= 3 days)", "Symptom onset <=3 days"),
        ("inflamed_tonsils", "Severely inflamed tonsils", "Severe tonsil inflammation"),
        ("no_cough_or_coryza", "No cough or coryza", "Absence of cough or coryza"),
    )
    fields = tuple((absence_flag if name == _FEVERPAIN_ABSENCE else flag)(
        name, label + (" (not mentioned = absent: the point is given)" if name == _FEVERPAIN_ABSENCE else ""), key)
        for name, label, key in _CRITERIA)
    fields = python_names(
        fields, attend_rapidly="symptom_onset", fever="fever_24_hours", no_cough_or_coryza="cough_coryza_absent")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("FeverPAIN score")
        for name, label, _ in self._CRITERIA:
            finding = absence_finding(v, name, "cough or coryza") if name == _FEVERPAIN_ABSENCE else present(v[name])
            t.add(label, finding, int(v[name]))
        return int(t.total), t.explanation(
            "FeverPAIN counts one point each for Fever, Purulence, Attend rapidly (<= 3 days), severely Inflamed "
            "tonsils and No cough or coryza.")


@register
class Curb65(Calculator):
    id, slug, name = 45, "curb-65", "CURB-65 Score for Pneumonia Severity"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Lim WS, van der Eerden MM, Laing R, et al. Defining community acquired pneumonia severity on "
                 "presentation to hospital: an international derivation and validation study. Thorax "
                 "2003;58(5):377-382.")
    fields = (
        AGE,
        flag("confusion", "new confusion", "Confusion"),
        optional(*_BUN, analyte="bun", maximum=500),
        optional(*_RR, maximum=150),
        optional("systolic_bp", "mmHg", "systolic blood pressure", "Systolic Blood Pressure", maximum=350),
        optional("diastolic_bp", "mmHg", "diastolic blood pressure", "Diastolic Blood Pressure", maximum=300),
    )
    fields = python_names(
        fields, systolic_bp="sys_bp", diastolic_bp="dia_bp")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("CURB-65 score")
        t.add("Confusion", present(v["confusion"]), int(v["confusion"]))
        bun = v["bun"]
        # Lim et al. use urea > 7 mmol/L; MedCalc-Bench and US practice use the BUN form > 19 mg/dL.
        t.add("BUN > 19 mg/dL (urea > 7 mmol/L)", given(v, "bun"), 1 if bun is not None and bun > 19 else 0)
        rr = v["respiratory_rate"]
        t.add("Respiratory rate >= 30/min", given(v, "respiratory_rate"), 1 if rr is not None and rr >= 30 else 0)
        sbp, dbp = v["systolic_bp"], v["diastolic_bp"]
        low = (sbp is not None and sbp < 90) or (dbp is not None and dbp <= 60)
        t.add("Systolic BP < 90 or diastolic BP <= 60 mm Hg",
              f"systolic {given(v, 'systolic_bp')}, diastolic {given(v, 'diastolic_bp')}", int(low))
        t.add("Age >= 65", f"{fmt(v['age'])} years", 1 if v["age"] >= 65 else 0)
        return int(t.total), t.explanation(
            "CURB-65 counts one point each for Confusion, Urea (BUN > 19 mg/dL), Respiratory rate >= 30, low Blood "
            "pressure and age >= 65.")


# (field, label, points, entity keys) for the yes/no findings of the PSI.
_PSI_FLAGS = (
    ("nursing_home", "Nursing home resident", 10, ("Nursing home resident",)),
    ("neoplastic_disease", "Neoplastic disease", 30, ("Neoplastic disease",)),
    ("liver_disease", "Liver disease history", 20, ("Liver disease history", "Liver disease severity")),
    ("chf", "Congestive heart failure history", 10, ("Congestive Heart Failure", "Congestive Heart Faliure")),
    ("cerebrovascular_disease", "Cerebrovascular disease history", 10, ("Cerebrovascular disease history",)),
    ("renal_disease", "Renal disease history", 10, ("Renal disease history", "Renal disease")),
    ("altered_mental_status", "Altered mental status", 20, ("Altered mental status",)),
    ("pleural_effusion", "Pleural effusion on x-ray", 10, ("Pleural effusion on x-ray",)),
)


@register
class PneumoniaSeverityIndex(Calculator):
    id, slug, name = 29, "psi", "PSI Score: Pneumonia Severity Index for CAP"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Fine MJ, Auble TE, Yealy DM, et al. A prediction rule to identify low-risk patients with "
                 "community-acquired pneumonia. N Engl J Med 1997;336(4):243-250.")
    fields = (
        AGE, SEX,
        *(flag(name, label, *keys) for name, label, _, keys in _PSI_FLAGS),
        optional(*_RR, maximum=150),
        optional("systolic_bp", "mmHg", "systolic blood pressure", "Systolic Blood Pressure", maximum=350),
        optional(*_TEMP, minimum=10, maximum=47),
        optional(*_HR, maximum=400),
        Field("ph", "float", required=False, default=None, minimum=6.0, maximum=8.5, help="arterial pH",
              entity_keys=("pH",)),
        optional(*_BUN, analyte="bun", maximum=500),
        optional("sodium", "mmol/L", "serum sodium", "Sodium", analyte="sodium", maximum=250),
        optional("glucose", "mg/dL", "serum glucose", "Glucose", analyte="glucose", maximum=5000),
        optional("hematocrit", "%", "hematocrit", "Hematocrit", maximum=100),
        optional("pao2", "mmHg", "arterial partial pressure of oxygen", "Partial pressure of oxygen",
                 "Partial pressure of oxygen (PaO2) for Apache II", "PaO2", maximum=800),
    )
    fields = python_names(
        fields, systolic_bp="sys_bp", pao2="partial_pressure_oxygen", hematocrit="hemocratit")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Pneumonia Severity Index")
        age = int(v["age"]) if float(v["age"]).is_integer() else v["age"]
        if v["sex"] == "Female":
            t.add("Age (female: age - 10)", f"{fmt(v['age'])} years", age - 10)
        else:
            t.add("Age (male: age in years)", f"{fmt(v['age'])} years", age)
        for name, label, points, _ in _PSI_FLAGS:
            t.add(label, present(v[name]), points if v[name] else 0)

        def measured(name: str, label: str, points: int, met) -> None:
            value = v[name]
            t.add(label, given(v, name), points if value is not None and met(value) else 0)

        measured("respiratory_rate", "Respiratory rate >= 30/min", 20, lambda x: x >= 30)
        measured("systolic_bp", "Systolic BP < 90 mm Hg", 20, lambda x: x < 90)
        measured("temperature", "Temperature < 35 C or >= 40 C", 15, lambda x: round(x, 3) < 35 or round(x, 3) >= 40)
        measured("heart_rate", "Pulse >= 125/min", 10, lambda x: x >= 125)
        measured("ph", "Arterial pH < 7.35", 30, lambda x: x < 7.35)
        measured("bun", "BUN >= 30 mg/dL", 20, lambda x: x >= 30)
        measured("sodium", "Sodium < 130 mmol/L", 20, lambda x: x < 130)
        measured("glucose", "Glucose >= 250 mg/dL", 10, lambda x: x >= 250)
        measured("hematocrit", "Hematocrit < 30%", 10, lambda x: x < 30)
        measured("pao2", "PaO2 < 60 mm Hg", 10, lambda x: x < 60)
        total = t.total
        risk = ("I-II" if total <= 70 else "III" if total <= 90 else "IV" if total <= 130 else "V")
        return round(total), t.explanation(
            "The PSI adds the age (minus 10 for women) and fixed points for nursing-home residence, comorbidities, "
            "examination findings and laboratory / radiographic findings.",
            f"the patient's PSI is {fmt(total)} (risk class {risk})")
