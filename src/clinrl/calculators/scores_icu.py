"""Critical-care scores: Glasgow Coma Scale, APACHE II, SOFA, SIRS criteria."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinrl.calculators._tally import (
    Tally,
    band,
    cell_count,
    flag,
    given,
    not_mentioned,
    optional,
    present,
    python_names,
    temperature_c,
)
from clinrl.calculators.base import AGE, Calculator, Field, Values, entity_key, fmt, register

_EYE = ("no eye opening", "eye opening to pain", "eye opening to verbal command", "eyes open spontaneously")
_VERBAL = ("no verbal response", "incomprehensible sounds", "inappropriate words", "confused", "oriented")
_MOTOR = ("no motor response", "extension to pain", "flexion to pain", "withdrawal from pain", "localizes pain",
          "obeys commands")
NOT_TESTABLE = "not testable"


def _map(v: Values, t: Tally) -> float | None:
    """Mean arterial pressure: given, or (2 x diastolic + systolic) / 3."""
    if v.get("map") is not None:
        return v["map"]
    sbp, dbp = v.get("systolic_bp"), v.get("diastolic_bp")
    if sbp is None or dbp is None:
        return None
    value = (2 * dbp + sbp) / 3
    t.note(f"MAP = (2 x diastolic + systolic) / 3 = (2 x {fmt(dbp)} + {fmt(sbp)}) / 3 = {fmt(value)} mm Hg.")
    return value


def _cells_from_entities(calc: Calculator, entities: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Inputs with the cell counts ``names`` re-read from the raw entity by :func:`cell_count`."""
    inputs = Calculator.from_entities(calc, entities)
    for key, raw in entities.items():
        for name in names:
            if entity_key(key) in {entity_key(k) for k in (name, *calc.field(name).entity_keys)}:
                inputs[name] = cell_count(raw)
    return inputs


@register
class GlasgowComaScale(Calculator):
    id, slug, name = 21, "gcs", "Glasgow Coma Score (GCS)"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Teasdale G, Jennett B. Assessment of coma and impaired consciousness. A practical scale. "
                 "Lancet 1974;2(7872):81-84.")
    fields = (
        Field("eye", "choice", choices=_EYE + (NOT_TESTABLE,), help="best eye response (1-4)",
              entity_keys=("Best eye response",), synonyms=(("eyes open to pain", _EYE[1]),
                                                            ("eye opening to speech", _EYE[2]), ("none", _EYE[0]))),
        Field("verbal", "choice", choices=_VERBAL + (NOT_TESTABLE,), help="best verbal response (1-5)",
              entity_keys=("Best verbal response",), synonyms=(("none", _VERBAL[0]),)),
        Field("motor", "choice", choices=_MOTOR + (NOT_TESTABLE,), help="best motor response (1-6)",
              entity_keys=("Best motor response",), synonyms=(("none", _MOTOR[0]),
                                                              ("abnormal flexion to pain", _MOTOR[2]),
                                                              ("localizes to pain", _MOTOR[4]))),
    )

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Glasgow Coma Score")
        for name, label, scale in (("eye", "Best eye response", _EYE), ("verbal", "Best verbal response", _VERBAL),
                                   ("motor", "Best motor response", _MOTOR)):
            if v[name] == NOT_TESTABLE:
                t.add(label, "not testable", len(scale),
                      f"assumed normal, {scale[-1]!r}, the MedCalc-Bench convention")
            else:
                t.add(label, v[name], scale.index(v[name]) + 1)
        return int(t.total), t.explanation(
            "GCS = eye (1-4) + verbal (1-5) + motor (1-6), from 3 to 15.", absent_convention=False)


_SURGERY = ("Nonoperative", "Emergency postoperative", "Elective postoperative")


