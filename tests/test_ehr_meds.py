"""MEDS reading and writing: schema checks with clear errors, the synthetic cohort's validity and determinism."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
meds = pytest.importorskip("meds")

from clinrl.data.meds import hash_split, read_meds  # noqa: E402
from clinrl.data.meds_synth import generate_cohort, write_cohort  # noqa: E402
from clinrl.errors import ConfigError, DataError  # noqa: E402

T0 = datetime(2020, 1, 1, 8, 0)
T1 = datetime(2020, 1, 2, 9, 0)
T2 = datetime(2020, 1, 3, 10, 0)


def _table(**overrides):
    columns = {
        "subject_id": pa.array([1, 1, 1, 2], pa.int64()),
        "time": pa.array([None, T0, T1, T2], pa.timestamp("us")),
        "code": pa.array(["GENDER//F", "MEDS_BIRTH", "DIAGNOSIS//ICD//10//I10", "MEDS_BIRTH"]),
        "numeric_value": pa.array([None, None, 1.5, None], pa.float32()),
    }
    columns.update(overrides)
    return pa.table({k: v for k, v in columns.items() if v is not None})


def _write(tmp_path: Path, table, name: str = "events.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_single_file_near_meds_is_renamed_and_ignored_columns_dropped(tmp_path):
    table = _table(numeric_value=None).append_column("value", pa.array([None, None, 2.0, None], pa.float64()))
    table = table.append_column("table", pa.array(["condition"] * 4))
    ds = read_meds(_write(tmp_path, table))
    assert ds.events.columns == ["subject_id", "time", "code", "numeric_value", "text_value"]
    assert ds.events.get_column("numeric_value").to_list()[2] == 2.0
    assert str(ds.events.schema["numeric_value"]) == "Float32"
    assert ds.split_origin == "hash" and set(ds.splits) == {1, 2}


def test_lossless_casts_are_accepted(tmp_path):
    table = _table(subject_id=pa.array([1, 1, 1, 2], pa.int32()),
                   time=pa.array([None, T0, T1, T2], pa.timestamp("ms")))
    ds = read_meds(_write(tmp_path, table))
    assert str(ds.events.schema["subject_id"]) == "Int64"
    assert ds.events.get_column("time").to_list()[1] == T0


@pytest.mark.parametrize("column", ["subject_id", "time", "code"])
def test_missing_column_names_file_and_field(tmp_path, column):
    table = _table()
    table = table.drop_columns([column])
    path = _write(tmp_path, table)
    with pytest.raises(DataError) as err:
        read_meds(path)
    assert str(path) in str(err.value) and repr(column) in str(err.value) and "missing column" in str(err.value)


@pytest.mark.parametrize("column,array", [
    ("subject_id", pa.array(["1", "1", "1", "2"])),
    ("time", pa.array(["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-03"])),
    ("code", pa.array([1, 2, 3, 4], pa.int64())),
    ("numeric_value", pa.array(["a", "b", "c", "d"])),
])
def test_wrong_types_name_the_field(tmp_path, column, array):
    path = _write(tmp_path, _table(**{column: array}))
    with pytest.raises(DataError) as err:
        read_meds(path)
    assert f"field {column!r}" in str(err.value) and "wrong type" in str(err.value)


def test_unsorted_times_name_the_row(tmp_path):
    path = _write(tmp_path, _table(time=pa.array([None, T1, T0, T2], pa.timestamp("us"))))
    with pytest.raises(DataError) as err:
        read_meds(path)
    message = str(err.value)
    assert "row 3" in message and "'time'" in message and "not sorted within subject 1" in message


def test_null_time_static_rows_may_come_last(tmp_path):
    table = _table(code=pa.array(["MEDS_BIRTH", "DIAGNOSIS//ICD//10//I10", "GENDER//F", "MEDS_BIRTH"]),
                   time=pa.array([T0, T1, None, T2], pa.timestamp("us")))
    assert read_meds(_write(tmp_path, table)).events.height == 4


def test_non_contiguous_subject_is_an_error(tmp_path):
    path = _write(tmp_path, _table(subject_id=pa.array([1, 2, 1, 2], pa.int64()),
                                   time=pa.array([T0, T0, T1, T2], pa.timestamp("us"))))
    with pytest.raises(DataError, match="not contiguous"):
        read_meds(path)


def test_null_code_is_an_error_with_row(tmp_path):
    path = _write(tmp_path, _table(code=pa.array(["GENDER//F", None, "X", "Y"])))
    with pytest.raises(DataError) as err:
        read_meds(path)
    assert "row 2" in str(err.value) and "'code'" in str(err.value)


def test_subject_split_across_shards(tmp_path):
    (tmp_path / "data").mkdir()
    pq.write_table(_table(), tmp_path / "data" / "0.parquet")
    pq.write_table(_table(subject_id=pa.array([3, 3, 3, 2], pa.int64())), tmp_path / "data" / "1.parquet")
    with pytest.raises(DataError, match="subject 2 is split across shards"):
        read_meds(tmp_path)


def test_directory_without_shards_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="no event shards"):
        read_meds(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        read_meds(tmp_path / "nope")


def test_folder_holding_one_near_meds_file_names_it_and_the_flag(tmp_path):
    """The MIMIC-IV demo folder is not a MEDS dataset: the error says which file to pass, and how."""
    folder = tmp_path / "demo export"
    folder.mkdir()
    near = _write(folder, _table(), "events.parquet")
    with pytest.raises(DataError, match="no event shards") as caught:
        read_meds(folder, option="--meds")
    assert f"--meds '{near}'" in str(caught.value) and "folder" in str(caught.value)
    assert read_meds(near).events.height == 4  # the suggested value works
    _write(folder, _table(), "more.parquet")
    with pytest.raises(DataError, match="2 parquet files") as caught:
        read_meds(folder)
    assert "events.parquet" in str(caught.value) and "more.parquet" in str(caught.value)


def test_real_demo_folder_error_names_its_events_file(shared_data):
    folder = shared_data / "mimic-iv-demo-meds"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    with pytest.raises(DataError) as caught:
        read_meds(folder, option="--source")
    assert f"--source {folder / 'mimic_iv_demo_meds_events.parquet'}" in str(caught.value)


@pytest.mark.parametrize("name", ["x.parquet", "cohort.JSONL", "c.csv"])
def test_dataset_directory_with_a_file_like_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="looks like a file name"):
        write_cohort(tmp_path / name, n_subjects=3, seed=0)
    assert not (tmp_path / name).exists()
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConfigError, match="existing file"):
        write_cohort(tmp_path / "taken", n_subjects=3, seed=0)


def test_bad_split_file_is_reported(tmp_path):
    write_cohort(tmp_path, n_subjects=5, seed=1)
    pq.write_table(pa.table({"subject_id": pa.array(["x"]), "split": pa.array(["train"])}),
                   tmp_path / "metadata" / "subject_splits.parquet")
    with pytest.raises(DataError, match="SubjectSplitSchema"):
        read_meds(tmp_path)


def test_synthetic_cohort_validates_against_meds_schemas(tmp_path):
    write_cohort(tmp_path, n_subjects=40, seed=3, subjects_per_shard=15)
    shards = sorted((tmp_path / "data").glob("*.parquet"))
    assert len(shards) == 3
    for shard in shards:
        table = pq.read_table(shard)
        meds.DataSchema.validate(table)
        assert table.schema.field("subject_id").type == pa.int64()
        assert table.schema.field("time").type == pa.timestamp("us")
    meds.CodeMetadataSchema.validate(pq.read_table(tmp_path / "metadata" / "codes.parquet"))
    meds.SubjectSplitSchema.validate(pq.read_table(tmp_path / "metadata" / "subject_splits.parquet"))
    meds.DatasetMetadataSchema.validate(json.loads((tmp_path / "metadata" / "dataset.json").read_text()))
    ds = read_meds(tmp_path)  # and our own reader's ordering checks pass
    assert len(ds.subject_ids) == 40 and ds.split_origin == "file"
    codes = set(ds.events.get_column("code").unique().to_list())
    assert codes <= set(ds.codes.get_column("code").to_list())  # every code is described
    assert any(c.startswith("DIAGNOSIS//ICD//10//") for c in codes)


def test_same_seed_identical_files_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_cohort(a, n_subjects=30, seed=5)
    write_cohort(b, n_subjects=30, seed=5)
    write_cohort(c, n_subjects=30, seed=6)
    assert _digest(a) == _digest(b)
    assert _digest(a)["data/0.parquet"] != _digest(c)["data/0.parquet"]


def test_generated_events_are_sorted_and_realistic():
    ds = generate_cohort(50, seed=2)
    ev = ds.events
    assert ev.get_column("subject_id").n_unique() == 50
    per_subject = ev.partition_by("subject_id")
    for frame in per_subject:
        times = frame.get_column("time").drop_nulls().to_list()
        assert times == sorted(times)
        codes = frame.get_column("code").to_list()
        assert codes[0].startswith("GENDER//") and "MEDS_BIRTH" in codes
        assert codes.count("HOSPITAL_DISCHARGE//HOME") + codes.count(
            "HOSPITAL_DISCHARGE//SKILLED NURSING FACILITY") == sum(c.startswith("HOSPITAL_ADMISSION") for c in codes)


def test_hash_split_is_stable_and_roughly_80_10_10():
    splits = [hash_split(i) for i in range(5000)]
    assert splits == [hash_split(i) for i in range(5000)]
    share = splits.count("train") / len(splits)
    assert 0.77 < share < 0.83 and {"tuning", "held_out"} <= set(splits)


def test_time_zone_aware_times_are_rejected(tmp_path):
    path = _write(tmp_path, _table(time=pa.array([None, T0, T1, T2], pa.timestamp("us", tz="UTC"))))
    with pytest.raises(DataError, match="time zone"):
        read_meds(path)
