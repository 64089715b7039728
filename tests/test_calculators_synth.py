"""The synthetic MedCalc generator: determinism, loadability, labels that score, notes that state the values."""

from __future__ import annotations

import ast
import re

import pytest

from clinrl.tasks.medcalc import synth as synth
from clinrl.tasks.medcalc.catalog import CALCULATOR_KEYS, QUESTIONS
from clinrl.tasks.medcalc.notes import fmt_number
from clinrl.errors import ConfigError
from clinrl.registry import get_task

SUPPORTED = synth.supported_calculators()
ROWS_PER_CALCULATOR = 6


@pytest.fixture(scope="module")
def task():
    return get_task("medcalc")


def test_starter_calculators_supported():
    assert set(synth.STARTER_CALCULATORS) - {39, 11} <= set(SUPPORTED)  # 39/11 land with their family
    assert len(SUPPORTED) >= 7


def test_every_catalogued_calculator_has_a_question():
    assert set(CALCULATOR_KEYS) <= set(QUESTIONS)
    assert len(QUESTIONS) == 55


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_same_seed_gives_byte_identical_files(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    rows_a = synth.generate_rows(40, calculators="all", seed=11, difficulty="mixed")
    rows_b = synth.generate_rows(40, calculators="all", seed=11, difficulty="mixed")
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    synth.write_rows(rows_a, str(a))
    synth.write_rows(rows_b, str(b))
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / f"c{suffix}"
    synth.write_rows(synth.generate_rows(40, calculators="all", seed=12, difficulty="mixed"), str(c))
    assert c.read_bytes() != a.read_bytes()


def test_parquet_round_trip(tmp_path, task):
    pytest.importorskip("pyarrow")
    path = tmp_path / "rows.parquet"
    synth.write_rows(synth.generate_rows(10, calculators="6,5", seed=0), str(path))
    samples = task.load(str(path))
    assert len(samples) == 10 and all(task.score(task.oracle_completion(s), s.target).correct for s in samples)


def test_row_depends_only_on_seed_plus_index():
    """Random(seed + index): row 7 of a 10-row set equals row 7 of a 30-row set."""
    short = synth.generate_rows(10, calculators="6,5", seed=3)
    long = synth.generate_rows(30, calculators="6,5", seed=3)
    assert short == long[:10]
    a, b = synth.generate_row(6, 7, seed=3), synth.generate_row(6, 6, seed=4)  # both Random(10)
    for column in ("Patient Note", "Relevant Entities", "Ground Truth Answer"):
        assert a[column] == b[column]
    assert a["Note ID"] != b["Note ID"]
    assert synth.generate_row(6, 7, seed=3)["Patient Note"] != synth.generate_row(6, 8, seed=3)["Patient Note"]


@pytest.mark.parametrize("difficulty", synth.DIFFICULTIES)
def test_every_supported_calculator_loads_and_oracle_scores_correct(tmp_path, task, difficulty):
    n = ROWS_PER_CALCULATOR * len(SUPPORTED)
    rows = synth.generate_rows(n, calculators=SUPPORTED, seed=100, difficulty=difficulty)
    path = tmp_path / "rows.csv"
    synth.write_rows(rows, str(path))
    samples = task.load(str(path))
    assert len(samples) == n
    failures = [(s.target, task.score(task.oracle_completion(s), s.target).explanation)
                for s in samples if not task.score(task.oracle_completion(s), s.target).correct]
    assert not failures, failures[:5]
    assert {s.target["calculator_id"] for s in samples} == set(SUPPORTED)


def test_columns_and_bounds():
    for row in synth.generate_rows(3 * len(SUPPORTED), calculators=SUPPORTED, seed=5):
        assert tuple(row) == synth.COLUMNS
        kind = row["Output Type"]
        if kind == "decimal":
            gt, lo, hi = (float(row[c]) for c in ("Ground Truth Answer", "Lower Limit", "Upper Limit"))
            assert lo <= gt <= hi
            assert lo == pytest.approx(min(gt * 0.95, gt * 1.05), abs=1e-5)
            assert hi == pytest.approx(max(gt * 0.95, gt * 1.05), abs=1e-5)
        else:
            assert row["Lower Limit"] == row["Upper Limit"] == row["Ground Truth Answer"]
        assert row["Ground Truth Explanation"].strip()
        assert row["Question"] == QUESTIONS[row["Calculator ID"]].format(
            source=_entities(row).get("input steroid", [""])[0], target=_entities(row).get("target steroid", ""))


def _entities(row):
    return ast.literal_eval(row["Relevant Entities"])


def test_notes_state_every_measured_value():
    """Whatever the entities carry as [value, unit] appears in the note as the same number."""
    for difficulty in synth.DIFFICULTIES:
        for row in synth.generate_rows(2 * len(SUPPORTED), calculators=SUPPORTED, seed=9, difficulty=difficulty):
            note = row["Patient Note"]
            for key, value in _entities(row).items():
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float)):
                    number = value[0]
                    candidates = {fmt_number(number, d) for d in range(0, 4)} | {str(number)}
                    assert any(re.search(rf"(?<![\d.]){re.escape(c)}(?![\d])", note) for c in candidates), (
                        key, value, note)


