"""Synthetic patient–trial pairs: labels re-derived independently, from the rendered TEXT, and determinism.

The re-derivation below reads only the note and the criteria text a model sees (regular expressions over the
wording, units converted back), then applies TREC's rule. It shares no code with the generator's rule, so a
label that the text does not support — a rounding flip, a unit slip, a wrong template — fails here.
"""

from __future__ import annotations

import re

import pytest

from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.tasks.trials import synth
from clinrl.tasks.trials.vocab import CONDITIONS, EVENTS, LABS, MEDICATIONS

CONDITION_BY_NAME = {n.lower(): k for k, (name, syn) in CONDITIONS.items() for n in (name, *syn)}
EVENT_BY_PHRASE = {phrase.lower(): k for k, (_, phrase) in EVENTS.items()}
EVENT_BY_NAME = {name.lower(): k for k, (name, _) in EVENTS.items()}
LAB_NAMES = sorted(((lab.name.lower(), k) for k, lab in LABS.items()), key=lambda x: -len(x[0]))


def to_canonical(key: str, number: str, unit: str) -> float:
    lab = LABS[key]
    if unit == lab.unit:
        return float(number)
    assert unit == lab.alt_unit, (key, unit)
    return float(number) / lab.factor


def read_note(note: str) -> dict:
    text = note
    age, noun = re.search(r"(\d+)-year-old (woman|man)", text).groups()
    history = re.search(r"Past medical history: (.*?)\. ", text).group(1)
    meds = re.search(r"Current medications: (.*?)\. ", text)
    measurements = re.search(r"Recent measurements: (.*?)\.(?: |$)", text).group(1)
    labs = {}
    for item in measurements.split("; "):
        name, key = next((n, k) for n, k in LAB_NAMES if item.lower().startswith(n + " "))
        number, unit = item[len(name) + 1:].split(" ", 1)
        labs[key] = to_canonical(key, number, unit)
    events = {}
    for phrase, years in re.findall(r"(?:She|He) ([^.]+?) (\d+) years? ago\.", text):
        events[EVENT_BY_PHRASE[phrase.lower()]] = int(years)
    return {"age": int(age), "sex": "female" if noun == "woman" else "male",
            "conditions": {CONDITION_BY_NAME[c.lower()] for c in history.split(", ")},
            "medications": set(meds.group(1).split(", ")) if meds else set(), "labs": labs, "events": events}


def criterion_holds_from_text(line: str, p: dict) -> bool:
    """Whether the criterion sentence is true of the patient read from the note."""
    s = line.lower()
    if m := re.fullmatch(r"(?:age (\d+) years or older|aged at least (\d+) years)", s):
        return p["age"] >= int(m.group(1) or m.group(2))
    if m := re.fullmatch(r"(?:age (\d+) years or younger|no older than (\d+) years)", s):
        return p["age"] <= int(m.group(1) or m.group(2))
    if s in ("female patients only", "women", "male patients only", "men"):
        return p["sex"] == ("female" if s in ("female patients only", "women") else "male")
    for name, key in LAB_NAMES:
        if s.startswith(name + " "):
            m = re.fullmatch(r"(of at least|≥|of no more than|≤) ([\d.]+) (.+)", line[len(name) + 1:])
            threshold = to_canonical(key, m.group(2), m.group(3))
            return p["labs"][key] >= threshold if m.group(1) in ("of at least", "≥") else p["labs"][key] <= threshold
    if m := re.fullmatch(r"(no )?(.+?) (?:within the past|in the last) (?:(\d+) years|year)", s):
        event, window = EVENT_BY_NAME[m.group(2)], int(m.group(3) or 1)
        return (event in p["events"] and p["events"][event] < window) != bool(m.group(1))
    if m := re.fullmatch(r"(no )?prior (.+)", s):
        return (EVENT_BY_NAME[m.group(2)] in p["events"]) != bool(m.group(1))
    if m := re.fullmatch(r"(?:no history of|free of) (.+)", s):
        return CONDITION_BY_NAME[m.group(1)] not in p["conditions"]
    if m := re.fullmatch(r"(?:diagnosis of|confirmed diagnosis of|adults with|history of|known|concurrent) (.+)", s):
        return CONDITION_BY_NAME[m.group(1)] in p["conditions"]
    if m := re.fullmatch(r"(?:not currently taking|no current use of) (.+)", s):
        return m.group(1) not in p["medications"]
    if m := re.fullmatch(r"(?:currently receiving|on a stable dose of|current use of|receiving) (.+)", s):
        assert m.group(1) in MEDICATIONS
        return m.group(1) in p["medications"]
    raise AssertionError(f"criterion wording not understood: {line!r}")


