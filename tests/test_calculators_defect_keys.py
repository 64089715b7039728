"""Documented MedCalc-Bench label defects are recognised by what a row holds, in any file.

An examined v1.0 test row is matched by the digest of its calculator, note and answer, a systematic
defect by its rule over the row's inputs and answers; never by the row number alone. Outside the
examined test set an unexplained disagreement is "undocumented".
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

import pytest

from clinrl.calculators import compute
from clinrl.calculators.entities import inputs_from_relevant_entities
from clinrl.tasks.medcalc.known_defects import (
    KNOWN_DEFECTS,
    TEST_ROW_DIGESTS,
    RowFacts,
    defect_for,
    is_official_test_set,
    match_defect,
    row_digest,
)
from clinrl.tasks.medcalc import synth as synth
from clinrl.tasks.medcalc.audit import audit_samples
from clinrl.registry import get_task


def _audit_rows(tmp_path, rows, name="rows.csv"):
    path = tmp_path / name
    synth.write_rows(rows, str(path))
    return audit_samples(get_task("medcalc").load(str(path)))


def _cause_of(calculator_id, row_number):
    return defect_for(calculator_id, row_number).cause


def test_a_row_sharing_a_test_defects_row_number_does_not_get_its_explanation(tmp_path):
    assert defect_for(3, 25) is not None  # test row 25 is a documented CKD-EPI defect
    row = synth.generate_row(3, 0, seed=0, difficulty="template")
    wrong = float(row["Ground Truth Answer"]) * 1.5
    row.update({"Row Number": 25, "Ground Truth Answer": f"{wrong:.3f}", "Lower Limit": f"{wrong * 0.95:.5f}",
                "Upper Limit": f"{wrong * 1.05:.5f}"})
    (audited,) = _audit_rows(tmp_path, [row])
    assert audited.status == "disagree"
    assert audited.cause.startswith("undocumented: clinrl computes"), audited.cause
    assert _cause_of(3, 25) not in audited.cause


def _short_cycle_row(shift_extra: int):
    """A synthetic due-date row with a cycle under 28 days and the dataset's |cycle - 28| label (+ extra)."""
    for index in range(200):
        row = synth.generate_row(13, index, seed=3, difficulty="template")
        inputs = compute(13, inputs_from_relevant_entities(13, row["Relevant Entities"])).inputs
        if inputs["cycle_length"] < 28:
            wrong = inputs["lmp"] + dt.timedelta(days=280 + 28 - inputs["cycle_length"] + shift_extra)
            text = wrong.strftime("%m/%d/%Y")
            return dict(row, **{"Row Number": 5000 + index, "Ground Truth Answer": text, "Lower Limit": text,
                                "Upper Limit": text})
    raise AssertionError("the generator drew no cycle shorter than 28 days")


def test_short_cycle_due_date_is_recognised_by_its_rule_in_any_file(tmp_path):
    second = _short_cycle_row(1)
    second["Row Number"] += 1000  # the same draw twice: one file needs two Row Numbers
    documented, other = _audit_rows(tmp_path, [_short_cycle_row(0), second])
    assert documented.status == "disagree" and _cause_of(13, 928) in documented.cause
    assert documented.cause.startswith("dataset defect (label)")
    assert other.status == "disagree" and other.cause.startswith("undocumented")


def test_zero_width_decimal_interval_rule():
    entities = {"weight": [70.0, "kg"], "height": [175.0, "cm"]}
    clinrl = compute(6, inputs_from_relevant_entities(6, entities)).value

    def facts(truth, lower=None, upper=None):
        text = f"{truth:.3f}"
        return RowFacts(6, "note", text, lower or text, upper or text, entities, "", clinrl)

    defect = match_defect(facts(clinrl * 1.01))
    assert defect is not None and "zero width" in defect.cause
    assert match_defect(facts(clinrl * 1.2)) is None  # too far off: a real disagreement
    assert match_defect(facts(clinrl * 1.01, "1", "200")) is None  # the interval is not zero-width
    assert match_defect(RowFacts(6, "note", "0", "0", "0", entities, "", 0.0)) is None  # 0 +- 5 % is 0


