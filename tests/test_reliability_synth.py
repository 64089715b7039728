"""`clinrl data synth` writes atomically (reliability audit 2026-12, M5): an interrupted write never loads as a
smaller data set, and a rerun never mixes its output with an earlier one's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinrl.cli import app
from clinrl.errors import ConfigError, DataError
from clinrl.registry import get_task

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _killed(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that SIGKILLs itself part-way through a write (no cleanup runs)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr
    return done


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_medcalc_write_killed_midway_leaves_nothing_loadable(tmp_path, suffix):
    out = tmp_path / f"synth{suffix}"
    _killed(f"""
import os, signal
import clinrl.tasks.medcalc.synth as s
rows = s.generate_rows(40, calculators="6", seed=0)
real = s._write_rows
def dying(rows, path, suffix):
    real(rows[:15], path, suffix)     # a shorter file on disk, cut on a row boundary
    os.kill(os.getpid(), signal.SIGKILL)
s._write_rows = dying
s.write_rows(rows, {str(out)!r})
""")
    assert not out.exists()
    partial = out.with_name(out.name + ".partial")
    assert partial.exists()
    with pytest.raises(DataError, match="no such file"):
        get_task("medcalc").load(str(out))
    with pytest.raises(DataError, match="incomplete file"):
        get_task("medcalc").load(str(partial))


def test_medcalc_and_trials_refuse_an_existing_output_unless_overwrite(tmp_path):
    for command, out in ((["data", "synth", "medcalc", "-c", "6", "-n"], tmp_path / "m.csv"),
                         (["data", "synth", "trials", "-n"], tmp_path / "t.jsonl")):
        first = runner.invoke(app, [*command, "6", "--out", str(out)])
        assert first.exit_code == 0, first.output
        before = out.read_bytes()
        again = runner.invoke(app, [*command, "3", "--out", str(out)])
        assert isinstance(again.exception, ConfigError) and "--overwrite" in str(again.exception)
        assert out.read_bytes() == before
        replaced = runner.invoke(app, [*command, "3", "--out", str(out), "--overwrite"])
        assert replaced.exit_code == 0 and out.read_bytes() != before
        assert not out.with_name(out.name + ".partial").exists()
    assert len(get_task("medcalc").load(str(tmp_path / "m.csv"))) == 3


meds = pytest.importorskip("meds")


def test_ehr_write_killed_midway_is_refused_by_readers(tmp_path, monkeypatch, capsys):
    out = tmp_path / "cohort"
    _killed(f"""
import os, signal
import clinrl.data.meds as m
real = m._write_meds_files
def dying(root, events, **kw):
    real(root, events, **kw)          # every shard written, then killed before the rename
    os.kill(os.getpid(), signal.SIGKILL)
m._write_meds_files = dying
from clinrl.data.meds_synth import write_cohort
write_cohort({str(out)!r}, n_subjects=30, seed=0, subjects_per_shard=10)
""")
    assert not out.exists()
    partial = tmp_path / "cohort.partial"
    assert len(list((partial / "data").glob("*.parquet"))) == 3 and (partial / ".clinrl-writing").exists()
    from clinrl.data.meds import read_meds

    with pytest.raises(DataError, match="incomplete data set"):
        read_meds(partial)
    result = runner.invoke(app, ["data", "labels", "ehr", "--meds", str(partial), "--task", "guo_los"])
    assert isinstance(result.exception, DataError) and "incomplete" in str(result.exception)
    rerun = runner.invoke(app, ["data", "synth", "ehr", "--out", str(out), "-n", "20"])  # the leftover is replaced
    assert rerun.exit_code == 0, rerun.output
    assert not partial.exists() and len(read_meds(out).subject_ids) == 20


def test_ehr_smaller_rerun_refuses_then_replaces_everything(tmp_path):
    from clinrl.data.meds import read_meds

    out = tmp_path / "cohort"
    args = ["data", "synth", "ehr", "--out", str(out), "--subjects-per-shard", "100"]
    assert runner.invoke(app, [*args, "-n", "300"]).exit_code == 0
    smaller = runner.invoke(app, [*args, "-n", "100", "--seed", "1"])
    assert isinstance(smaller.exception, ConfigError) and "--overwrite" in str(smaller.exception)
    assert len(read_meds(out).subject_ids) == 300
    replaced = runner.invoke(app, [*args, "-n", "100", "--seed", "1", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in (out / "data").glob("*.parquet")) == ["0.parquet"]
    assert len(read_meds(out).subject_ids) == 100
    manifest = json.loads((out / ".clinrl-complete.json").read_text())
    assert manifest["n_subjects"] == 100 and "data/0.parquet" in manifest["files"]


def test_a_stale_shard_added_to_a_written_data_set_is_refused(tmp_path):
    from clinrl.data.meds import read_meds
    from clinrl.data.meds_synth import write_cohort

    write_cohort(tmp_path / "a", n_subjects=20, seed=0, subjects_per_shard=10)
    write_cohort(tmp_path / "b", n_subjects=30, seed=1, subjects_per_shard=10)
    (tmp_path / "b" / "data" / "2.parquet").rename(tmp_path / "a" / "data" / "2.parquet")
    with pytest.raises(DataError, match="data files not written with it: data/2.parquet"):
        read_meds(tmp_path / "a")


def test_overwrite_never_deletes_a_directory_that_is_not_a_data_set(tmp_path):
    from clinrl.data.meds_synth import write_cohort

    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="holds more than a data set"):
        write_cohort(home, n_subjects=3, seed=0, overwrite=True)
    assert (home / "notes.txt").read_text() == "precious"
