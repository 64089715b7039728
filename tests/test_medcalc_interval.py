"""``interval="widen"``: zero-width decimal intervals of the train split get ±5 % for training rewards;
evaluation splits keep official scoring; every widened row is counted, never silent."""

from __future__ import annotations

import warnings

import pytest

from clinrl.tasks.medcalc import synth as synth
from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.tasks.medcalc import MedCalcDataWarning


def _rows():
    """Steroid conversion rows as the official train split has them (Lower == Upper == ground truth), a
    decimal row whose ground truth is 0, an integer row and a decimal row with ordinary bounds."""
    zero_width = []
    for index in range(2):
        row = synth.generate_row(24, index, seed=5, difficulty="template")
        row["Lower Limit"] = row["Upper Limit"] = row["Ground Truth Answer"]
        zero_width.append(row)
    zero = dict(synth.generate_row(6, 0, seed=5, difficulty="template"),
                **{"Ground Truth Answer": "0", "Lower Limit": "0", "Upper Limit": "0"})
    integer = synth.generate_row(4, 0, seed=5, difficulty="template")
    ordinary = synth.generate_row(6, 1, seed=5, difficulty="template")
    rows = [*zero_width, zero, integer, ordinary]
    for number, row in enumerate(rows, start=1):  # one file: Row Numbers are unique (a repeat is refused)
        row["Row Number"] = str(number)
    return rows


@pytest.fixture()
def train_file(tmp_path):
    path = tmp_path / "train.csv"
    synth.write_rows(_rows(), str(path))
    return str(path)


def _near_miss(task, sample):
    """A completion 1 % away from the ground truth: right under MedCalc-Bench's ±5 %, wrong at zero width."""
    value = round(float(sample.target["ground_truth"]) * 1.01, 3)
    return task.check_answer({"answer": value}, sample.target)


def test_official_is_the_default_and_demands_the_exact_value(train_file):
    task = get_task("medcalc")
    assert task.interval == "official"
    with warnings.catch_warnings():
        warnings.simplefilter("error", MedCalcDataWarning)
        samples = task.load(train_file, "train")
    first = samples[0]
    assert first.target["lower_limit"] == first.target["upper_limit"] == first.target["ground_truth"]
    assert not _near_miss(task, first).correct
    assert "interval_widened" not in first.metadata


def test_widen_gives_zero_width_train_rows_five_percent_and_counts_them(train_file):
    task = get_task("medcalc", interval="widen")
    with pytest.warns(MedCalcDataWarning, match=r"widened 2 zero-width decimal interval\(s\).*calculator 24: 2"):
        samples = task.load(train_file, "train")
    widened = [s for s in samples if s.metadata.get("interval_widened")]
    assert [s.target["calculator_id"] for s in widened] == [24, 24]
    for sample in widened:
        truth = float(sample.target["ground_truth"])
        assert float(sample.target["lower_limit"]) == pytest.approx(truth * 0.95, rel=1e-6)
        assert float(sample.target["upper_limit"]) == pytest.approx(truth * 1.05, rel=1e-6)
        assert sample.metadata["official_target"]["lower_limit"] == sample.target["ground_truth"]
        assert _near_miss(task, sample).correct
        assert task.score(task.oracle_completion(sample), sample.target).correct
    official = get_task("medcalc").load(train_file, "train")
    for before, after in zip(official[2:], samples[2:]):  # ground truth 0, integer, ordinary bounds
        assert before.target == after.target and "interval_widened" not in after.metadata


def test_widen_leaves_evaluation_splits_official(train_file):
    task = get_task("medcalc", interval="widen")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MedCalcDataWarning)
        for split in ("test", "validation"):
            samples = task.load(train_file, split)
            assert samples[0].target["lower_limit"] == samples[0].target["upper_limit"]
            assert not any(s.metadata.get("interval_widened") for s in samples)


def test_unknown_interval_is_rejected():
    with pytest.raises(ConfigError, match="interval"):
        get_task("medcalc", interval="wide")


def test_training_mixture_widens_training_rows_only(train_file, tmp_path):
    from clinrl.training.config import TaskSettings
    from clinrl.training.mixtures import load_mixture

    heldout = tmp_path / "heldout.csv"
    rows = _rows()[:2]
    for row in rows:
        row["Patient Note"] += " Seen again in clinic."  # a different prompt: not dropped as a training duplicate
    synth.write_rows(rows, str(heldout))
    settings = TaskSettings(name="medcalc", source=train_file, train_split="train", heldout_source=str(heldout),
                            heldout_split="test", heldout_limit=10, options={"interval": "widen"})
    with pytest.warns(MedCalcDataWarning):
        (data,) = load_mixture([settings]).tasks
    assert sum(bool(s.metadata.get("interval_widened")) for s in data.train) == 2
    assert len(data.heldout) == 2
    assert all(s.target["lower_limit"] == s.target["upper_limit"] for s in data.heldout)


def test_ehrmind_recipe_widens_its_training_rows():
    from clinrl.training.config import load_recipe

    config = load_recipe("ehrmind-medcalc")
    (medcalc,) = config.tasks
    assert medcalc.options.get("interval") == "widen"
    assert medcalc.train_split == "train" and medcalc.heldout_split == "test"


def test_official_train_sample_calculator_24_is_widened(shared_data):
    path = shared_data / "medcalc-bench" / "train_sample_98.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with pytest.warns(MedCalcDataWarning, match="widened 14 .*calculator 24: 14"):
        samples = get_task("medcalc", interval="widen").load(str(path), "train")
    assert len(samples) == 98
    assert sum(bool(s.metadata.get("interval_widened")) for s in samples) == 14
