"""Training configuration, mixtures and reward dispatch (fast unit tests, no model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import training_toy  # noqa: E402,F401  (registers the toy task)

from clinrl.errors import ConfigError  # noqa: E402
from clinrl.registry import get_task  # noqa: E402
from clinrl.rewards.contract import wrap_contract  # noqa: E402
from clinrl.training.config import (  # noqa: E402
    RunConfig, TaskSettings, field_help, find_recipe, from_dict, load_recipe, parse_override,
)
from clinrl.training.grpo import batch_layout  # noqa: E402
from clinrl.training.mixtures import MixtureReward, load_mixture, weighted_order  # noqa: E402


@pytest.mark.parametrize("name", ["quickstart", "ehrmind-medcalc"])
def test_shipped_recipes_load(name):
    config = load_recipe(name)
    assert config.tasks and config.tasks[0].name == "medcalc"
    assert config.sft.enabled and config.grpo.enabled


def test_ehrmind_recipe_has_the_paper_settings():
    c = load_recipe("ehrmind-medcalc")
    assert (c.grpo.num_generations, c.grpo.prompts_per_step, c.grpo.learning_rate) == (12, 32, 1e-6)
    assert (c.grpo.beta, c.grpo.temperature, c.grpo.top_p, c.grpo.max_completion_length) == (0.001, 0.6, 0.95, 1500)
    assert (c.sft.num_train_epochs, c.sft.learning_rate, c.tasks[0].sft_fraction) == (2, 2e-5, 0.2)


def test_overrides_are_typed_and_unknown_fields_rejected():
    config = load_recipe("quickstart", parse_override("grpo.learning_rate=1e-5"))
    assert config.grpo.learning_rate == 1e-5 and isinstance(config.grpo.learning_rate, float)
    with pytest.raises(ConfigError, match="grpo.lr"):
        load_recipe("quickstart", parse_override("grpo.lr=1"))
    with pytest.raises(ConfigError, match="not a valid int"):
        load_recipe("quickstart", parse_override("sft.max_steps=1.5"))
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("grpo.max_steps")
    with pytest.raises(ConfigError, match="not found"):
        find_recipe("no-such-recipe")
    with pytest.raises(ConfigError, match="expected a list"):
        from_dict(RunConfig, {"tasks": {"name": "medcalc"}})


def test_every_field_has_a_help_text():
    rows = field_help()
    assert len(rows) > 50
    assert all(text.strip() for _, _, text in rows), [name for name, _, text in rows if not text.strip()]


def test_batch_layout():
    assert batch_layout(2, 8, 16, 1) == (16, 1)
    assert batch_layout(32, 12, 12, 8) == (12, 4)  # EHRMIND on 8 GPUs: 384 completions per step
    assert batch_layout(2, 8, 16, 2) == (8, 1)
    assert batch_layout(3, 4, 5, 1) == (4, 3)
    with pytest.raises(ConfigError, match="≥ 2"):
        batch_layout(2, 1, 16, 1)
    with pytest.raises(ConfigError, match="processes"):
        batch_layout(3, 3, 16, 2)


def test_weighted_order_follows_weights_and_is_seeded():
    picks = weighted_order([100, 100], [0.8, 0.2], 2000, seed=1)
    share = sum(1 for t, _ in picks if t == 0) / len(picks)
    assert 0.75 < share < 0.85
    assert picks == weighted_order([100, 100], [0.8, 0.2], 2000, seed=1)
    assert picks != weighted_order([100, 100], [0.8, 0.2], 2000, seed=2)
    rows_task1 = [i for t, i in picks if t == 1][:100]
    assert sorted(rows_task1) == list(range(100))  # every row before any repeats


def test_mixture_loading_keeps_heldout_disjoint():
    mixture = load_mixture([TaskSettings(name="toy_copy", source=None, train_limit=50, heldout_limit=20)])
    (data,) = mixture.tasks
    train_prompts = {json.dumps(s.prompt) for s in data.train}
    assert len(data.train) == 50 and data.heldout
    assert not any(json.dumps(s.prompt) in train_prompts for s in data.heldout)
    with pytest.raises(ConfigError, match="twice"):
        load_mixture([TaskSettings(name="toy_copy"), TaskSettings(name="toy_copy")])
    with pytest.raises(ConfigError, match="weight"):
        load_mixture([TaskSettings(name="toy_copy", weight=0)])


def test_sft_completion_is_a_correct_contract_completion():
    task = get_task("toy_copy")
    sample = task.load(None, "train", limit=1)[0]
    for think in ("full", "last_line"):
        target = task.sft_completion(sample, think)
        assert task.score(target, sample.target).correct is True
        assert "The note says" in target
    with pytest.raises(ConfigError):
        task.sft_completion(sample, "everything")


class _Crashing(training_toy.ToyCopyTask):
    name = "toy_crash"

    def check_answer(self, answer, target):
        raise RuntimeError("verifier bug")


def test_mixture_reward_dispatches_per_row_and_keeps_unscored_as_none():
    toy = get_task("toy_copy")
    reward = MixtureReward({"toy_copy": toy, "toy_crash": _Crashing()})
    fmt, correct = reward.functions()
    good = wrap_contract({"answer": 7}, "x")
    completions = [good, wrap_contract({"answer": 8}, "x"), "no tags at all", good]
    kwargs = {"task": ["toy_copy", "toy_copy", "toy_copy", "toy_crash"],
              "target": [json.dumps({"value": 7})] * 4}
    f, c = fmt([None] * 4, completions, **kwargs), correct([None] * 4, completions, **kwargs)
    assert [a + b if a is not None else None for a, b in zip(f, c)] == [1.1, 0.0, -2.0, None]
    assert f[3] is None and c[3] is None and reward.unscored == 1  # both None: TRL leaves it out of the baseline
    assert f[:3] == [0.0, 0.0, -2.0] and c[:3] == [1.1, 0.0, 0.0]
    calls = []
    toy_many = get_task("toy_copy")
    toy_many.score_many = lambda texts, targets: calls.append(len(texts)) or [toy.score(t, g) for t, g in
                                                                             zip(texts, targets)]
    batched = MixtureReward({"toy_copy": toy_many})
    fmt2, correct2 = batched.functions()
    kw = {"task": ["toy_copy"] * 2, "target": [json.dumps({"value": 7})] * 2}
    assert correct2([None] * 2, [good, good], **kw) == [1.1, 1.1] and fmt2([None] * 2, [good, good], **kw) == [0, 0]
    assert calls == [2]  # one batched call shared by both functions
    with pytest.raises(ConfigError, match="'task' and 'target'"):
        fmt([None], [good])
    with pytest.raises(ConfigError, match="mixture has"):
        fmt([None], [good], task=["other"], target=["{}"])


def test_cli_show_config_and_errors():
    from typer.testing import CliRunner

    from clinrl.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["train", "show-config", "--recipe", "ehrmind-medcalc", "--set", "grpo.max_steps=7"])
    assert shown.exit_code == 0, shown.output
    assert "max_steps: 7" in shown.output and "num_generations: 12" in shown.output
    fields = runner.invoke(app, ["train", "show-config", "--fields"])
    assert fields.exit_code == 0 and "grpo.eval_every" in fields.output
    bad = runner.invoke(app, ["train", "show-config", "--set", "grpo.nope=1"])
    assert bad.exit_code != 0
    for command in (["quickstart", "--help"], ["train", "sft", "--help"], ["train", "grpo", "--help"]):
        helped = runner.invoke(app, command)
        assert helped.exit_code == 0 and "--resume" in helped.output


@pytest.mark.parametrize("args", [["--task", "no-such-task"], ["--model", "/no/such/model-dir"]])
def test_quickstart_validates_task_and_model_before_creating_the_run_dir(tmp_path, monkeypatch, args):
    from typer.testing import CliRunner

    from clinrl.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["quickstart", *args, "--real-source", "none"])
    assert result.exit_code != 0
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_quickstart_config_gives_long_prompt_tasks_room_and_user_sets_win():
    from clinrl.cli.quickstart import quickstart_config

    medcalc = quickstart_config("medcalc", "tiny", "quickstart", None, "none")
    assert medcalc.sft.max_length == 512 and medcalc.tasks[0].name == "medcalc"
    trials = quickstart_config("trials", "tiny", "quickstart", None, None)
    assert trials.sft.max_length == 1024 and trials.tasks[0].name == "trials" and trials.name == "quickstart-trials"
    ehr = quickstart_config("ehr", "tiny", "quickstart", ["sft.max_length=768"], None)
    assert ehr.sft.max_length == 768   # the user's --set wins
    # EHR's short SFT targets are ~78 tokens: generation must have room for them in GRPO and evaluation
    assert ehr.grpo.max_completion_length >= 96 and ehr.eval.max_new_tokens == ehr.grpo.max_completion_length
    assert medcalc.grpo.max_completion_length == 48
    with pytest.raises(ConfigError, match="medcalc only"):
        quickstart_config("trials", "tiny", "quickstart", None, "rows.csv")


@pytest.mark.parametrize("task_name", ["trials", "ehr", "rubric"])
def test_quickstart_generation_budget_fits_the_warm_up_targets(task_name):
    from clinrl.cli.quickstart import quickstart_budget
    from clinrl.models import load_tokenizer, resolve_model
    tokenizer = load_tokenizer(resolve_model("tiny"))
    task = get_task(task_name)
    samples = task.load("synthetic", "train", limit=100, seed=0)
    longest = max(len(tokenizer(task.sft_completion(s, "last_line")).input_ids) for s in samples)
    assert longest < quickstart_budget(task_name).completion_tokens, f"{task_name}: SFT targets reach {longest} tokens"


def test_set_addresses_task_items_by_index_or_name():
    """``--set tasks.0.heldout_limit=200`` used to fail with "tasks: expected a list, got dict"."""
    from clinrl.cli.train import build_config

    config = build_config("quickstart", ["tasks.0.heldout_limit=200", "tasks.medcalc.train_limit=7",
                                         "tasks.0.options.labels=recomputed"])
    assert (config.tasks[0].heldout_limit, config.tasks[0].train_limit) == (200, 7)
    assert config.tasks[0].options == {"prompt_style": "compact", "labels": "recomputed"}  # merged, not replaced
    assert config.tasks[0].source == load_recipe("quickstart").tasks[0].source  # the rest of the item kept
    with pytest.raises(ConfigError, match=r"tasks\.3: there are 1 item"):
        build_config("quickstart", ["tasks.3.heldout_limit=1"])
    with pytest.raises(ConfigError, match=r"tasks\.ehr: no item .*names: medcalc"):
        build_config("quickstart", ["tasks.ehr.heldout_limit=1"])
    with pytest.raises(ConfigError, match="heldout_limt"):
        build_config("quickstart", ["tasks.0.heldout_limt=1"])


def test_task_settings_reach_the_task_a_task_flag_trains():
    """``--task ehr --set tasks.0.options.sections=...`` was silently dropped with the recipe's task item."""
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.cli.train import build_config

    config = quickstart_config("ehr", None, "quickstart", ["tasks.0.heldout_limit=200",
                                                           "tasks.0.options.sections=conditions,labs"], "none")
    assert (config.tasks[0].name, config.tasks[0].heldout_limit) == ("ehr", 200)
    assert config.tasks[0].options == {"sections": "conditions,labs"}  # the recipe's MedCalc options stay out
    config = build_config("quickstart", ["tasks.trials.train_limit=5", "tasks.ehr.options.balance=false"],
                          tasks=["ehr", "trials"])
    assert [(t.name, t.train_limit, t.options) for t in config.tasks] == [
        ("ehr", load_recipe("quickstart").tasks[0].train_limit, {"balance": False}), ("trials", 5, {})]
    with pytest.raises(ConfigError, match=r"tasks\.medcalc: no item .*names: ehr"):  # the replaced item, by name
        build_config("quickstart", ["tasks.medcalc.train_limit=5"], tasks=["ehr"])
    with pytest.raises(ConfigError, match="heldout_limt"):
        build_config("quickstart", ["tasks.0.heldout_limt=1"], tasks=["ehr"])


