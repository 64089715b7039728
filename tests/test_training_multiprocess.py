"""Two-process CPU GRPO through torchrun (gloo): 2 steps, both ranks finish, weights saved once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent

SCRIPT = """
import os, sys, json
sys.path.insert(0, {tests!r})
import training_toy
from pathlib import Path
from clinrl.training.config import GRPOSettings, RunConfig, TaskSettings
from clinrl.training.grpo import run_grpo
from clinrl.training.mixtures import load_mixture

config = RunConfig(
    tasks=[TaskSettings(name="toy_copy", source=None, train_limit=16, heldout_limit=2)],
    grpo=GRPOSettings(max_steps=2, num_generations=2, prompts_per_step=2, max_completion_length=8,
                      logging_steps=1, save_steps=10, eval_every=0, beta={beta}),
)
mixture = load_mixture(config.tasks)
stage = run_grpo(config, mixture, "tiny", Path(sys.argv[1]))
# one write(2) of the whole line: the two ranks share a pipe, and print() had interleaved them mid-line
# ("RANK 0 WORLD RANK 2 STEP 2" / "1 WORLD 2 STEP 2" in a CI log); a write under PIPE_BUF bytes is atomic
sys.stdout.flush()
from clinrl.training.tied_groups import skipped_share
skipped = skipped_share(stage.log_history)
line = ("\\nRANK " + os.environ["RANK"] + " WORLD " + os.environ["WORLD_SIZE"] + " STEP " + str(stage.global_step)
        + " SKIPPED " + ("none" if skipped is None else format(skipped, ".2f")) + "\\n")
os.write(1, line.encode())
"""


@pytest.mark.parametrize("beta", [0.001, 0.0])  # 0.0: tied groups skip the loss (an all-tied batch included)
def test_torchrun_two_process_grpo(tmp_path, beta):
    from clinrl.models import resolve_model

    resolve_model("tiny")  # build once here, not in both ranks
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not found next to the interpreter")
    script = tmp_path / "ddp_grpo.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), beta=beta))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    # both ranks write to one pipe: a rank's line may follow another's unterminated output, so match anywhere
    reports = sorted(re.findall(r"RANK (\d) WORLD (\d) STEP (\d+) SKIPPED (\S+)", done.stdout))
    assert [r[:3] for r in reports] == [("0", "2", "2"), ("1", "2", "2")], out[-4000:]
    if beta:
        assert {r[3] for r in reports} == {"none"}, reports
    else:  # the untrained model writes no well-formed answer: every group ties at −2, nothing goes through the loss
        assert {r[3] for r in reports} == {"1.00"}, reports
    final = tmp_path / "run" / "grpo" / "final"
    assert (final / "model.safetensors").is_file()
    assert json.loads((final / "clinrl_stage_done.json").read_text())["global_step"] == 2