def test_template_notes_have_no_distractors_and_noisy_ones_do():
    template = synth.generate_rows(20, calculators="6,5", seed=1, difficulty="template")
    noisy = synth.generate_rows(20, calculators="6,5", seed=1, difficulty="noisy")
    assert all(len(r["Patient Note"]) < 200 for r in template)
    assert sum("history of" in r["Patient Note"] or "Labs" in r["Patient Note"] or "Laboratory" in r["Patient Note"]
               or "Blood tests" in r["Patient Note"] for r in noisy) >= 15
    assert any(_entities(r)["weight"][1] != "kg" or _entities(r)["height"][1] != "cm"
               for r in noisy if int(r["Calculator ID"]) == 6)


def test_scores_spread_over_their_range():
    ints = [int(r["Ground Truth Answer"]) for r in synth.generate_rows(60, calculators="4", seed=0)]
    assert len(set(ints)) >= 5


def test_bad_configuration_is_rejected_with_a_clear_error():
    with pytest.raises(ConfigError, match="no calculator"):
        synth.parse_calculators("6,9999")
    with pytest.raises(ConfigError, match="difficulty"):
        synth.generate_row(6, 0, difficulty="impossible")
    with pytest.raises(ConfigError, match="n must be"):
        synth.generate_rows(-1)
    with pytest.raises(ConfigError, match="key=value"):
        synth.parse_synthetic_source("synthetic:calculators")
    with pytest.raises(ConfigError, match="n: 'lots' is not a valid int"):
        synth.parse_synthetic_source("synthetic:n=lots")
    with pytest.raises(ConfigError, match="unsupported output"):
        synth.write_rows([], "/tmp/rows.xlsx")


def test_task_synthetic_source(task):
    spec = "synthetic:calculators=6,5,bmi;n=12;seed=4;difficulty=narrative"
    train = task.load(spec, "train")
    again = task.load(spec, "train")
    test = task.load(spec, "test")
    assert [s.to_dict() for s in train] == [s.to_dict() for s in again]
    assert len(train) == 12 and train[0].metadata["synthetic"] and train[0].metadata["seed"] == 4
    assert {s.metadata["patient_note"] for s in train}.isdisjoint({s.metadata["patient_note"] for s in test})
    assert {s.target["calculator_id"] for s in train} == {5, 6}
    assert len(task.load("synthetic:calculators=6;n=50", "train", limit=7)) == 7
    with pytest.raises(ConfigError, match="split"):
        task.load("synthetic:n=2", "holdout-2")


def test_every_entity_a_row_carries_is_read_by_its_calculator():
    """An entity the calculator ignored would be a value the note states but the label does not use."""
    from clinrl.calculators.entities import unmatched_entity_keys

    for row in synth.generate_rows(4 * len(SUPPORTED), calculators=SUPPORTED, seed=21):
        assert not unmatched_entity_keys(int(row["Calculator ID"]), row["Relevant Entities"]), row["Calculator ID"]


def test_all_55_calculators_are_supported():
    from clinrl.calculators import list_calculators

    if len(list_calculators()) < 55:
        pytest.skip("not every calculator family is registered yet")
    assert SUPPORTED == sorted(CALCULATOR_KEYS) and len(SUPPORTED) == 55


def test_unstated_findings_are_only_ever_absent_ones():
    """Noisy notes may leave a finding unsaid only when it is absent ("Cough Absent" true = no cough)."""
    for row in synth.generate_rows(60, calculators="20,33", seed=4, difficulty="noisy"):
        note, entities = row["Patient Note"].lower(), _entities(row)
        for key in ("Cough Absent", "Absence of cough or coryza"):
            if key in entities and not entities[key]:  # the patient coughs: the note must say so
                assert "cough" in note, note


def test_any_seed_any_calculator_any_level_gives_a_loadable_correct_row(task):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=80, deadline=None, derandomize=True)
    @hypothesis.given(cid=st.sampled_from(SUPPORTED), seed=st.integers(0, 2**31), index=st.integers(0, 10**6),
                      difficulty=st.sampled_from(synth.DIFFICULTY_CHOICES))
    def check(cid, seed, index, difficulty):
        row = synth.generate_row(cid, index, seed=seed, difficulty=difficulty)
        sample = task.sample_from_row(row, source="hypothesis", row_number=index + 1, split="train")
        assert task.score(task.oracle_completion(sample), sample.target).correct
        assert row == synth.generate_row(cid, index, seed=seed, difficulty=difficulty)

    check()