def test_rounded_unit_conversion_rule():
    entities = {"sex": "Male", "age": [60, "years"], "weight": [70.0, "kg"], "height": [175.0, "cm"],
                "creatinine": [66.0, "µmol/L"]}
    clinrl = compute(2, inputs_from_relevant_entities(2, entities)).value
    rounded = compute(2, inputs_from_relevant_entities(2, dict(entities, creatinine=[0.7, "mg/dL"]))).value
    assert abs(rounded - clinrl) > 0.05 * clinrl  # 66 umol/L is 0.747 mg/dL; rounded through 0.007 g it is 0.7
    truth = f"{rounded:.3f}"
    sentence = "The concentration value of 66.0 µmol creatinine/L converts to {} mg creatinine/dL. "

    def facts(converted):
        return RowFacts(2, "note", truth, f"{rounded * 0.95:.5f}", f"{rounded * 1.05:.5f}", entities,
                        "... " + sentence.format(converted) + "...", clinrl)

    defect = match_defect(facts("0.7"))
    assert defect is not None and "rounded to 3 decimals" in defect.cause
    assert match_defect(facts("0.747")) is None  # an exact conversion does not explain the difference


# --- the real files -----------------------------------------------------------------------------------------
def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_test_row_digests_match_the_test_file(medcalc_test_csv):
    rows = _read(medcalc_test_csv)
    listed = {row for d in KNOWN_DEFECTS for row in d.rows}
    assert set(TEST_ROW_DIGESTS) == listed
    by_number = {int(r["Row Number"]): r for r in rows}
    for number, digest in TEST_ROW_DIGESTS.items():
        r = by_number[number]
        assert row_digest(r["Calculator ID"], r["Patient Note"], r["Ground Truth Answer"]) == digest, number
    digests = [row_digest(r["Calculator ID"], r["Patient Note"], r["Ground Truth Answer"]) for r in rows]
    assert is_official_test_set(digests) and is_official_test_set(digests[::-1])
    assert not is_official_test_set(digests[:-1])


def test_renumbered_test_defect_rows_keep_their_explanation(medcalc_test_csv, tmp_path):
    rows = [r for r in _read(medcalc_test_csv) if int(r["Row Number"]) in TEST_ROW_DIGESTS]
    cause = {int(r["Row Number"]): _cause_of(int(r["Calculator ID"]), int(r["Row Number"])) for r in rows}
    renumbered = [dict(r, **{"Row Number": str(100000 + int(r["Row Number"]))}) for r in rows]
    audit = _audit_rows(tmp_path, renumbered)
    assert len(audit) == 218
    for row in audit:
        assert row.status != "agree" and cause[row.row_number - 100000] in row.cause, row


def test_rules_recognise_the_examined_test_rows(medcalc_test_csv):
    """A rule documented next to examined test rows recognises every one of them (so it is the same defect)."""
    ruled = {d.calculator_id: d for d in KNOWN_DEFECTS if d.rule is not None and d.rows}
    assert set(ruled) == {13, 33, 68}
    for r in _read(medcalc_test_csv):
        cid, number = int(r["Calculator ID"]), int(r["Row Number"])
        if cid in ruled and number in ruled[cid].rows:
            facts = RowFacts(cid, r["Patient Note"], r["Ground Truth Answer"], r["Lower Limit"], r["Upper Limit"],
                             _entities(r), r["Ground Truth Explanation"])
            assert ruled[cid].rule(facts), number


def _entities(row):
    from clinrl.calculators.entities import parse_relevant_entities

    return parse_relevant_entities(row["Relevant Entities"])


def test_train_sample_disagreements_are_all_documented(shared_data, tmp_path):
    path = shared_data / "medcalc-bench" / "train_sample_98.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    audit = audit_samples(get_task("medcalc").load(str(path)))
    assert Counter(r.status for r in audit) == {"agree": 69, "disagree": 29}
    causes = Counter((r.calculator_id, r.cause.split(": ", 1)[1]) for r in audit if r.status != "agree")
    assert all(r.cause.startswith("dataset defect") for r in audit if r.status != "agree")
    zero_width, rounding = (next(d.cause for d in KNOWN_DEFECTS if d.rule is not None and text in d.cause)
                            for text in ("zero width", "rounded to 3 decimals"))
    assert causes == {(13, _cause_of(13, 928)): 12, (24, zero_width): 7, (2, rounding): 1,
                      (33, _cause_of(33, 447)): 9}
