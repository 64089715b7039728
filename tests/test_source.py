"""One source grammar (tasks.source.parse_source), typed SynthConfigs, split_seed."""

from __future__ import annotations

import warnings

import pytest

from clinrl.errors import ConfigError
from clinrl.tasks.source import SPLIT_OFFSETS, parse_source, split_seed, synth_config


def test_parse_source_grammar():
    assert parse_source("synthetic") == ("synthetic", {})
    assert parse_source("synthetic:n=300;seed=1") == ("synthetic", {"n": "300", "seed": "1"})
    assert parse_source("synthetic: calculators=6,5,bmi ; N=3 ;") == ("synthetic", {"calculators": "6,5,bmi",
                                                                                    "n": "3"})
    assert parse_source("synthetic:hard;negation_rate=0.2", presets=("easy", "hard")) == \
        ("synthetic", {"preset": "hard", "negation_rate": "0.2"})
    assert parse_source("rows.csv") == ("rows.csv", {})


@pytest.mark.parametrize("source, message", [
    ("synthetic:calculators", r"source 'synthetic:calculators': expected key=value, got 'calculators'"),
    ("synthetic:extreme", r"expected key=value or a preset \(easy, hard\), got 'extreme'"),
    ("synthetic:=3", r"'=3' has no key"),
    ("synthetic:n=1;n=2", r"option 'n' is given twice"),
    ("synthetic:easy;hard", r"got 'hard'"),
])
def test_parse_source_rejects_bad_input_naming_the_part(source, message):
    with pytest.raises(ConfigError, match=message):
        parse_source(source, presets=("easy", "hard") if "extreme" in source or "easy" in source else ())


def test_the_old_comma_form_still_reads_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="separate options with ';'"):
        assert parse_source("synthetic:hard,negation_rate=0.2", presets=("hard",)) == \
            ("synthetic", {"preset": "hard", "negation_rate": "0.2"})
    with pytest.warns(DeprecationWarning):
        assert parse_source("synthetic:subjects=5,seed=1") == ("synthetic", {"subjects": "5", "seed": "1"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a comma inside one value is the grammar, not the old form
        assert parse_source("synthetic:calculators=6,5;n=2")[1] == {"calculators": "6,5", "n": "2"}


def test_every_task_reads_its_synthetic_options_through_a_typed_config():
    from clinrl.tasks.medcalc.synth import parse_synthetic_source as medcalc_options
    from clinrl.registry import get_task
    from clinrl.tasks.rubric_qa.task import parse_synthetic_source as rubric_options
    from clinrl.tasks.trials.synth import config_from

    options = medcalc_options("synthetic:calculators=6,5;n=12;difficulty=narrative", seed=4)
    assert {k: options[k] for k in ("n", "seed", "difficulty")} == {"n": 12, "seed": 4, "difficulty": "narrative"}
    assert sorted(options["calculators"]) == [5, 6]
    assert medcalc_options("synthetic:seed=9", seed=4)["seed"] == 9
    assert rubric_options("synthetic:n=5;categories=dosing,triage") == {"n": 5, "categories": ["dosing", "triage"]}
    assert config_from("synthetic:hard;distractors=1", {"n_exclusion": 2}).n_exclusion == 2
    assert get_task("ehr")._synthetic_options("synthetic:n=30;seed=4") == (30, 4)
    # errors name the source and the field, for every task
    for call, field in ((lambda: medcalc_options("synthetic:n=lots"), "n"),
                        (lambda: medcalc_options("synthetic:colour=red"), "colour"),
                        (lambda: rubric_options("synthetic:size=3"), "size"),
                        (lambda: config_from("synthetic:negation_rate=abc"), "negation_rate"),
                        (lambda: get_task("ehr")._synthetic_options("synthetic:subjects=ten"), "subjects")):
        with pytest.raises(ConfigError, match=rf"source 'synthetic:.*'.*{field}"):
            call()


def test_synth_config_layers_defaults_preset_source_and_overrides():
    from dataclasses import dataclass

    @dataclass
    class Demo:
        a: int = 1
        b: float = 0.5

    assert synth_config(Demo, "synthetic") == Demo()
    assert synth_config(Demo, "synthetic:a=3", {"a": 2, "b": 0.1}) == Demo(3, 0.1)
    assert synth_config(Demo, "synthetic:big;b=0.9", presets={"big": Demo(a=100)}) == Demo(100, 0.9)
    assert synth_config(Demo, "synthetic:a=3", overrides={"a": 4}) == Demo(4, 0.5)


def test_split_seed():
    assert [split_seed(7, s) for s in ("train", "val", "test")] == [7, 1_000_007, 2_000_007]
    assert split_seed(1, "test", {"train": 0, "test": 900_000}) == 900_001
    with pytest.raises(ConfigError, match=r"unknown split 'holdout'; the splits are train, validation"):
        split_seed(0, "holdout")
    assert SPLIT_OFFSETS["validation"] == SPLIT_OFFSETS["dev"]