@register
class ApacheII(Calculator):
    id, slug, name = 28, "apache-ii", "APACHE II Score"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Knaus WA, Draper EA, Wagner DP, Zimmerman JE. APACHE II: a severity of disease classification "
                 "system. Crit Care Med 1985;13(10):818-829.")
    fields = (
        AGE,
        optional("temperature", "degC", "core temperature", "Temperature", minimum=10, maximum=47),
        optional("map", "mmHg", "mean arterial pressure (else from systolic and diastolic)",
                 "Mean arterial pressure", maximum=300),
        optional("systolic_bp", "mmHg", "systolic blood pressure", "Systolic Blood Pressure", maximum=350),
        optional("diastolic_bp", "mmHg", "diastolic blood pressure", "Diastolic Blood Pressure", maximum=300),
        optional("heart_rate", "/min", "heart rate", "Heart Rate or Pulse", maximum=400),
        optional("respiratory_rate", "/min", "respiratory rate", "respiratory rate", maximum=150),
        optional("fio2", "%", "FiO2 in % (room air 21; a fraction needs the unit \"fraction\")", "FiO2",
                 minimum=21, maximum=100),
        optional("pao2", "mmHg", "PaO2 (used when FiO2 < 50%)", "Partial pressure of oxygen",
                 "Partial pressure of oxygen (PaO2) for Apache II", "PaO2", maximum=800),
        Field("aa_gradient", "float", required=False, default=None, minimum=-50, maximum=800,
              help="A-a gradient in mm Hg (used when FiO2 >= 50%)", entity_keys=("A-a gradient",)),
        Field("ph", "float", required=False, default=None, minimum=6.0, maximum=8.5, help="arterial pH",
              entity_keys=("pH",)),
        optional("sodium", "mmol/L", "serum sodium", "Sodium", analyte="sodium", maximum=250),
        optional("potassium", "mmol/L", "serum potassium", "Potassium", analyte="potassium", maximum=20),
        optional("creatinine", "mg/dL", "serum creatinine", "creatinine", analyte="creatinine", maximum=40),
        flag("acute_renal_failure", "acute renal failure (doubles creatinine points)", "Acute renal failure"),
        flag("chronic_renal_failure", "chronic renal failure (not scored separately)", "Chronic Renal Failure"),
        optional("hematocrit", "%", "hematocrit", "Hematocrit", maximum=100),
        optional("wbc", "10^3/uL", "white blood cell count (x 10^3/µL)", "White blood cell count", maximum=1000),
        Field("gcs", "float", required=False, default=None, minimum=3, maximum=15,
              help="Glasgow Coma Score (scored as 15 - GCS)", entity_keys=("Glasgow Coma Score",)),
        flag("chronic_health", "history of severe organ insufficiency or immunocompromise",
             "History of severe organ failure or immunocompromise"),
        Field("surgery_type", "choice", choices=_SURGERY, required=False, default="Nonoperative",
              help="admission type (for the chronic health points)", entity_keys=("Surgery Type",),
              synonyms=(("elective", _SURGERY[2]), ("emergency", _SURGERY[1]), ("non-operative", _SURGERY[0]),
                        ("nonoperative", _SURGERY[0]))),
    )
    fields = python_names(
        fields, chronic_health=("severe_organ_failure_or_immunocompromise", "organ_failure_immunocompromise"),
        pao2="partial_pressure_oxygen", diastolic_bp="dia_bp", systolic_bp="sys_bp", hematocrit="hemocratit")

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        kept = {k: val for k, val in entities.items() if not not_mentioned(val)}
        inputs = _cells_from_entities(self, kept, "wbc")
        if isinstance(inputs.get("surgery_type"), str):
            inputs["surgery_type"] = inputs["surgery_type"].strip()
        return inputs

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("APACHE II score")
        t.add("Age", f"{fmt(v['age'])} years",
              band(v["age"], [(None, 45, 0), (45, 55, 2), (55, 65, 3), (65, 75, 5), (75, None, 6)]),
              "<=44: 0, 45-54: 2, 55-64: 3, 65-74: 5, >=75: 6")
        temp = temperature_c(v)
        t.add("Temperature", given(v, "temperature"), 0 if temp is None else band(
            temp, [(41, None, 4), (39, 41, 3), (38.5, 39, 1), (36, 38.5, 0), (34, 36, 1), (32, 34, 2), (30, 32, 3),
                   (None, 30, 4)]), ">=41: 4, 39-40.9: 3, 38.5-38.9: 1, 36-38.4: 0, 34-35.9: 1, 32-33.9: 2, "
                                    "30-31.9: 3, <30: 4")
        mean = _map(v, t)
        t.add("Mean arterial pressure", "not given (taken as normal)" if mean is None else f"{fmt(mean)} mm Hg",
              0 if mean is None else band(mean, [(160, None, 4), (130, 160, 3), (110, 130, 2), (70, 110, 0),
                                                 (50, 70, 2), (None, 50, 4)]),
              ">=160: 4, 130-159: 3, 110-129: 2, 70-109: 0, 50-69: 2, <=49: 4")
        hr = v["heart_rate"]
        t.add("Heart rate", given(v, "heart_rate"), 0 if hr is None else band(
            hr, [(180, None, 4), (140, 180, 3), (110, 140, 2), (70, 110, 0), (55, 70, 2), (40, 55, 3), (None, 40, 4)]),
            ">=180: 4, 140-179: 3, 110-139: 2, 70-109: 0, 55-69: 2, 40-54: 3, <=39: 4")
        rr = v["respiratory_rate"]
        t.add("Respiratory rate", given(v, "respiratory_rate"), 0 if rr is None else band(
            rr, [(50, None, 4), (35, 50, 3), (25, 35, 1), (12, 25, 0), (10, 12, 1), (6, 10, 2), (None, 6, 4)]),
            ">=50: 4, 35-49: 3, 25-34: 1, 12-24: 0, 10-11: 1, 6-9: 2, <=5: 4")
        self._oxygenation(v, t)
        ph = v["ph"]
        t.add("Arterial pH", given(v, "ph"), 0 if ph is None else band(
            ph, [(7.7, None, 4), (7.6, 7.7, 3), (7.5, 7.6, 1), (7.33, 7.5, 0), (7.25, 7.33, 2), (7.15, 7.25, 3),
                 (None, 7.15, 4)]), ">=7.7: 4, 7.6-7.69: 3, 7.5-7.59: 1, 7.33-7.49: 0, 7.25-7.32: 2, 7.15-7.24: 3, "
                                    "<7.15: 4")
        na = v["sodium"]
        t.add("Sodium", given(v, "sodium"), 0 if na is None else band(
            na, [(180, None, 4), (160, 180, 3), (155, 160, 2), (150, 155, 1), (130, 150, 0), (120, 130, 2),
                 (111, 120, 3), (None, 111, 4)]), ">=180: 4, 160-179: 3, 155-159: 2, 150-154: 1, 130-149: 0, "
                                                  "120-129: 2, 111-119: 3, <=110: 4")
        k = v["potassium"]
        t.add("Potassium", given(v, "potassium"), 0 if k is None else band(
            k, [(7, None, 4), (6, 7, 3), (5.5, 6, 1), (3.5, 5.5, 0), (3, 3.5, 1), (2.5, 3, 2), (None, 2.5, 4)]),
            ">=7: 4, 6-6.9: 3, 5.5-5.9: 1, 3.5-5.4: 0, 3-3.4: 1, 2.5-2.9: 2, <2.5: 4")
        cr = v["creatinine"]
        points = 0 if cr is None else band(cr, [(3.5, None, 4), (2, 3.5, 3), (1.5, 2, 2), (0.6, 1.5, 0),
                                                (None, 0.6, 2)])
        if v["acute_renal_failure"]:
            points *= 2
        t.add("Creatinine", given(v, "creatinine"), points,
              ">=3.5: 4, 2-3.4: 3, 1.5-1.9: 2, 0.6-1.4: 0, <0.6: 2; doubled with acute renal failure "
              f"({present(v['acute_renal_failure'])})")
        hct = v["hematocrit"]
        t.add("Hematocrit", given(v, "hematocrit"), 0 if hct is None else band(
            hct, [(60, None, 4), (50, 60, 2), (46, 50, 1), (30, 46, 0), (20, 30, 2), (None, 20, 4)]),
            ">=60: 4, 50-59.9: 2, 46-49.9: 1, 30-45.9: 0, 20-29.9: 2, <20: 4")
        wbc = v["wbc"]
        t.add("White blood cell count (x 10^3/µL)", given(v, "wbc"), 0 if wbc is None else band(
            wbc, [(40, None, 4), (20, 40, 2), (15, 20, 1), (3, 15, 0), (1, 3, 2), (None, 1, 4)]),
            ">=40: 4, 20-39.9: 2, 15-19.9: 1, 3-14.9: 0, 1-2.9: 2, <1: 4")
        gcs = v["gcs"]
        t.add("Glasgow Coma Score (15 - GCS)", "not given (taken as 15)" if gcs is None else fmt(gcs),
              0 if gcs is None else 15 - gcs)
        if v["chronic_health"]:
            points = 2 if v["surgery_type"] == "Elective postoperative" else 5
            t.add("Chronic health", f"severe organ insufficiency or immunocompromise; {v['surgery_type']}", points,
                  "nonoperative or emergency postoperative: 5, elective postoperative: 2")
        else:
            t.add("Chronic health", "no severe organ insufficiency or immunocompromise", 0)
        return round(t.total), t.explanation(
            "APACHE II = acute physiology points (12 variables, worst value in the first 24 h) + age points + "
            "chronic health points.")

    def _oxygenation(self, v: Values, t: Tally) -> None:
        fio2, pao2, aa = v["fio2"], v["pao2"], v["aa_gradient"]
        if fio2 is not None and fio2 >= 50:
            if aa is None:
                t.add("Oxygenation (FiO2 >= 50%: A-a gradient)", f"FiO2 {fmt(fio2)}%, A-a gradient not given", 0)
                return
            t.add("Oxygenation (FiO2 >= 50%: A-a gradient)", f"FiO2 {fmt(fio2)}%, A-a gradient {fmt(aa)} mm Hg",
                  band(aa, [(500, None, 4), (350, 500, 3), (200, 350, 2), (None, 200, 0)]),
                  ">=500: 4, 350-499: 3, 200-349: 2, <200: 0")
            return
        air = "not given (room air)" if fio2 is None else f"{fmt(fio2)}%"
        # "> 70: 0" is strict (70.5 scores 0); a value in the published gap 60-61 stays with 55-60.
        points = 0 if pao2 is None or pao2 > 70 else band(pao2, [(None, 55, 4), (55, 61, 3), (61, None, 1)])
        t.add("Oxygenation (FiO2 < 50%: PaO2)", f"FiO2 {air}, PaO2 {given(v, 'pao2')}", points,
              ">70: 0, 61-70: 1, 55-60: 3, <55: 4")


