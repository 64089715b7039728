"""The terminal during training: clinrl's lines and one display per stage; library progress bars, raw log
dicts and warnings in RUN/train.log (timestamped), on the terminal only with --verbose."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import warnings
from pathlib import Path

import pytest

from clinrl.run_console import RunConsole, StageView, stage_stats

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.yaml"
#: what tqdm / transformers / datasets bars and TRL's printed log dicts look like
NOISE = [re.compile(p) for p in (r"\d+%\|", r"it/s\]", r"examples/s\]", r"\{'loss'", r"'grad_norm'",
                                 r"Tokenizing train dataset", r"Loading weights", r"Writing model shards",
                                 r"FutureWarning")]


def noise_in(text: str) -> list[str]:
    return [p.pattern for p in NOISE if p.search(text)]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_library_output_goes_to_train_log_and_clinrl_lines_to_the_terminal(tmp_path):
    run = tmp_path / "run"
    out, err = io.StringIO(), io.StringIO()
    before = sys.stdout, sys.stderr, warnings.showwarning, list(logging.getLogger("transformers").handlers)
    with RunConsole(run, file=out, err_file=err) as console:
        console.say("loading data …")  # before the run directory exists: buffered
        print("Tokenizing train dataset:  50%|█████     | 500/1000\rTokenizing train dataset: 100%|██████████| "
              "1000/1000 [00:00<00:00, 1197.63 examples/s]")
        sys.stderr.write("Loading weights: 100%|██| 46/46 [00:00<00:00, 29370.98it/s]\n")
        run.mkdir()
        (run / "config.yaml").write_text("name: x\n")  # the run prepares its directory: the log attaches
        logging.getLogger("transformers.tokenization_utils_base").warning("Token indices sequence length is long")
        warnings.warn("`gradient_checkpointing` is deprecated", FutureWarning)
        category = type("DataWarning", (UserWarning,), {"__module__": "clinrl.fake"})
        warnings.warn("3 rows were skipped", category)
        warnings.warn("3 rows were skipped", category)  # shown once
        logging.getLogger("accelerate").error("device mismatch")
    terminal = out.getvalue() + err.getvalue()
    assert not noise_in(terminal), terminal
    assert "clinrl loading data …" in out.getvalue()
    assert err.getvalue().count("3 rows were skipped") == 1  # clinrl's own warning: visible, once, one line
    assert "library error: accelerate: device mismatch" in err.getvalue()
    assert "2 library warning(s) in" in out.getvalue()  # the transformers warning and the FutureWarning
    log = (run / "train.log").read_text()
    lines = log.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[", line) for line in lines), log
    assert "[clinrl] loading data …" in log  # written before the directory existed, kept in order
    assert log.index("loading data") < log.index("Tokenizing")
    bar = [line for line in lines if "Tokenizing" in line]
    assert len(bar) == 1 and "1000/1000" in bar[0]  # a redrawn bar is kept in its last state only
    assert "Token indices sequence length" in log and "FutureWarning" in log and "device mismatch" in log
    after = sys.stdout, sys.stderr, warnings.showwarning, list(logging.getLogger("transformers").handlers)
    assert after == before  # everything is restored for the summary and for the next command


def test_a_health_warning_shown_live_is_not_repeated_by_the_run(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    run = tmp_path / "run"
    with RunConsole(run, file=out, err_file=err) as console:
        run.mkdir()
        (run / "config.yaml").write_text("name: x\n")  # the run's directory exists: train.log attaches
        console.warn_once("held-out accuracy at grpo step 15 is 50.0%")  # live, during the stage
        console.say("warning: held-out accuracy at grpo step 15 is 50.0%")  # the run's closing health check
        console.say("warning: the grpo model gives the answer 0 to 100% of inputs")
    assert err.getvalue().count("step 15 is 50.0%") == 1
    assert err.getvalue().count("answer 0 to 100%") == 1 and "clinrl warning" not in out.getvalue()
    assert "warning: the grpo model gives the answer 0" in (run / "train.log").read_text()  # the log keeps it


def test_a_run_whose_summary_lists_its_warnings_does_not_print_them_before(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    run = tmp_path / "run"
    with RunConsole(run, file=out, err_file=err, summary_follows=True) as console:
        run.mkdir()
        (run / "config.yaml").write_text("name: x\n")
        console.warn_once("held-out accuracy at grpo step 15 is 50.0%")  # live, during the stage: shown
        console.say("warning: the grpo model gives the answer 0 to 100% of inputs")  # the closing check: the summary's
        console.say("evaluating on real rows …")
    assert err.getvalue().count("step 15 is 50.0%") == 1 and "answer 0 to 100%" not in err.getvalue() + out.getvalue()
    assert "evaluating on real rows" in out.getvalue()
    assert "warning: the grpo model gives the answer 0" in (run / "train.log").read_text()


def test_verbose_passes_library_output_through(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: x\n")
    out, err = io.StringIO(), io.StringIO()
    real_err = sys.stderr
    capture = io.StringIO()
    sys.stderr = capture
    try:
        with RunConsole(run, verbose=True, file=out, err_file=err):
            sys.stderr.write("Loading weights: 100%|██| 46/46\n")
    finally:
        sys.stderr = real_err
    assert "Loading weights" in capture.getvalue()  # the terminal still sees it
    assert "Loading weights" in (run / "train.log").read_text()


def test_a_failed_run_before_its_directory_exists_leaves_no_directory(tmp_path):
    run = tmp_path / "never"
    with pytest.raises(RuntimeError):
        with RunConsole(run, file=io.StringIO(), err_file=io.StringIO()):
            print("Loading weights: 100%")
            raise RuntimeError("bad task")
    assert not run.exists()  # `clinrl quickstart --task nope` must not leave an empty run directory behind


def test_stage_numbers_and_plain_throttled_lines():
    grpo = {"reward": -0.42, "reward_std": 1.3, "reward_std_within_group": 0.31, "frac_reward_zero_std": 0.375,
            "kl": 0.0012, "completions/mean_length": 41.2, "completions/clipped_ratio": 0.125, "loss": 0.0}
    assert stage_stats("grpo", grpo) == ("reward -0.42 ± 0.31 · tied groups 37.5% · KL 0.0012 · length 41 "
                                         "(truncated 12.5%)")
    assert stage_stats("sft", {"loss": 2.3141, "mean_token_accuracy": 0.451}) == "loss 2.314 · token accuracy 45.1%"
    out = io.StringIO()
    console = RunConsole(Path("unused"), file=out, err_file=io.StringIO())
    view = StageView(console, "sft", total=100, start=0)
    for step in range(1, 101):
        view.advance(step)
        view.update(step, {"loss": 1.0 / step, "mean_token_accuracy": step / 100})
    view.finish()
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and lines[0].startswith("SFT step 1/100 ·") and "eta" in lines[0]
    assert lines[-1].startswith("SFT step 100/100") and "token accuracy 100.0%" in lines[-1]
    # the trainer's closing entry (train_runtime, the not-yet-logged token accuracy, no loss) keeps the loss
    out.truncate(0)
    out.seek(0)
    view = StageView(console, "sft", total=6, start=0)
    view.update(1, {"loss": 8.1, "mean_token_accuracy": 0.0})
    view.update(6, {"train_runtime": 62.0, "train_loss": 7.2, "mean_token_accuracy": 0.097})
    view.finish()
    assert out.getvalue().splitlines()[-1].endswith("loss 8.100 · token accuracy 9.7%")


def test_the_display_says_which_step_its_held_out_number_is_from():
    out = io.StringIO()
    console = RunConsole(Path("unused"), file=out, err_file=io.StringIO())
    console.view = view = StageView(console, "grpo", total=30, start=0)
    view.advance(20)
    console.heldout([{"task": "medcalc", "accuracy": 0.573, "format_valid": 1.0, "n": 220}], stage="grpo", step=20,
                    final=False)
    view.update(30, {"reward": 0.3})
    view.finish()
    # the final evaluation printed after the stage can differ: the line names the step its number is from
    assert out.getvalue().splitlines()[-1].endswith("held-out accuracy 57.3% (step 20)")


def test_a_tty_gets_a_redrawn_display_not_lines():
    out = FakeTTY()
    console = RunConsole(Path("unused"), file=out, err_file=io.StringIO())
    assert console.console.is_terminal
    view = StageView(console, "grpo", total=30, start=0)
    for step in range(1, 31):
        view.advance(step)
        view.update(step, {"reward": 0.1 * step, "frac_reward_zero_std": 0.5})
    view.finish()
    text = out.getvalue()
    assert "GRPO" in text and "30/30" in text and "tied groups 50.0%" in text
    assert "GRPO step 1/30" not in text  # the plain-line form is for pipes and CI logs


def test_within_group_reward_std_reads_tied_groups_as_zero():
    from clinrl.training.callbacks import within_group_reward_std

    class Trainer:
        num_generations = 4
        reward_func_names = ["format", "correct"]
        reward_weights = None
        # group 1: all malformed (tied); group 2: two right, two wrong
        _logs = {"rewards": {"format": [-2, -2, -2, -2, 0.1, 0.1, 0.1, 0.1],
                             "correct": [0, 0, 0, 0, 1.0, 1.0, 0, 0]}}

    value = within_group_reward_std(Trainer())
    assert value == pytest.approx((0 + (4 * 0.25 / 3) ** 0.5) / 2)  # batch std would be ~1.0
    Trainer._logs = {"rewards": {"format": [1.0] * 6, "correct": [1.0] * 6}}  # not whole groups: unknown
    assert within_group_reward_std(Trainer()) is None


@pytest.mark.slow
def test_quickstart_training_keeps_the_terminal_quiet(tmp_path, capsys, monkeypatch):
    pytest.importorskip("trl")
    import yaml

    from clinrl.cli import app

    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["tasks"][0].update(train_limit=48, heldout_limit=4, validation_limit=4)
    recipe["sft"].update(max_steps=3, logging_steps=1, save_steps=50)
    # beta > 0: TRL logs the KL only when it keeps a reference model
    recipe["grpo"].update(max_steps=2, logging_steps=1, eval_every=1, save_steps=50, num_generations=4, beta=0.001,
                          max_completion_length=24)
    recipe["eval"].update(max_new_tokens=24)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    app(["quickstart", "--out", str(run), "--recipe", str(tmp_path / "tiny.yaml"), "--real-source", "none"],
        standalone_mode=False)
    captured = capsys.readouterr()
    terminal = captured.out + captured.err
    assert not noise_in(terminal), terminal
    assert len(terminal.splitlines()) < 60
    assert re.search(r"SFT step 3/3 · .*loss [\d.]+ · token accuracy", captured.out), captured.out
    assert re.search(r"GRPO step 2/2 · .*reward -?[\d.]+ ± [\d.]+ · tied groups [\d.]+% · KL", captured.out)
    # the evaluation inside GRPO reads the validation split; held-out scores the warm-up and the final model
    assert "validation grpo step 1: medcalc accuracy" in captured.out
    assert "held-out grpo final (step 2): medcalc accuracy" in captured.out
    log = (run / "train.log").read_text()
    assert "Tokenizing train dataset" in log and "Writing model shards" in log  # the library bars
    dicts = [json.loads(line.split("[trainer] ", 1)[1]) for line in log.splitlines() if "[trainer] " in line]
    assert {d["stage"] for d in dicts} == {"sft", "grpo"} and any("grad_norm" in d for d in dicts)
    assert any("train_runtime" in d for d in dicts)  # the raw log dicts, complete
    state = json.loads((run / "grpo" / "trainer_state.json").read_text())
    assert any("reward_std_within_group" in row for row in state["log_history"])
    assert list((run / "tb" / "sft").glob("events.out.tfevents.*")), "TensorBoard logs in RUN/tb/<stage>"
    assert list((run / "tb" / "grpo").glob("events.out.tfevents.*"))
    if (run / "report.html").exists():  # matplotlib installed: the run's HTML report has the GRPO figure
        assert "<figure id='curves-grpo'>" in (run / "report.html").read_text()
