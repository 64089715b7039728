"""bench/bench_skip_tied.py: both arms run from one model and the summary pairs them block by block."""

from __future__ import annotations

import json

import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def bench():
    return load_bench_script("bench_skip_tied")


@pytest.mark.parametrize("flag", ["--steps", "--blocks"])
def test_non_positive_sizes_are_refused_naming_the_flag(bench, capsys, tmp_path, flag):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--model", "tiny", "--out", str(tmp_path), flag, "0"])
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.slow
def test_one_block_runs_both_arms(bench, tmp_path, capsys):
    pytest.importorskip("trl")
    bench.main(["--model", "tiny", "--steps", "1", "--blocks", "1", "--out", str(tmp_path),
                "--set", "tasks.0.train_limit=32", "--set", "tasks.0.heldout_limit=4",
                "--set", "grpo.prompts_per_step=2", "--set", "grpo.per_device_completions=16"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    off, on = summary["rows"]
    assert (off["skip_tied_groups"], on["skip_tied_groups"]) == (False, True)
    # the untrained model writes no well-formed answer: every group ties and nothing goes through the loss
    assert off["completions_skipped"] is None and on["completions_skipped"] == 1.0 and on["groups_tied"] == 1.0
    assert summary["median_ratio"] == pytest.approx(off["cpu_seconds_per_step"] / on["cpu_seconds_per_step"])
    assert "median" in capsys.readouterr().out
