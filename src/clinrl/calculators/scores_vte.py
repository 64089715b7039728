"""Venous thromboembolism scores: Wells PE, Wells DVT, PERC rule, Caprini (2005)."""

from __future__ import annotations

from clinrl.calculators._tally import Tally, band, flag, optional, present, python_names
from clinrl.calculators.base import AGE, SEX, Calculator, Field, Values, fmt, register

_HR = ("heart rate (beats/min)", "Heart Rate or Pulse", "heart rate")
_PRIOR_PE = ("previous_pe", "previously documented pulmonary embolism", "Previously Documented Pulmonary Embolism")
_PRIOR_DVT = ("previous_dvt", "previously documented deep vein thrombosis",
              "Previously documented Deep Vein Thrombosis")


@register
class WellsPE(Calculator):
    id, slug, name = 8, "wells-pe", "Wells' Criteria for Pulmonary Embolism"
    category, output_kind, unit = "risk", "decimal", "points"
    decimals = 1
    reference = ("Wells PS, Anderson DR, Rodger M, et al. Derivation of a simple clinical model to categorize "
                 "patients probability of pulmonary embolism: increasing the models utility with the SimpliRED "
                 "D-dimer. Thromb Haemost 2000;83(3):416-420.")
    fields = (
        flag("clinical_dvt", "clinical signs and symptoms of DVT",
             "Clinical signs and symptoms of Deep Vein Thrombosis"),
        flag("pe_most_likely", "PE is the #1 diagnosis or equally likely",
             "Pulmonary Embolism is #1 diagnosis OR equally likely"),
        optional("heart_rate", "/min", *_HR, maximum=400),
        flag("immobilization", "immobilization for at least 3 days", "Immobilization for at least 3 days"),
        flag("recent_surgery", "surgery in the previous 4 weeks", "Surgery in the previous 4 weeks"),
        flag(*_PRIOR_PE),
        flag(*_PRIOR_DVT),
        flag("hemoptysis", "hemoptysis", "Hemoptysis"),
        flag("malignancy", "malignancy with treatment within 6 months or palliative",
             "Malignancy with treatment within 6 months or palliative"),
    )
    fields = python_names(
        fields, immobilization="immobilization_for_3days", malignancy="malignancy_with_treatment",
        recent_surgery="surgery_in_past4weeks", pe_most_likely="pe_number_one")

    def formula(self, v: Values) -> tuple[float, str]:
        t = Tally("Wells' score for pulmonary embolism")
        t.add("Clinical signs and symptoms of DVT", present(v["clinical_dvt"]), 3 if v["clinical_dvt"] else 0)
        t.add("PE is the #1 diagnosis or equally likely", present(v["pe_most_likely"]),
              3 if v["pe_most_likely"] else 0)
        hr = v["heart_rate"]
        t.add("Heart rate > 100 beats/min", "not given (taken as normal)" if hr is None else v.text("heart_rate"),
              1.5 if hr is not None and hr > 100 else 0)
        either = v["immobilization"] or v["recent_surgery"]
        t.add("Immobilization >= 3 days or surgery in the previous 4 weeks",
              f"immobilization {present(v['immobilization'])}, surgery {present(v['recent_surgery'])}",
              1.5 if either else 0)
        prior = v["previous_pe"] or v["previous_dvt"]
        t.add("Previously diagnosed PE or DVT",
              f"PE {present(v['previous_pe'])}, DVT {present(v['previous_dvt'])}", 1.5 if prior else 0)
        t.add("Hemoptysis", present(v["hemoptysis"]), 1 if v["hemoptysis"] else 0)
        t.add("Malignancy (treated within 6 months or palliative)", present(v["malignancy"]),
              1 if v["malignancy"] else 0)
        return float(t.total), t.explanation(
            "Wells (PE) = clinical DVT signs (3) + PE most likely diagnosis (3) + heart rate > 100 (1.5) + "
            "immobilization/recent surgery (1.5) + previous PE/DVT (1.5) + hemoptysis (1) + malignancy (1).")


