"""clinrl.tasks.medcalc.difficulty: how near a note's findings sit to its calculator's cut-offs, and the
two-stage bench's GRPO prompt pool built from it (``--grpo-pool-nearest``)."""

from __future__ import annotations

import json
import types

import pytest
from conftest import load_bench_script

from clinrl.tasks.medcalc.difficulty import cutoff_margin

SIRS = 51
#: SIRS answer 0: temperature 0.1 °C under its > 38 °C cut-off, everything else well inside normal
NEAR = {"Temperature": [37.9, "degrees celsius"], "Heart Rate or Pulse": [77.0, "beats per minute"],
        "respiratory rate": [19.0, "breaths per minute"], "White blood cell count": [9030.0, "µL"],
        "PaCO₂": [39.0, "mm Hg"]}


def test_a_finding_beside_its_cut_off_has_the_smallest_margin():
    # the generator's temperature range is 35.5-40.5 °C: +0.15 °C (3 % of 5 °C) is the first shift past 38 °C
    assert cutoff_margin(SIRS, NEAR) == pytest.approx(0.03)


def test_the_margin_is_the_nearest_finding_s():
    far = dict(NEAR, **{"Temperature": [37.0, "degrees celsius"], "respiratory rate": [14.0, "breaths per minute"]})
    # now the heart rate is nearest: 77 bpm + 13 % of its 105-bpm range = 90.65, past its > 90 cut-off
    assert cutoff_margin(SIRS, far) == pytest.approx(0.13)
    assert cutoff_margin(SIRS, far) > cutoff_margin(SIRS, NEAR)


def test_only_findings_in_the_generator_s_unit_are_shifted():
    # a temperature of 37 °C alone: 1 °C from both cut-offs, and a shift must pass them (< 36, > 38): 21 % of 5 °C
    assert cutoff_margin(SIRS, {"Temperature": [37.0, "degrees celsius"]}) == pytest.approx(0.21)
    # a finding in another unit than the generator's range is not shifted: nothing numeric left to measure
    assert cutoff_margin(SIRS, {"Temperature": [99.5, "degrees fahrenheit"]}) is None


@pytest.mark.parametrize("entities", [None, {}, {"Temperature": "not a number"}])
def test_rows_without_numeric_findings_have_no_margin(entities):
    assert cutoff_margin(SIRS, entities) is None


def test_a_row_its_calculator_cannot_read_has_no_margin():
    assert cutoff_margin(SIRS, {"Unknown finding": [1.0, "mg"]}) is None


@pytest.fixture(scope="module")
def bench():
    return load_bench_script("bench_two_stage")


def _medcalc(limit: int):
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.mixtures import load_mixture

    config = quickstart_config("medcalc", "tiny", "quickstart", [f"tasks.0.train_limit={limit}",
                                                                 "tasks.0.heldout_limit=4"], "none")
    return load_mixture(config.tasks, seed=0).tasks[0]


def test_the_grpo_pool_keeps_the_notes_nearest_a_cut_off_and_the_warm_up_set_unchanged(bench):
    from clinrl.training.mixtures import sft_subset

    data = _medcalc(80)
    everything = list(data.train)
    warm_up_before = [s.id for s in sft_subset(data, 0)]
    margins = {s.id: cutoff_margin(int(s.target["calculator_id"]), s.metadata["relevant_entities"])
               for s in everything}

    info = bench.nearest_pool(data, 0.25)

    assert info["prompts"] == len(data.train) == 20 and info["of"] == 80
    kept = {s.id for s in data.train}
    widest = max(margins[i] for i in kept)
    assert widest == info["widest_margin"]
    # every note left out sits at least as far from a cut-off as the farthest one kept (None = farther than all)
    assert all(margins[s.id] is None or margins[s.id] >= widest for s in everything if s.id not in kept)
    assert [s.id for s in data.train] == [s.id for s in everything if s.id in kept]  # the split's order is kept
    assert data.sft_pool == everything and [s.id for s in sft_subset(data, 0)] == warm_up_before


def test_the_grpo_pool_needs_the_medcalc_task(bench):
    other = types.SimpleNamespace(task=types.SimpleNamespace(name="trials"), train=[], warmup=None)
    with pytest.raises(SystemExit, match="medcalc"):
        bench.nearest_pool(other, 0.5)


def test_each_finding_is_located_at_the_tally_step_it_decides():
    from clinrl.tasks.medcalc.difficulty import calculator_tally, finding_margins

    assert calculator_tally(SIRS, NEAR) == ["+0", "+0", "+0", "+0"]
    # SIRS's tally: temperature, heart rate, respiratory rate or PaCO2, white cells
    assert finding_margins(SIRS, NEAR) == {
        "Temperature": (0.03, 0), "Heart Rate or Pulse": (0.13, 1), "respiratory rate": (0.04, 2),
        "White blood cell count": (0.14, 3), "PaCO₂": (0.29, 2)}