_VASOPRESSORS = ("dopamine", "dobutamine", "norepinephrine", "epinephrine")


@register
class SOFA(Calculator):
    id, slug, name = 43, "sofa", "Sequential Organ Failure Assessment (SOFA) Score"
    category, output_kind, unit = "severity", "integer", "points"
    reference = ("Vincent JL, Moreno R, Takala J, et al. The SOFA (Sepsis-related Organ Failure Assessment) score "
                 "to describe organ dysfunction/failure. Intensive Care Med 1996;22(7):707-710.")
    fields = (
        optional("pao2", "mmHg", "PaO2", "Partial pressure of oxygen",
                 "Partial pressure of oxygen (PaO2) for Apache II",
                 "PaO2", maximum=800),
        optional("fio2", "%", "FiO2 in % (room air 21; a fraction needs the unit \"fraction\")", "FiO2",
                 minimum=21, maximum=100),
        flag("mechanical_ventilation", "on mechanical ventilation", "On mechanical ventilation"),
        flag("cpap", "continuous positive airway pressure", "Continuous positive airway pressure",
             "Continous positive airway pressure"),
        optional("platelets", "10^3/uL", "platelet count (x 10^3/µL)", "Platelet count", maximum=5000),
        Field("gcs", "float", required=False, default=None, minimum=3, maximum=15, help="Glasgow Coma Score",
              entity_keys=("Glasgow Coma Score",)),
        optional("bilirubin", "mg/dL", "total bilirubin", "Bilirubin", analyte="bilirubin", maximum=100),
        optional("map", "mmHg", "mean arterial pressure", "Mean arterial pressure", maximum=300),
        optional("systolic_bp", "mmHg", "systolic blood pressure", "Systolic Blood Pressure", maximum=350),
        optional("diastolic_bp", "mmHg", "diastolic blood pressure", "Diastolic Blood Pressure", maximum=300),
        flag("hypotension", "hypotension (MAP < 70 mm Hg) when no pressure is given", "Hypotension"),
        optional("dopamine", "mcg/kg/min", "dopamine dose", "DOPamine", maximum=100),
        optional("dobutamine", "mcg/kg/min", "dobutamine dose", "DOBUTamine", "DOBUTaimine", maximum=100),
        optional("norepinephrine", "mcg/kg/min", "norepinephrine dose", "norEPINEPHrine", maximum=10),
        optional("epinephrine", "mcg/kg/min", "epinephrine dose", "EPINEPHrine", maximum=10),
        optional("creatinine", "mg/dL", "serum creatinine", "creatinine", analyte="creatinine", maximum=40),
        optional("urine_output", "mL/day", "urine output", "Urine Output", maximum=50000),
        flag("cvvhd", "continuous veno-venous hemodialysis (not a SOFA item; recorded)",
             "Continuous veno-venous hemodialysis for >=24 hours in the past week"),
    )
    fields = python_names(
        fields, pao2="partial_pressure_oxygen", systolic_bp="sys_bp", diastolic_bp="dia_bp", dobutamine="doboutamine")

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        return _cells_from_entities(self, entities, "platelets")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("SOFA score")
        self._respiration(v, t)
        plt = v["platelets"]
        t.add("Coagulation: platelets (x 10^3/µL)", given(v, "platelets"), 0 if plt is None else band(
            plt, [(None, 20, 4), (20, 50, 3), (50, 100, 2), (100, 150, 1), (150, None, 0)]),
            ">=150: 0, <150: 1, <100: 2, <50: 3, <20: 4")
        bili = v["bilirubin"]
        t.add("Liver: bilirubin", given(v, "bilirubin"), 0 if bili is None else band(
            bili, [(None, 1.2, 0), (1.2, 2, 1), (2, 6, 2), (6, 12, 3), (12, None, 4)]),
            "<1.2 mg/dL: 0, 1.2-1.9: 1, 2.0-5.9: 2, 6.0-11.9: 3, >=12: 4")
        self._cardiovascular(v, t)
        gcs = v["gcs"]
        t.add("Central nervous system: GCS", "not given (taken as 15)" if gcs is None else fmt(gcs),
              0 if gcs is None else band(gcs, [(None, 6, 4), (6, 10, 3), (10, 13, 2), (13, 15, 1), (15, None, 0)]),
              "15: 0, 13-14: 1, 10-12: 2, 6-9: 3, <6: 4")
        cr, urine = v["creatinine"], v["urine_output"]
        by_cr = 0 if cr is None else band(cr, [(None, 1.2, 0), (1.2, 2, 1), (2, 3.5, 2), (3.5, 5, 3), (5, None, 4)])
        by_urine = 0 if urine is None else band(urine, [(None, 200, 4), (200, 500, 3), (500, None, 0)])
        t.add("Renal: creatinine or urine output",
              f"creatinine {given(v, 'creatinine')}, urine output {given(v, 'urine_output')}", max(by_cr, by_urine),
              "creatinine <1.2: 0, 1.2-1.9: 1, 2.0-3.4: 2, 3.5-4.9: 3, >=5: 4; urine < 500 mL/day: 3, "
              "< 200: 4; the worse of the two")
        return int(t.total), t.explanation("SOFA sums 0-4 points for each of six organ systems.")

    def _respiration(self, v: Values, t: Tally) -> None:
        pao2, fio2 = v["pao2"], v["fio2"]
        support = v["mechanical_ventilation"] or v["cpap"]
        if pao2 is None or not fio2:
            t.add("Respiration: PaO2/FiO2", "not given (taken as normal)", 0)
            return
        ratio = pao2 / (fio2 / 100)
        t.note(f"PaO2/FiO2 = {fmt(pao2)} / {fmt(fio2 / 100)} = {fmt(ratio)} mm Hg.")
        points = band(ratio, [(None, 100, 4), (100, 200, 3), (200, 300, 2), (300, 400, 1), (400, None, 0)])
        if points >= 3 and not support:
            points = 2
        t.add("Respiration: PaO2/FiO2", f"{fmt(ratio)} mm Hg, respiratory support {present(support)}", points,
              ">=400: 0, <400: 1, <300: 2, <200 with ventilation or CPAP: 3, <100 with support: 4")

    def _cardiovascular(self, v: Values, t: Tally) -> None:
        dose = {name: v[name] or 0.0 for name in _VASOPRESSORS}
        given = ", ".join(f"{n} {fmt(d)} mcg/kg/min" for n, d in dose.items() if d) or "no vasopressors"
        if dose["dopamine"] > 15 or dose["epinephrine"] > 0.1 or dose["norepinephrine"] > 0.1:
            points, why = 4, "dopamine > 15, epinephrine > 0.1 or norepinephrine > 0.1"
        elif dose["dopamine"] > 5 or dose["epinephrine"] > 0 or dose["norepinephrine"] > 0:
            points, why = 3, "dopamine > 5, epinephrine <= 0.1 or norepinephrine <= 0.1"
        elif dose["dopamine"] > 0 or dose["dobutamine"] > 0:
            points, why = 2, "dopamine <= 5 or any dobutamine"
        else:
            mean = _map(v, t)
            low = mean < 70 if mean is not None else v["hypotension"]
            shown = f"MAP {fmt(mean)} mm Hg" if mean is not None else f"hypotension {present(v['hypotension'])}"
            given = f"{given}; {shown}"
            points, why = (1, "MAP < 70 mm Hg") if low else (0, "MAP >= 70 mm Hg")
        t.add("Cardiovascular", given, points, why)


