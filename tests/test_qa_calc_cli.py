"""`clinrl calc run` / `clinrl data synth medcalc` edge cases found on first use, and a scan of every
command's help for bracketed text that rich would swallow as markup."""

from __future__ import annotations

import re

import click
import typer
from typer.testing import CliRunner

from clinrl.cli import app

runner = CliRunner()
# rich treats "[x...]" as a style tag when x is a lowercase letter, '#', '/' or '@' (unless escaped)
MARKUP_LIKE = re.compile(r"(?<!\\)\[[a-z#/@][^\[\]]*\]")


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, path + (name,))


def test_no_help_text_loses_bracketed_words():
    offenders = []
    for path, command in _walk(typer.main.get_command(app)):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        offenders += [(" ".join(path), m.group()) for t in texts for m in MARKUP_LIKE.finditer(t)]
    assert not offenders, f"escape these as \\[...] or reword: {offenders}"


def test_calc_run_help_shows_the_value_unit_form():
    result = runner.invoke(app, ["calc", "run", "--help"], env={"COLUMNS": "200"})
    assert "[value, unit]" in result.output


def test_calc_run_input_directory_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["calc", "run", "bmi", "--input", f"@{tmp_path}"])
    assert result.exit_code != 0 and "no such file" in str(result.exception)


def test_synth_medcalc_checks_the_output_type_before_generating(tmp_path):
    out = tmp_path / "rows.txt"
    result = runner.invoke(app, ["data", "synth", "medcalc", "-c", "6", "-n", "2", "-o", str(out)])
    assert result.exit_code != 0 and "unsupported output type '.txt'" in str(result.exception)
    assert "synthesising" not in result.output and not out.exists()


def test_synth_medcalc_empty_calculator_list_is_an_error(tmp_path):
    result = runner.invoke(app, ["data", "synth", "medcalc", "-c", " , ", "-n", "2", "-o", str(tmp_path / "r.csv")])
    assert result.exit_code != 0 and "--calculators is empty" in str(result.exception)


ENTITIES_CELL = "{'sex': 'Male', 'weight': [93.0, 'kg'], 'height': [180.0, 'cm'], 'creatinine': [75.0, 'µmol/L'], " \
                "'age': [23, 'years']}"


def test_calc_run_entities_accepts_the_dataset_cell_as_is():
    result = runner.invoke(app, ["calc", "run", "2", "--entities", "--json", "--input", ENTITIES_CELL])
    assert result.exit_code == 0, result.output
    assert '"answer": 157.434' in result.output


def test_calc_run_entities_warns_about_keys_it_ignores():
    cell = ENTITIES_CELL[:-1] + ", 'Hypertention': True}"
    result = runner.invoke(app, ["calc", "run", "2", "--entities", "--json", "--input", cell])
    assert result.exit_code == 0
    assert "'Hypertention'" in result.stderr and "'Hypertention'" not in result.stdout


def test_calc_run_entities_bad_text_is_a_clear_error():
    result = runner.invoke(app, ["calc", "run", "2", "--entities", "--input", "{'sex': 'Male'"])
    assert result.exit_code != 0 and "Python-literal dict" in str(result.exception)
