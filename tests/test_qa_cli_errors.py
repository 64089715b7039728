"""The `clinrl` entry point as a user meets it: every bad input is one readable error line and a non-zero
exit, never a traceback, and the text of the error is printed exactly (no rich markup eaten)."""

from __future__ import annotations

import sys
import warnings

import pytest

from clinrl.cli import main


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["clinrl", *map(str, args)])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() installs its own
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_error_text_keeps_square_brackets(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "calc", "run", "bmi", "--input",
                            '{"weight": [154], "height": [70, "in"]}')
    assert code == 2
    assert "expected [value, unit], got [154]" in err


def test_directory_given_for_a_file_is_one_line(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "calc", "run", "bmi", "--input", f"@{tmp_path}")
    assert code == 2
    assert "Traceback" not in err and str(tmp_path) in err and "directory" in err


def test_output_folder_that_cannot_be_made(monkeypatch, capsys, tmp_path):
    comp = tmp_path / "c.jsonl"
    comp.write_text('{"id": "a", "completion": "x", "calculator_id": 6, "ground_truth": "22", '
                    '"lower_limit": "21", "upper_limit": "23"}\n')
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_main(monkeypatch, capsys, "score", "medcalc", "-c", comp, "-o", blocker / "sub" / "o.jsonl")
    assert code == 2
    assert "Traceback" not in err and "error:" in err


def test_clinrl_warnings_are_one_plain_line(monkeypatch, capsys):
    from clinrl.cli import app
    from clinrl.tasks.trials.task import TrialDataWarning

    @app.command("qa-warn", hidden=True)
    def _warn() -> None:
        warnings.warn("3 judgment(s) [no criteria] skipped", TrialDataWarning, stacklevel=2)

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    try:
        monkeypatch.setattr(sys, "argv", ["clinrl", "qa-warn"])
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            main()
        err = capsys.readouterr().err
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "qa-warn"]
    assert "warning: 3 judgment(s) [no criteria] skipped" in err
    assert ".py:" not in err  # no source location


@pytest.mark.parametrize("args, expected", [
    (["calc", "run", "bmi"], "Missing option '--input'"),
    (["data", "synth", "medcalc", "-n", "abc", "-o", "x.csv"], "Invalid value for '--n'"),
    (["score", "medcalc", "-c", "no-such-file.jsonl", "-o", "o.jsonl"], "does not exist"),
    (["no-such-command"], "No such command"),
])
def test_usage_errors_are_shown_not_raised(monkeypatch, capsys, args, expected):
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2
    assert expected in err and "Traceback" not in err
