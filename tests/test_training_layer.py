"""The task-agnostic training layer: TRL passthroughs, extra evaluations, quickstart budgets on the task."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from clinrl.errors import ConfigError
from clinrl.training.config import ExtraEval, RunConfig, TaskSettings, from_dict, load_recipe, parse_override


# -- trl_args --------------------------------------------------------------------------------------
def test_trl_args_are_merged_last_into_the_trl_configs():
    from clinrl.training.grpo import grpo_args
    from clinrl.training.sft import sft_args

    config = load_recipe("quickstart", {"sft": {"trl_args": {"max_grad_norm": 0.25, "learning_rate": 7e-4}},
                                        "grpo": {"trl_args": {"max_grad_norm": 0.5, "top_k": 20}}})
    config.model.device = "cpu"
    sft = sft_args(config, Path("/tmp/unused-sft"))
    assert sft.max_grad_norm == 0.25 and sft.learning_rate == 7e-4  # the passthrough wins over sft.learning_rate
    assert sft.max_steps == config.sft.max_steps                      # the rest is still the recipe's
    grpo = grpo_args(config, Path("/tmp/unused-grpo"), world_size=1)
    assert grpo.max_grad_norm == 0.5 and grpo.top_k == 20              # clinrl sets top_k=0; trl_args wins
    assert grpo.num_generations == config.grpo.num_generations


def test_trl_args_with_an_unknown_key_name_the_key_and_the_trl_class():
    from clinrl.training.grpo import grpo_args
    from clinrl.training.sft import sft_args

    config = RunConfig()
    config.model.device = "cpu"
    config.sft.trl_args = {"max_grad_nrom": 1.0}
    with pytest.raises(ConfigError, match=r"sft\.trl_args: 'max_grad_nrom' is not a field of trl\.SFTConfig "
                                          r"\(did you mean 'max_grad_norm'\?\)"):
        sft_args(config, Path("/tmp/unused"))
    config.sft.trl_args = {}
    config.grpo.trl_args = {"no_such_knob": 1}
    with pytest.raises(ConfigError, match=r"grpo\.trl_args: 'no_such_knob' is not a field of trl\.GRPOConfig"):
        grpo_args(config, Path("/tmp/unused"), world_size=1)


def test_a_mistyped_grpo_trl_arg_fails_before_the_warm_up_and_the_run_directory(tmp_path):
    from clinrl.training.run import run_training

    config = load_recipe("quickstart", {"grpo": {"trl_args": {"max_grad_nrom": 0.5}},
                                        "tasks": {"0": {"train_limit": 8, "heldout_limit": 2}}})
    with pytest.raises(ConfigError, match=r"grpo\.trl_args: 'max_grad_nrom'.*did you mean 'max_grad_norm'"):
        run_training(config, tmp_path / "run", say=lambda message: None)
    assert not (tmp_path / "run").exists()


def test_an_extra_evaluation_with_an_absurd_limit_is_refused():
    with pytest.raises(ConfigError, match=r"eval\.extra\.real\.limit must be at least 1.*-3"):
        load_recipe("quickstart", {"eval": {"extra": [{"name": "real", "limit": -3}]}})
    with pytest.raises(ConfigError, match="name must not be empty"):
        load_recipe("quickstart", {"eval": {"extra": [{"name": " "}]}})


def test_trl_args_come_from_yaml_and_set():
    config = load_recipe("quickstart", parse_override("grpo.trl_args.max_grad_norm=0.5"))
    assert config.grpo.trl_args == {"max_grad_norm": 0.5} and config.sft.trl_args == {}
    with pytest.raises(ConfigError, match="trl_args"):
        from_dict(RunConfig, {"sft": {"trl_args": [1, 2]}})


# -- eval.extra ------------------------------------------------------------------------------------
def test_eval_extra_parses_and_names_must_differ():
    config = from_dict(RunConfig, {"eval": {"extra": [{"source": "rows.csv"},
                                                      {"name": "verified", "task": "medcalc", "source": "v.csv",
                                                       "split": "train", "limit": 5, "options": {"labels": "x"}}]}})
    real, verified = config.eval.extra
    assert (real.name, real.task, real.split, real.limit, real.options) == ("real", None, "test", 100, None)
    assert (verified.task, verified.split, verified.limit, verified.options) == ("medcalc", "train", 5, {"labels": "x"})
    with pytest.raises(ConfigError, match="names must differ"):
        from_dict(RunConfig, {"eval": {"extra": [{"source": "a"}, {"source": "b"}]}})
    with pytest.raises(ConfigError, match=r"eval\.extra\[0\]\.sorce"):
        from_dict(RunConfig, {"eval": {"extra": [{"sorce": "a"}]}})


def test_old_real_source_key_is_mapped_to_eval_extra_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="real_source"):
        config = from_dict(RunConfig, {"eval": {"real_source": "rows.csv", "real_limit": 20}})
    (extra,) = config.eval.extra
    assert (extra.name, extra.source, extra.limit, extra.task) == ("real", "rows.csv", 20, None)
    with pytest.warns(DeprecationWarning):  # an old run directory's config.yaml (real_source: null) still loads
        assert from_dict(RunConfig, {"eval": {"real_source": None, "real_limit": 100}}).eval.extra == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_dict(RunConfig, {"eval": {"extra": [{"source": "rows.csv"}]}})  # the new key warns nothing


def test_extra_evaluation_inherits_the_trained_tasks_options_unless_given():
    from clinrl.training.run import extra_task

    config = RunConfig(tasks=[TaskSettings(name="medcalc", options={"prompt_style": "compact"})])
    inherited = extra_task(config, ExtraEval(source="rows.csv"))
    assert inherited.name == "medcalc" and inherited.prompt_style == "compact"
    own = extra_task(config, ExtraEval(source="rows.csv", options={}))
    assert own.prompt_style != "compact"
    other = extra_task(config, ExtraEval(task="trials", source="pairs.jsonl"))  # options of a trained task only
    assert other.name == "trials"


def test_extra_evaluation_runs_after_training_and_lands_as_stage_name(tmp_path, monkeypatch):
    """evaluate_extra asks the trained prompt style, labels the stage <stage>-<name> and takes the context overflow
    count from the backend."""
    from clinrl.evaluation.backends import Backend, Generation
    from clinrl.training import run

    class Refusing(Backend):
        name = "stub"

        def render(self, sample):
            return sample.prompt[-1]["content"]

        def context_length(self):
            return 64

        def generate(self, prompts, *, n=1, **kwargs):
            self.n_over_context += 1  # as HFBackend does: the first prompt did not fit
            self.seen = prompts
            return [[Generation(text="", n_tokens=0, truncated=False, error="too long")]] + \
                [[Generation(text="<answer>{}</answer>", n_tokens=3, truncated=False)] for _ in prompts[1:]]

    backend = Refusing()
    monkeypatch.setattr(run, "stage_backend", lambda spec, config, say=None: backend)
    config = RunConfig(tasks=[TaskSettings(name="medcalc", options={"prompt_style": "compact"})])
    extra = ExtraEval(source="synthetic:n=30;seed=3", limit=4)
    rows = run.evaluate_extra("tiny", config, tmp_path, "grpo", extra)
    (row,) = rows
    assert (row["stage"], row["task"], row["n"], row["final"]) == ("grpo-real", "medcalc", 4, True)
    assert (row["n_prompts_over_context"], row["context_length"], row["source"]) == (1, 64, "synthetic:n=30;seed=3")
    assert (tmp_path / "eval" / "grpo-real" / "eval_log.json").is_file()
    from clinrl.registry import get_task

    compact = get_task("medcalc", prompt_style="compact").load("synthetic:n=30;seed=3", "test", limit=4)
    assert backend.seen[0] == compact[0].prompt[-1]["content"]  # asked the way the model was trained


def test_report_names_the_extra_evaluation(tmp_path):
    from clinrl.training.report import write_report
    from clinrl.training.run import RunResult

    config = from_dict(RunConfig, {"eval": {"extra": [{"source": "rows.csv"}]}})
    result = RunResult(tmp_path, evals={"grpo-real": [{"task": "medcalc", "n": 2, "accuracy": 0.5}]},
                       metrics={"stages": {}})
    text = write_report(tmp_path, config, result).read_text()
    assert "Rows marked `-real` are medcalc samples from `rows.csv` (test split)" in text


def test_report_with_extra_entries_and_evaluations_during_training(tmp_path):
    """An eval.extra entry (even one without a source, as the quickstart recipe declares) next to held-out
    evaluations during GRPO: both tables are written (the report used to crash here, after training)."""
    from clinrl.training.callbacks import HELDOUT_LOG
    from clinrl.training.report import write_report
    from clinrl.training.run import RunResult

    config = from_dict(RunConfig, {"eval": {"extra": [{"name": "real"}, {"name": "other", "source": "rows.csv"}]}})
    row = {"task": "medcalc", "n": 2, "accuracy": 0.5, "format_valid": 1.0}
    (tmp_path / HELDOUT_LOG).write_text(json.dumps({**row, "stage": "grpo", "step": 10}) + "\n")
    result = RunResult(tmp_path, evals={"sft": [row], "grpo": [row]}, metrics={"stages": {}})
    text = write_report(tmp_path, config, result).read_text()
    assert "| grpo | 10 | medcalc | 50.0% | 100.0% |" in text
    assert "Rows marked `-real`" not in text  # no source: nothing was evaluated


# -- quickstart budgets on the task ----------------------------------------------------------------
def test_quickstart_budgets_come_from_the_tasks():
    from clinrl.cli.quickstart import QuickstartBudget, quickstart_budget
    from clinrl.registry import get_task_class

    assert quickstart_budget("trials") == QuickstartBudget(completion_tokens=64)
    assert quickstart_budget("medcalc").real_rows == "medcalc-bench/test_data.csv"
    assert get_task_class("ehr").quickstart_budget == {"completion_tokens": 112}


def test_a_bad_quickstart_budget_names_the_task_and_field(monkeypatch):
    from clinrl.cli.quickstart import quickstart_budget
    from clinrl.registry import get_task_class

    monkeypatch.setattr(get_task_class("rubric"), "quickstart_budget", {"completion_tokns": 5})
    with pytest.raises(ConfigError, match=r"rubric\.quickstart_budget\.completion_tokns"):
        quickstart_budget("rubric")


def test_quickstart_real_source_fills_eval_extra(tmp_path, monkeypatch):
    from clinrl.cli.quickstart import quickstart_config

    monkeypatch.setenv("CLINRL_SHARED_DATA", str(tmp_path))  # no shared rows here
    config = quickstart_config("medcalc", "tiny", "quickstart", None, "rows.csv")
    (extra,) = config.eval.extra
    assert (extra.name, extra.source, extra.limit, extra.task) == ("real", "rows.csv", 20, None)  # the recipe's 20
    assert quickstart_config("medcalc", "tiny", "quickstart", None, "none").eval.extra == []
    # without --real-source: the shared test file when present, else the recipe's sourceless entry (skipped)
    assert [e.source for e in quickstart_config(None, "tiny", "quickstart", None, None).eval.extra] == [None]
    (tmp_path / "medcalc-bench").mkdir()
    (tmp_path / "medcalc-bench" / "test_data.csv").write_text("x\n")
    found = quickstart_config(None, "tiny", "quickstart", None, None)
    assert found.eval.extra[0].source == str(tmp_path / "medcalc-bench" / "test_data.csv")
    assert found.tasks[0].name == "medcalc" and found.name == load_recipe("quickstart").name
    # a recipe without the entry gets one with the default limit
    assert quickstart_config(None, None, "smollm2-gpu", None, "rows.csv").eval.extra[0].limit == 100


def test_quickstart_says_when_real_rows_are_missing_and_where_it_looked(tmp_path, monkeypatch):
    """A fresh clone without the shared data skipped the real-row evaluation without a word; now one line says so."""
    from clinrl.cli.quickstart import quickstart_config, real_rows_note

    monkeypatch.setenv("CLINRL_SHARED_DATA", str(tmp_path))

    def note(task, real_source):
        return real_rows_note(quickstart_config(task, "tiny", "quickstart", None, real_source), real_source)

    missing = note(None, None)
    assert missing is not None and str(tmp_path / "medcalc-bench" / "test_data.csv") in missing
    assert "--real-source" in missing
    assert note(None, "none") is None and note(None, "rows.csv") is None  # the user chose
    assert note("trials", None) is None  # no real rows for this task's quickstart
    (tmp_path / "medcalc-bench").mkdir()
    (tmp_path / "medcalc-bench" / "test_data.csv").write_text("x\n")
    assert note(None, None) is None  # found: evaluated, nothing to say


def test_quickstart_prints_the_missing_real_rows_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from clinrl.cli import app

    monkeypatch.setenv("CLINRL_SHARED_DATA", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("clinrl.cli.quickstart.train_quietly", lambda *a, **k: (_ for _ in ()).throw(SystemExit(3)))
    result = CliRunner().invoke(app, ["quickstart", "--out", str(tmp_path / "run")])
    assert "real benchmark rows not found at" in " ".join(result.output.split())