@register
class SIRS(Calculator):
    id, slug, name = 51, "sirs", "SIRS Criteria"
    category, output_kind, unit = "diagnosis", "integer", "criteria"
    reference = ("Bone RC, Balk RA, Cerra FB, et al. Definitions for sepsis and organ failure and guidelines for "
                 "the use of innovative therapies in sepsis. ACCP/SCCM Consensus Conference. Chest "
                 "1992;101(6):1644-1655.")
    fields = (
        optional("temperature", "degC", "body temperature", "Temperature", minimum=10, maximum=47),
        optional("heart_rate", "/min", "heart rate", "Heart Rate or Pulse", maximum=400),
        optional("respiratory_rate", "/min", "respiratory rate", "respiratory rate", maximum=150),
        optional("paco2", "mmHg", "PaCO2", "PaCO2", maximum=300),
        optional("wbc", "10^3/uL", "white blood cell count (x 10^3/µL)", "White blood cell count", maximum=1000),
        optional("bands", "%", "immature (band) neutrophils (%)", "Band form", "Bands", maximum=100),
    )

    def from_entities(self, entities: Mapping[str, Any]) -> dict[str, Any]:
        return _cells_from_entities(self, entities, "wbc")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("SIRS criteria count")
        temp = temperature_c(v)
        t.add("Temperature > 38 C or < 36 C", given(v, "temperature"),
              int(temp is not None and (temp > 38 or temp < 36)))
        hr = v["heart_rate"]
        t.add("Heart rate > 90/min", given(v, "heart_rate"), int(hr is not None and hr > 90))
        rr, paco2 = v["respiratory_rate"], v["paco2"]
        t.add("Respiratory rate > 20/min or PaCO2 < 32 mm Hg",
              f"respiratory rate {given(v, 'respiratory_rate')}, PaCO2 {given(v, 'paco2')}",
              int((rr is not None and rr > 20) or (paco2 is not None and paco2 < 32)))
        wbc, bands = v["wbc"], v["bands"]
        t.add("WBC > 12 or < 4 x 10^3/µL, or bands > 10%",
              f"WBC {given(v, 'wbc')}, bands {given(v, 'bands')}",
              int((wbc is not None and (wbc > 12 or wbc < 4)) or (bands is not None and bands > 10)))
        return int(t.total), t.explanation(
            "SIRS counts how many of its four criteria are met (2 or more = SIRS).",
            f"the number of SIRS criteria met is {fmt(t.total)}")