@register
class WellsDVT(Calculator):
    id, slug, name = 16, "wells-dvt", "Wells' Criteria for DVT"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Wells PS, Anderson DR, Rodger M, et al. Evaluation of D-dimer in the diagnosis of suspected "
                 "deep-vein thrombosis. N Engl J Med 2003;349(13):1227-1235.")
    _CRITERIA = (
        ("active_cancer", "Active cancer (treatment within 6 months or palliative)", "Active cancer"),
        ("bedridden", "Bedridden recently > 3 days", "Bedridden recently >3 days"),
        ("major_surgery", "Major surgery within 12 weeks", "Major surgery within 12 weeks"),
        ("calf_swelling", "Calf swelling > 3 cm compared with the other leg",
         "Calf swelling >3 centimeters compared to the other leg"),
        ("collateral_veins", "Collateral (nonvaricose) superficial veins",
         "Collateral (nonvaricose) superficial veins present"),
        ("entire_leg_swollen", "Entire leg swollen", "Entire Leg Swollen"),
        ("localized_tenderness", "Localized tenderness along the deep venous system",
         "Localized tenderness along the deep venous system"),
        ("pitting_edema", "Pitting edema confined to the symptomatic leg",
         "Pitting edema, confined to symptomatic leg"),
        ("paralysis", "Paralysis, paresis or recent plaster immobilization of the lower extremity",
         "Paralysis, paresis, or recent plaster immobilization of the lower extremity"),
        ("previous_dvt", "Previously documented DVT", "Previously documented Deep Vein Thrombosis"),
        ("alternative_diagnosis", "Alternative diagnosis as likely or more likely than DVT",
         "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely"),
    )
    fields = tuple(flag(name, label, key) for name, label, key in _CRITERIA) + (
        flag("bedridden_or_surgery", "bedridden > 3 days or major surgery within 12 weeks (one criterion)",
             "Bedridden recently >3 days or major surgery within 12 weeks"),
    )
    fields = python_names(
        fields, alternative_diagnosis="alternative_to_dvt_diagnosis",
        localized_tenderness="localized_tenderness_on_deep_venuous_system", previous_dvt="previous_dvt_documented",
        paralysis="paralysis_paresis_immobilization_in_lower_extreme", entire_leg_swollen="leg_swollen",
        bedridden="bedridden_for_atleast_3_days", major_surgery="major_surgery_in_last_12_weeks",
        calf_swelling="calf_swelling_3cm", collateral_veins="collateral_superficial_veins",
        pitting_edema="pitting_edema_on_symptomatic_leg")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Wells' score for DVT")
        for name, label, _ in self._CRITERIA:
            if name == "major_surgery":
                continue
            if name == "bedridden":
                met = v["bedridden"] or v["major_surgery"] or v["bedridden_or_surgery"]
                t.add("Bedridden recently > 3 days or major surgery within 12 weeks", present(met), int(met))
            elif name == "alternative_diagnosis":
                t.add(label, present(v[name]), -2 if v[name] else 0, "subtracts 2")
            else:
                t.add(label, present(v[name]), int(v[name]))
        return int(t.total), t.explanation(
            "Wells (DVT) adds one point per clinical feature (cancer, immobility/surgery, calf swelling, collateral "
            "veins, entire leg swollen, tenderness, pitting edema, paralysis, previous DVT) and subtracts 2 when an "
            "alternative diagnosis is at least as likely.")


