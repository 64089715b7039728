"""MedCalc label sources (v1.0, MedCalc-Bench-Verified), column layouts, and benchmark test rows kept out of
training. Every hub access is replaced by a local function: nothing is downloaded."""

from __future__ import annotations

import csv
import sys
import warnings

import pytest

from clinrl.cli import main
from clinrl.tasks.medcalc import synth as synth
from clinrl.errors import DataError
from clinrl.registry import get_task
from clinrl.tasks.medcalc.sources import VERIFIED_HUB_ID

COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
           "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
           "Ground Truth Explanation"]


def _rows(n=8, calculators="6,4,33,13"):
    return synth.generate_rows(n, calculators=calculators, seed=5, difficulty="template")


def _write(path, rows, rename=None):
    rename = rename or {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[rename.get(c, c) for c in COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({rename.get(k, k): v for k, v in row.items() if k in COLUMNS})
    return path


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["clinrl", *map(str, args)])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- MedCalc-Bench-Verified ---------------------------------------------------------------------------
def test_verified_loads_by_hub_id_and_short_name_without_downloading(monkeypatch):
    import clinrl.data.tables as tables

    calls = []

    def fake_hub(dataset_id, *, split):
        calls.append((dataset_id, split))
        yield from enumerate(_rows(4), start=1)

    monkeypatch.setattr(tables, "read_hub", fake_hub)
    task = get_task("medcalc")
    by_name = task.load("verified", "test")
    by_id = task.load(VERIFIED_HUB_ID, "train")
    assert calls == [(VERIFIED_HUB_ID, "test"), (VERIFIED_HUB_ID, "train")]
    assert [s.target for s in by_name] == [s.target for s in by_id] and len(by_name) == 4
    assert by_name[0].metadata["source"] == VERIFIED_HUB_ID


def test_renamed_target_columns_map_to_the_official_ones(tmp_path):
    rows = _rows(4)
    official = get_task("medcalc").load(str(_write(tmp_path / "a.csv", rows)))
    renamed = get_task("medcalc").load(str(_write(tmp_path / "b.csv", rows, {
        "Ground Truth Answer": "Ground Truth", "Lower Limit": "Lower Bound", "Upper Limit": "Upper Bound",
        "Calculator ID": "calculator_id"})))
    assert [s.target for s in renamed] == [s.target for s in official]


def test_an_unknown_layout_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "c.csv", _rows(2), {"Patient Note": "Note Text"})
    with pytest.raises(DataError) as exc:
        get_task("medcalc").load(str(path))
    text = str(exc.value)
    assert str(path) in text and "row 1" in text and "'Patient Note'" in text and "'Note Text'" in text
    assert "Ground Truth" in text and "Lower Bound" in text  # the accepted alternatives are named


def test_audit_reports_where_clinrl_and_verified_labels_disagree(monkeypatch, capsys, tmp_path):
    rows = _rows(8)
    bmi = next(i for i, r in enumerate(rows) if r["Calculator ID"] in (6, "6"))
    rows[bmi] = dict(rows[bmi], **{"Ground Truth Answer": "99.9", "Lower Limit": "94.905", "Upper Limit": "104.895"})
    path = _write(tmp_path / "MedCalc-Bench-Verified_test.csv", rows)
    out = tmp_path / "audit"
    code, stdout, err = run_main(monkeypatch, capsys, "calc", "audit", "--source", path, "--out", out)
    assert code == 0, err
    assert "labels: MedCalc-Bench-Verified" in stdout
    md = (out / "medcalc_label_audit.md").read_text(encoding="utf-8")
    assert "(labels: MedCalc-Bench-Verified)" in md
    section = md.split("disagree, per calculator")[1].split("##")[0]
    assert f"| 6 | Body Mass Index (BMI) | 1 | 0 | {rows[bmi]['Row Number']} |" in section
    assert "| 4 |" not in section  # the untouched calculators agree
    assert "MedCalc-Bench-Verified says 99.9" in (out / "medcalc_label_audit.csv").read_text(encoding="utf-8")


# --- benchmark test rows never become training rows silently -------------------------------------------
def test_a_test_named_file_is_refused_as_training_rows(tmp_path):
    path = _write(tmp_path / "test_data.csv", _rows(3))
    with pytest.raises(DataError) as exc:
        get_task("medcalc").load(str(path), "train")
    text = str(exc.value)
    assert "--split test" in text and "--allow-test-rows-in-train" in text and "allow_test_rows_in_train" in text
    assert len(get_task("medcalc").load(str(path), "test")) == 3
    assert len(get_task("medcalc", allow_test_rows_in_train=True).load(str(path), "train")) == 3
    assert len(get_task("medcalc").load(str(_write(tmp_path / "latest.csv", _rows(3))), "train")) == 3


@pytest.mark.conformance
def test_the_v1_test_set_is_recognised_by_its_rows_under_any_name(medcalc_test_csv, tmp_path):
    link = tmp_path / "rows.csv"
    link.symlink_to(medcalc_test_csv)
    with pytest.raises(DataError, match="MedCalc-Bench v1.0 test set"):
        get_task("medcalc").load(str(link), "train")
