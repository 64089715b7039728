"""bench/ehr_signal.py: the cut fit, and the rules it scores on the EHR task's own split."""

from __future__ import annotations

import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def sig():
    return load_bench_script("ehr_signal")


def test_fit_cut_picks_the_training_cut_with_the_best_balanced_accuracy(sig):
    values, labels = [50, 55, 61, 70, None, 80], [0, 0, 1, 0, 0, 1]
    assert sig.fit_cut(values, labels) == 61  # 61 and 80 called positive, one negative (70) wrong
    assert sig.balanced_accuracy(labels, [int(v is not None and v >= 61) for v in values]) == pytest.approx(0.875)
    assert sig.fit_cut([None, None], [0, 1]) is None


def test_rules_on_a_small_cohort(sig, capsys):
    """Age is in the prompt and never in the rationale; systolic pressure is in neither unless labs are shown,
    and then the rationale names it too. The rules' cuts are fit on train and scored on held-out."""
    base = ["tasks.0.heldout_limit=40", "tasks.0.source=synthetic:subjects=300;seed=0"]
    assert sig.main(["--set", base[0], "--set", base[1]]) == 0
    rows = {line.split(" | ")[0].strip("| ").split(" >=")[0]: line.split(" | ") for line in
            capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["age"][1:3] == ["yes", "no"]
    assert rows["systolic BP"][1:3] == ["no (labs not among the sections)", "no"]
    assert rows["label prior"][5] == "0.500"
    assert sig.main(["--set", base[0], "--set", base[1], "--set", "tasks.0.options.sections=conditions,labs"]) == 0
    rows = {line.split(" | ")[0].strip("| ").split(" >=")[0]: line.split(" | ") for line in
            capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["systolic BP"][1:3] == ["yes", "yes"]
    assert float(rows["systolic BP"][5].split()[0]) > 0.6  # the cohort's pressure rises before onset
    assert sig.main(["--set", base[0], "--set", base[1], "--set", "tasks.0.options.rationale_age=true"]) == 0
    assert [line.split(" | ")[1:3] for line in capsys.readouterr().out.splitlines() if line.startswith("| age")] == [
        ["yes", "yes"]]


def test_bad_settings_are_reported_without_a_traceback(sig, capsys):
    assert sig.main(["--set", "tasks.0.heldout_limt=5"]) == 2
    assert "unknown config field 'tasks.0.heldout_limt'" in capsys.readouterr().err
    assert sig.main(["--set", "tasks.0.source=/nonexistent/meds"]) == 2
    assert "/nonexistent/meds: no such MEDS directory" in capsys.readouterr().err
