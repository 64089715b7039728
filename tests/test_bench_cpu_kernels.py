"""bench/bench_cpu_kernels.py: reduced quickstarts with the kernels pinned and native, in their own processes."""

from __future__ import annotations

import json
import platform

import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def bench():
    return load_bench_script("bench_cpu_kernels")


@pytest.mark.parametrize("flag", ["--pairs", "--sft-steps", "--grpo-steps", "--heldout"])
def test_non_positive_sizes_are_refused_naming_the_flag(bench, capsys, tmp_path, flag):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--out", str(tmp_path / "out"), flag, "0"])
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err


def test_a_used_output_folder_is_refused(bench, tmp_path):
    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(SystemExit, match="exists and is not empty"):
        bench.main(["--out", str(tmp_path)])


@pytest.mark.slow
def test_one_pair_runs_both_modes_through_the_cli(bench, tmp_path, capsys):
    pytest.importorskip("trl")
    pytest.importorskip("torch")
    from clinrl import device

    bench.main(["--pairs", "1", "--sft-steps", "2", "--grpo-steps", "1", "--heldout", "4", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "rows.json").read_text())
    kernels = {row["mode"]: row["kernels"] for row in rows}
    flags = set((device._cpuinfo("flags") or "").split())
    pinnable = platform.machine().lower() in ("x86_64", "amd64") and "avx2" in flags
    if pinnable:  # native is the machine's widest set: AVX2, or AVX512 where the processor has it
        assert kernels["pinned"] == "AVX2" and kernels["native"] in ("AVX2", "AVX512")
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            assert kernels["native"] == "AVX512"  # native is not pinned
    else:  # nothing to pin: both modes run what torch picks
        assert kernels["pinned"] == kernels["native"]
    assert all(row["wall_seconds"] > 0 and row["cpu_seconds"] > 0 and "sft" in row["accuracy"] for row in rows)
    out = capsys.readouterr().out
    assert "pinned / native wall: median" in out and "runs agree to the digit" in out