def test_choice_fields_are_validated_when_the_config_is_built():
    for override, field in (("grpo.keep=worst", "grpo.keep"), ("sft.think=long", "sft.think"),
                            ("eval.backend=tgi", "eval.backend"), ("model.device=gpu", "model.device")):
        with pytest.raises(ConfigError, match=field):
            load_recipe("quickstart", parse_override(override))


def test_device_and_keep_flags_reach_the_config():
    from clinrl.cli.train import build_config

    config = build_config("quickstart", [], device="cpu", keep="best")
    assert config.model.device == "cpu" and config.grpo.keep == "best"


def test_quickstart_uses_the_recipes_model_unless_given():
    """`clinrl quickstart --recipe smollm2-gpu` trained the tiny model: --model defaulted to 'tiny' over the recipe."""
    from clinrl.cli.quickstart import quickstart_config

    assert quickstart_config("medcalc", None, "smollm2-gpu", None, "none").model.spec == "smollm2-135m"
    assert quickstart_config("medcalc", None, "quickstart", None, "none").model.spec == "tiny"
    assert quickstart_config("medcalc", "tiny", "smollm2-gpu", None, "none").model.spec == "tiny"


def test_quickstart_for_another_task_drops_medcalc_options_and_keeps_a_light_run():
    """The MedCalc recipe's prompt_style must not reach trials / EHR (an unknown option there), and their long
    prompts keep the measured light stage sizes instead of the MedCalc sizes."""
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.registry import get_task

    for name in ("trials", "ehr", "rubric"):
        config = quickstart_config(name, "tiny", "quickstart", None, None)
        assert config.tasks[0].options == {}
        get_task(name, **config.tasks[0].options)
        assert (config.sft.max_steps, config.grpo.prompts_per_step, config.tasks[0].train_limit) == (80, 2, 1000)
    user = quickstart_config("ehr", "tiny", "quickstart", ["grpo.max_steps=5"], None)
    assert user.grpo.max_steps == 5
    assert quickstart_config("medcalc", "tiny", "quickstart", None, "none").tasks[0].options == {"prompt_style": "compact"}


