"""Resume after kill -9: a run killed mid-GRPO continues from its latest checkpoint to the same step count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import training_toy
from pathlib import Path
from clinrl.training.config import EvalSettings, GRPOSettings, RunConfig, SFTSettings, TaskSettings
from clinrl.training.run import run_training

config = RunConfig(
    tasks=[TaskSettings(name="toy_copy", source=None, train_limit=32, heldout_limit=2)],
    sft=SFTSettings(max_steps=1, save_steps=1, logging_steps=1, per_device_train_batch_size=4),
    grpo=GRPOSettings(max_steps={grpo_steps}, num_generations=2, prompts_per_step=2, max_completion_length=8,
                      save_steps=2, logging_steps=1, eval_every=0),
    eval=EvalSettings(max_new_tokens=4, stages=["grpo"]),
)
result = run_training(config, Path(sys.argv[1]), resume="--resume" in sys.argv, say=print)
print("FINAL", result.stages["grpo"].global_step, result.stages["grpo"].resumed_from, result.stages["sft"].skipped)
"""

GRPO_STEPS = 6


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "train_toy.py"
    path.write_text(SCRIPT.format(tests=str(TESTS), grpo_steps=GRPO_STEPS))
    return path


def test_kill_nine_then_resume_finishes_with_the_same_step_count(tmp_path):
    script, run_dir = _script(tmp_path), tmp_path / "run"
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir)], stdout=log, stderr=subprocess.STDOUT)
    first_checkpoint = run_dir / "grpo" / "checkpoint-2" / "trainer_state.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not first_checkpoint.exists():
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be killed: " + (tmp_path / "first.log").read_text()[-2000:]
    assert first_checkpoint.exists(), "no checkpoint within the time limit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "grpo" / "final").exists()

    done = subprocess.run([sys.executable, str(script), str(run_dir), "--resume"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final_line = [line for line in done.stdout.splitlines() if line.startswith("FINAL")][-1]
    _, step, resumed_from, sft_skipped = final_line.split()
    assert int(step) == GRPO_STEPS
    assert "checkpoint-" in resumed_from and int(resumed_from.rsplit("-", 1)[1]) >= 2
    assert sft_skipped == "True"  # the finished SFT stage is not trained again
    state = json.loads((run_dir / "grpo" / f"checkpoint-{GRPO_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == GRPO_STEPS
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stages"]["grpo"]["global_step"] == GRPO_STEPS
    assert len(json.loads((run_dir / "run_info.json").read_text())["commands"]) == 2


def test_resume_without_a_run_is_an_error(tmp_path):
    from clinrl.errors import ConfigError
    from clinrl.training.config import RunConfig
    from clinrl.training.run import run_training

    with pytest.raises(ConfigError, match="no config.yaml"):
        run_training(RunConfig(), tmp_path / "nothing", resume=True)