@register
class PERC(Calculator):
    id, slug, name = 48, "perc", "PERC Rule for Pulmonary Embolism"
    category, output_kind, unit = "diagnosis", "integer", "criteria"
    reference = ("Kline JA, Mitchell AM, Kabrhel C, Richman PB, Courtney DM. Clinical criteria to prevent "
                 "unnecessary diagnostic testing in emergency department patients with suspected pulmonary "
                 "embolism. J Thromb Haemost 2004;2(8):1247-1255.")
    fields = (
        AGE,
        optional("heart_rate", "/min", *_HR, maximum=400),
        optional("oxygen_saturation", "%", "O2 saturation (%)", "O2 saturation percentage", maximum=100),
        flag("unilateral_leg_swelling", "unilateral leg swelling", "Unilateral Leg Swelling"),
        flag("hemoptysis", "hemoptysis", "Hemoptysis"),
        flag("recent_surgery_or_trauma", "surgery or trauma within 4 weeks", "Recent surgery or trauma"),
        flag(*_PRIOR_PE),
        flag(*_PRIOR_DVT),
        flag("hormone_use", "oral contraceptives, hormone replacement or estrogen use", "Hormone use"),
    )
    fields = python_names(
        fields, oxygen_saturation="oxygen_sat", hormone_use="hormonal_use")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("PERC criteria count")
        t.add("Age >= 50", f"{fmt(v['age'])} years", 1 if v["age"] >= 50 else 0)
        hr, sat = v["heart_rate"], v["oxygen_saturation"]
        t.add("Heart rate >= 100", "not given (taken as normal)" if hr is None else v.text("heart_rate"),
              1 if hr is not None and hr >= 100 else 0)
        t.add("O2 saturation < 95%", "not given (taken as normal)" if sat is None else v.text("oxygen_saturation"),
              1 if sat is not None and sat < 95 else 0)
        t.add("Unilateral leg swelling", present(v["unilateral_leg_swelling"]), int(v["unilateral_leg_swelling"]))
        t.add("Hemoptysis", present(v["hemoptysis"]), int(v["hemoptysis"]))
        t.add("Recent surgery or trauma", present(v["recent_surgery_or_trauma"]), int(v["recent_surgery_or_trauma"]))
        prior = v["previous_pe"] or v["previous_dvt"]
        t.add("Prior PE or DVT", f"PE {present(v['previous_pe'])}, DVT {present(v['previous_dvt'])}", int(prior))
        t.add("Hormone use", present(v["hormone_use"]), int(v["hormone_use"]))
        return int(t.total), t.explanation(
            "The PERC rule counts how many of its eight criteria are met (0 = PE ruled out at low pretest "
            "probability).", f"the number of PERC criteria met is {fmt(t.total)}")


_SURGERY = ("none", "minor", "major", "laparoscopic", "arthroscopic", "elective major lower extremity arthroplasty")
_SURGERY_POINTS = dict(zip(_SURGERY, (0, 1, 2, 2, 2, 5)))
_MOBILITY = ("normal", "on bed rest", "confined to bed >72 hours")
# (field, label, points, entity key) for every yes/no item of the 2005 Caprini form.
_CAPRINI_ITEMS = (
    ("major_surgery_recent", "Major surgery in the last month", 1, "Major Surgery in the last month"),
    ("chf_recent", "Congestive heart failure in the last month", 1, "Congestive Heart Failure in the last month"),
    ("sepsis_recent", "Sepsis in the last month", 1, "Sepsis in the last month"),
    ("pneumonia_recent", "Pneumonia in the last month", 1, "Pneumonia in the last month"),
    ("plaster_cast", "Immobilizing plaster cast in the last month", 2, "Immobilizing plaster cast in the last month"),
    ("fracture", "Hip, pelvis or leg fracture in the last month", 5, "Hip, pelvis, or leg fracture in the last month"),
    ("stroke_recent", "Stroke in the last month", 5, "Stroke in the last month"),
    ("multiple_trauma", "Multiple trauma in the last month", 5, "Multiple trauma in the last month"),
    ("spinal_cord_injury", "Acute spinal cord injury with paralysis in the last month", 5,
     "Acute spinal cord injury causing paralysis in the last month"),
    ("varicose_veins", "Varicose veins", 1, "Varicose veins"),
    ("swollen_legs", "Current swollen legs", 1, "Current swollen legs"),
    ("central_venous_access", "Current central venous access", 2, "Current central venous access"),
    ("family_history_thrombosis", "Family history of thrombosis", 3, "Family history of thrombosis"),
    ("factor_v_leiden", "Positive factor V Leiden", 3, "Positive Factor V Leiden"),
    ("prothrombin_20210a", "Positive prothrombin 20210A", 3, "Positive prothrombin 20210A"),
    ("homocysteine", "Elevated serum homocysteine", 3, "Elevated serum homocysteine"),
    ("lupus_anticoagulant", "Positive lupus anticoagulant", 3, "Positive lupus anticoagulant"),
    ("anticardiolipin", "Elevated anticardiolipin antibody", 3, "Elevated anticardiolipin antibody"),
    ("hit", "Heparin-induced thrombocytopenia", 3, "Heparin-induced thrombocytopenia"),
    ("other_thrombophilia", "Other congenital or acquired thrombophilia", 3,
     "Other congenital or acquired thrombophilia"),
    ("ibd", "History of inflammatory bowel disease", 1, "History of inflammatory bowel disease"),
    ("acute_mi", "Acute myocardial infarction", 1, "Acute Myocardial infarction"),
    ("copd", "Chronic obstructive pulmonary disease", 1, "Chronic Obstructive Pulmonary Disease"),
    ("malignancy", "Present or previous malignancy", 2, "Present or previous malignancy"),
)


