"""The Typer application and its command groups (commands are added by the modules in clinrl.cli)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="clinrl",
    help="Train LLMs into clinical reasoners with reinforcement learning: verifiable EHR tasks, physician "
         "rubrics, SFT warm-up and GRPO on TRL, evaluation and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

data_app = typer.Typer(help="Inspect, generate and label task data.", no_args_is_help=True)
synth_app = typer.Typer(help="Generate seeded, verifiable synthetic data for a task.", no_args_is_help=True)
labels_app = typer.Typer(help="Compute prediction labels from raw records.", no_args_is_help=True)
rationales_app = typer.Typer(help="Write teacher rationales for the SFT warm-up.", no_args_is_help=True)
data_app.add_typer(synth_app, name="synth")
data_app.add_typer(labels_app, name="labels")
data_app.add_typer(rationales_app, name="rationales")
app.add_typer(data_app, name="data")

train_app = typer.Typer(help="Train: SFT warm-up, GRPO, reward models.", no_args_is_help=True)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(help=(
    "Evaluate a model on a task (the options below), a reward model (`eval rm`), or compare two runs "
    "(`eval compare`).\n\n"
    "Example: clinrl eval --task medcalc --model tiny --source test_data.csv --limit 70 --out runs/eval/tiny\n\n"
    "Sampling for pass@k: add -k 8 --temperature 0.6 --top-p 0.95. Interrupted runs resume from --out; failed "
    "generations are recorded as unscored, never as wrong."))
app.add_typer(eval_app, name="eval")
export_app = typer.Typer(help="Export tasks for other training engines.", no_args_is_help=True)
app.add_typer(export_app, name="export")
calc_app = typer.Typer(help="The clinical calculator library.", no_args_is_help=True)
app.add_typer(calc_app, name="calc")


TASK_OPTION_HELP = ("A task option as KEY=VALUE (repeatable; values read as YAML: numbers, true/false, lists in "
                    "square brackets), e.g. -O labels=recomputed for medcalc, -O corpus=DIR/corpus.jsonl for trials, "
                    "-O labeling_task=new_lupus for ehr. `clinrl tasks --options` lists each task's options.")


def parse_task_options(values: list[str] | None, contract: str | None = None) -> dict:
    """``["labels=recomputed", "balance=true"]`` → ``{"labels": "recomputed", "balance": True}``.

    ``contract`` is the ``--contract`` flag: it joins the options as ``contract``; the same key given both ways
    with different values is an error rather than one silently winning.
    """
    import yaml

    from clinrl.errors import ConfigError

    options: dict = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE, e.g. --option labels=recomputed")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        options[key.strip()] = value
    if contract:
        if "contract" in options and options["contract"] != contract:
            raise ConfigError(f"--contract {contract} and --option contract={options['contract']} disagree: "
                              "give the contract once")
        options["contract"] = contract
    return options