def criteria_lines(block: str) -> list[str]:
    return [] if block.strip() == "None." else [re.sub(r"^\d+\. ", "", line) for line in block.splitlines()]


def label_from_text(user_prompt: str) -> int:
    note = user_prompt.split("Patient note:\n", 1)[1].split("\n\nTrial:\n", 1)[0]
    inclusion = user_prompt.split("Inclusion criteria:\n", 1)[1].split("\n\nExclusion criteria:", 1)[0]
    exclusion = user_prompt.split("Exclusion criteria:\n", 1)[1].split("\n\nOptions:", 1)[0]
    patient = read_note(note)
    inc, exc = criteria_lines(inclusion), criteria_lines(exclusion)
    target = CONDITION_BY_NAME[re.sub(r"^(confirmed diagnosis of|diagnosis of|adults with) ", "", inc[0].lower())]
    if target not in patient["conditions"]:
        return 0
    ok = all(criterion_holds_from_text(c, patient) for c in inc) and \
        not any(criterion_holds_from_text(c, patient) for c in exc)
    return 2 if ok else 1


@pytest.mark.parametrize("spec", ["synthetic:easy", "synthetic", "synthetic:hard",
                                  "synthetic:n_inclusion=0;n_exclusion=6;unit_variation=1;negation_rate=1",
                                  "synthetic:n_inclusion=5;n_exclusion=0;distractors=12;synonym_rate=1"])
def test_labels_rederived_from_text(spec):
    task = get_task("trials")
    samples = task.load(spec, "train", limit=240, seed=11)
    counts = [0, 0, 0]
    for s in samples:
        assert label_from_text(s.prompt[1]["content"]) == s.target["trial_label"], s.id
        counts[s.target["trial_label"]] += 1
    assert counts == [80, 80, 80]  # class-balanced by construction


def test_structured_record_matches_rule():
    for pair in synth.generate_pairs(90, split="test", seed=2, config=synth.PRESETS["hard"]):
        record = pair.extra["synthetic"]
        assert synth.compute_label(record["patient"], record["trial"]) == pair.label
        assert record["label_name"] == ("not relevant", "excluded", "eligible")[pair.label]


def test_same_seed_same_data_and_prefix_stable():
    a = synth.generate_pairs(30, split="train", seed=5)
    b = synth.generate_pairs(30, split="train", seed=5)
    assert a == b
    assert synth.generate_pairs(10, split="train", seed=5) == a[:10]
    assert [p.patient_note for p in synth.generate_pairs(30, split="train", seed=6)] != [p.patient_note for p in a]
    test_ids = {p.id for p in synth.generate_pairs(30, split="test", seed=5)}
    assert not test_ids & {p.id for p in a}


def test_knobs_change_the_text():
    task = get_task("trials")

    def text(spec):
        return " ".join(s.prompt[1]["content"] for s in task.load(spec, "train", limit=60, seed=1))

    plain = text("synthetic:easy")
    assert not re.search(r"µmol/L|mmol/L|g/L |/µL| lb\b", plain)
    assert not re.search(r"No history of|Free of|Not currently taking|No current use of|denies", plain)
    assert re.search(r"µmol/L|mmol/L| lb\b", text("synthetic:easy;unit_variation=1"))
    assert re.search(r"No history of|Free of|Not currently taking|No current use of",
                     text("synthetic:easy;negation_rate=1;n_inclusion=3"))
    hard = task.load("synthetic:hard", "train", limit=3, seed=1)[0].prompt[1]["content"]
    assert hard.split("Exclusion criteria:\n")[1].count("\n") >= 5


def test_bad_options_fail_loudly():
    for spec in ("synthetic:extreme", "synthetic:n_criteria=3", "synthetic:negation_rate=abc",
                 "synthetic:negation_rate=2", "synthetic:n_inclusion=0;n_exclusion=0"):
        with pytest.raises(ConfigError):
            synth.config_from(spec)
    assert synth.config_from("synthetic:hard;distractors=1", {"n_exclusion": 2}).n_exclusion == 2