@register
class Caprini(Calculator):
    id, slug, name = 36, "caprini", "Caprini Score for Venous Thromboembolism (2005)"
    category, output_kind, unit = "risk", "integer", "points"
    reference = ("Caprini JA. Thrombosis risk assessment as a guide to quality patient care. Dis Mon "
                 "2005;51(2-3):70-78.")
    fields = (
        AGE, SEX.with_(required=False, help="sex (not scored without pregnancy items)"),
        Field("surgery_type", "choice", choices=_SURGERY, required=False, default="none",
              help="type of surgery (major and laparoscopic: > 45 min)", entity_keys=("Surgery Type",),
              synonyms=(("major (>45 min)", "major"), ("laparoscopic (>45 min)", "laparoscopic"),
                        ("no surgery", "none"))),
        Field("mobility", "choice", choices=_MOBILITY, required=False, default="normal",
              help="mobility (normal/ambulatory 0, bed rest 1, confined to bed > 72 h 2)", entity_keys=("Mobility",),
              synonyms=(("ambulatory", "normal"), ("normal/ambulatory", "normal"), ("bed rest", "on bed rest"))),
        Field("bmi", "quantity", "kg/m^2", required=False, default=None, minimum=5, maximum=150,
              help="body mass index (> 25 scores a point)", entity_keys=("Body Mass Index (BMI)", "BMI")),
        flag(*_PRIOR_DVT),
        flag(*_PRIOR_PE),
    ) + tuple(flag(name, label, key) for name, label, _, key in _CAPRINI_ITEMS)
    fields = python_names(
        fields, major_surgery_recent=("major_surgery", "major_surgery_last_month"),
        chf_recent=("chf", "chf_last_month"), sepsis_recent="sepsis", pneumonia_recent="pneumonia",
        plaster_cast=("immobilizing_plaster_case", "immobilizing_plaster_cast"), fracture="hip_pelvis_leg_fracture",
        stroke_recent=("stroke", "stroke_last_month"), spinal_cord_injury="acute_spinal_chord_injury",
        central_venous_access="current_central_venuous", factor_v_leiden="positive_factor_v",
        prothrombin_20210a="positive_prothrombin", homocysteine="serum_homocysteine",
        other_thrombophilia="congenital_acquired_thrombophilia", ibd="inflammatory_bowel_disease",
        bmi="body_mass_index")

    def formula(self, v: Values) -> tuple[int, str]:
        t = Tally("Caprini score")
        t.add("Age", f"{fmt(v['age'])} years",
              band(v["age"], [(None, 41, 0), (41, 61, 1), (61, 75, 2), (75, None, 3)]),
              "<=40: 0, 41-60: 1, 61-74: 2, >=75: 3")
        t.add("Type of surgery", v["surgery_type"], _SURGERY_POINTS[v["surgery_type"]],
              "minor 1, major/laparoscopic/arthroscopic 2, elective major lower extremity arthroplasty 5")
        for name, label, points, _ in _CAPRINI_ITEMS[:12]:
            t.add(label, present(v[name]), points if v[name] else 0)
        prior = v["previous_dvt"] or v["previous_pe"]
        t.add("History of DVT/PE", f"DVT {present(v['previous_dvt'])}, PE {present(v['previous_pe'])}",
              3 if prior else 0, "one item of 3 points")
        for name, label, points, _ in _CAPRINI_ITEMS[12:]:
            t.add(label, present(v[name]), points if v[name] else 0)
        t.add("Mobility", v["mobility"], _MOBILITY.index(v["mobility"]))
        bmi = v["bmi"]
        t.add("BMI > 25 kg/m2", "not given (taken as <= 25)" if bmi is None else v.text("bmi"),
              1 if bmi is not None and bmi > 25 else 0)
        return int(t.total), t.explanation(
            "The Caprini (2005) score sums weighted risk factors: age, type of surgery, recent events (1-5 points), "
            "venous disease and thrombophilia (1-3 points), mobility, and other conditions including BMI > 25.")