def test_a_formula_has_no_tally_and_no_decisions_to_locate():
    from clinrl.tasks.medcalc.difficulty import calculator_tally, finding_margins

    bmi = {"weight": [109.4, "kg"], "height": [160.9, "cm"]}
    assert calculator_tally(6, bmi) == [] and finding_margins(6, bmi) == {}
    assert finding_margins(SIRS, None) == {} and finding_margins(SIRS, {"Unknown finding": [1.0, "mg"]}) == {}


def _record(text: str) -> dict:
    return {"target": {"calculator_id": SIRS, "ground_truth": "0"},
            "metadata": {"calculator_name": "SIRS Criteria", "relevant_entities": NEAR},
            "completions": [{"text": text}]}


@pytest.fixture(scope="module")
def by_margin():
    return load_bench_script("decisions_by_margin")


def test_decisions_are_read_from_the_written_tally(by_margin):
    # the temperature step says +1 (wrong: 37.9 is under 38), the others +0 (right); PaCO2 feeds step 2 too
    text = "\n+1 = 1\n+0 = 1\n+0 = 1\n+0 = 1\n</think>\n<answer>{\"answer\": 1}</answer>"
    got = {key: right for key, _, (right,) in by_margin.decisions(_record(text))}
    assert got == {"Temperature": False, "Heart Rate or Pulse": True, "respiratory rate": True,
                   "White blood cell count": True, "PaCO₂": True}
    # a tally cut short leaves the decisions it never wrote wrong, and prose lines are not steps
    short = {key: right for key, _, (right,) in by_margin.decisions(_record("I think\n+0 = 0\n</think>"))}
    assert short == {"Temperature": True, "Heart Rate or Pulse": False, "respiratory rate": False,
                     "White blood cell count": False, "PaCO₂": False}


def test_the_table_compares_logs_band_by_band(by_margin, tmp_path, capsys):
    right = "\n+0 = 0\n+0 = 0\n+0 = 0\n+0 = 0\n</think>\n<answer>{\"answer\": 0}</answer>"
    wrong = "\n+1 = 1\n+0 = 1\n+0 = 1\n+0 = 1\n</think>\n<answer>{\"answer\": 1}</answer>"
    logs = []
    for name, text in (("a", right), ("b", wrong)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"records": [_record(text)]}))
        logs.append(str(path))
    by_margin.main([*logs, "--label", "before", "--label", "after", "--json", str(tmp_path / "out.json")])
    table = capsys.readouterr().out
    assert "| all | 100 % (5) | 80 % (5) |" in table
    assert "| 1-5 % | 100 % (2) | 50 % (2) |" in table  # temperature (3 %) and respiratory rate (4 %)
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["after"]["by_band"]["1-5 %"] == {"n": 2, "right": 1.0, "never": 1, "sometimes": 0, "always": 1}


def test_bad_arguments_are_refused_naming_them(by_margin, tmp_path, capsys):
    with pytest.raises(SystemExit):
        by_margin.main([str(tmp_path / "missing.json")])
    assert "missing.json: no such eval log" in capsys.readouterr().err
    path = tmp_path / "log.json"
    path.write_text(json.dumps({"records": []}))
    with pytest.raises(SystemExit):
        by_margin.main([str(path), "--label", "a", "--label", "b"])
    assert "--label: 2 given for 1 logs" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no numeric finding"):
        by_margin.main([str(path)])
    (tmp_path / "notes.txt").write_text("not json")
    with pytest.raises(SystemExit):
        by_margin.main([str(tmp_path / "notes.txt")])
    assert "notes.txt: not a clinrl eval log (JSONDecodeError" in capsys.readouterr().err
    broken = _record("+0 = 0")
    del broken["target"]
    (tmp_path / "broken.json").write_text(json.dumps({"records": [_record("+0 = 0"), dict(broken, id="test-7")]}))
    with pytest.raises(SystemExit):
        by_margin.main([str(tmp_path / "broken.json")])
    assert "broken.json: not a clinrl eval log (ValueError: record 1 (id test-7): field 'target'" in capsys.readouterr().err


def test_sampled_logs_say_how_often_each_decision_is_right(by_margin, tmp_path, capsys):
    right = "\n+0 = 0\n+0 = 0\n+0 = 0\n+0 = 0\n</think>\n<answer>{\"answer\": 0}</answer>"
    wrong = "\n+1 = 1\n+0 = 1\n+0 = 1\n+0 = 1\n</think>\n<answer>{\"answer\": 1}</answer>"
    record = dict(_record(right), completions=[{"text": right}, {"text": wrong}])
    assert {key: rights for key, _, rights in by_margin.decisions(record)}["Temperature"] == [True, False]
    path = tmp_path / "sampled.json"
    path.write_text(json.dumps({"records": [record]}))
    by_margin.main([str(path), "--label", "warm-up"])
    out = capsys.readouterr().out
    # temperature is right in one sample of two (sometimes); the four other decisions in both (always)
    assert "| all | 90 % (5) |" in out
    assert "warm-up: never / sometimes / always right (% of decisions, 2 samples)" in out
    assert "| all | 0 / 20 / 80 |" in out and "| 1-5 % | 0 / 50 / 50 |" in out