def test_training_rewards_read_with_the_task_contract():
    target = json.dumps({"calculator_id": 2, "ground_truth": "25.238", "lower_limit": "23.9761",
                         "upper_limit": "26.4999"})
    kwargs = {"task": ["medcalc"], "target": [target]}
    bare = ['The answer is {"answer": 25.2}']  # no <think>/<answer> tags: only the lenient reading accepts it
    for contract, expected in (("ehrmind", -2.0), ("lenient", 1.1)):
        fmt, correct = MixtureReward({"medcalc": get_task("medcalc", contract=contract)}).functions()
        assert fmt([None], bare, **kwargs)[0] + correct([None], bare, **kwargs)[0] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="contract 'official'.*contract: ehrmind"):
        MixtureReward({"medcalc": get_task("medcalc", contract="official")})
    with pytest.raises(ConfigError, match="contract 'official'"):  # zero_shot's default contract, refused up front
        load_mixture([TaskSettings(name="medcalc", source="synthetic:n=4", options={"prompt_style": "zero_shot"})])


def test_sft_rows_leave_out_samples_without_a_worked_target():
    from clinrl.training.mixtures import sft_rows

    mixture = load_mixture([TaskSettings(name="toy_copy", source=None, train_limit=6, heldout_limit=2)])
    data = mixture.tasks[0]
    data.train[0].metadata["explanation"] = ""
    notes: list[str] = []
    rows = sft_rows(mixture, None, "full", notes)
    assert len(rows) == 5 and data.train[0].id not in {r["id"] for r in rows}
    assert all(data.task.score(r["completion"], next(s for s in data.train if s.id == r["id"]).target).correct
               for r in rows)
    assert notes == ["sft: 1 toy_copy sample(s) without an SFT target were left out (no explanation: 1)"]
    for sample in data.train:
        sample.metadata["explanation"] = ""
    with pytest.raises(ConfigError, match="none of its 6 SFT sample"):
        sft_rows(mixture, None, "full")
