"""Seeded synthetic patients and trials whose matching label follows exactly from their attributes.

A patient has an age, a sex, conditions, medications, past events (with how many years ago) and measurements
(labs and vitals). A trial targets one condition and has inclusion / exclusion criteria over those attributes.
The label uses TREC's meaning and is computed from the attributes alone (:func:`compute_label`):

* 0 *not relevant* — the patient does not have the trial's target condition;
* 1 *excluded* — the patient has it, but fails another inclusion criterion or meets an exclusion criterion;
* 2 *eligible* — every inclusion criterion holds and no exclusion criterion does.

The note states a closed world ("no other diagnoses, medications or past events"), so an absent condition is
known to be absent; criteria only ever mention measurements the note reports. Measurements sit at least 5% away
from any threshold, in every unit they can be printed in, so rounding can never flip a criterion.

Difficulty knobs (:class:`SynthConfig`): number of criteria, distractor facts no criterion mentions, negations
(negated criteria and "denies …" statements), unit variation (µmol/L, mmol/L, g/L, lb) and condition synonyms.
Each patient uses ``random.Random("clinrl-trials-synth:{seed}:{split}:{index}")``: the same seed, split and
config always give the same data, and a smaller ``n`` gives a prefix of a larger one.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from clinrl.errors import ConfigError
from clinrl.tasks.trials.labels import TREC_NAMES
from clinrl.tasks.trials.loader import Pair, TrialText
from clinrl.tasks.trials.vocab import CONDITIONS, EVENTS, LABS, MEDICATIONS

MARGIN = 0.05  # minimum relative distance between a measurement and a threshold


@dataclass(frozen=True)
class SynthConfig:
    n_inclusion: int = 2        # inclusion criteria besides the target diagnosis
    n_exclusion: int = 3
    distractors: int = 2        # extra facts in the note that no criterion mentions
    negation_rate: float = 0.3  # share of negated inclusion criteria; chance of "denies X" statements
    unit_variation: float = 0.3  # chance a measurement / threshold is printed in its alternative unit
    synonym_rate: float = 0.3   # chance the note names a condition by a synonym
    trials_per_patient: int = 3  # one trial of each label per patient (ranking metrics need several)
    train_size: int = 3000      # default n for split "train"
    eval_size: int = 300        # default n for any other split

    def __post_init__(self) -> None:
        if self.n_inclusion < 0 or self.n_exclusion < 0 or self.n_inclusion + self.n_exclusion < 1:
            raise ConfigError("synthetic trials need n_inclusion + n_exclusion >= 1 (else nobody can be excluded)")
        for name in ("negation_rate", "unit_variation", "synonym_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"synthetic option {name} must be in [0, 1], got {getattr(self, name)}")
        if self.distractors < 0 or self.trials_per_patient < 1:
            raise ConfigError("synthetic distractors must be >= 0 and trials_per_patient >= 1")

    def default_size(self, split: str) -> int:
        return self.train_size if split == "train" else self.eval_size


PRESETS = {
    "easy": SynthConfig(n_inclusion=1, n_exclusion=1, distractors=0, negation_rate=0.0, unit_variation=0.0,
                        synonym_rate=0.0),
    "medium": SynthConfig(),
    "hard": SynthConfig(n_inclusion=4, n_exclusion=5, distractors=6, negation_rate=0.5, unit_variation=0.6,
                        synonym_rate=0.6),
}


def config_from(source: str, options: Mapping[str, Any] | None = None) -> SynthConfig:
    """``synthetic``, ``synthetic:hard`` or ``synthetic:hard;negation_rate=0.2`` (+ task options, which win) →
    config, read by :func:`clinrl.tasks.source.synth_config` (the old ``,`` form warns)."""
    from clinrl.tasks.source import synth_config

    return synth_config(SynthConfig, source, asdict(PRESETS["medium"]), overrides=options, presets=PRESETS)


# -- the exact rule ------------------------------------------------------------------------------------------
def criterion_holds(c: Mapping[str, Any], patient: Mapping[str, Any]) -> bool:
    kind, key = c["kind"], c["key"]
    if kind == "age":
        base = patient["age"] >= c["value"] if c["op"] == ">=" else patient["age"] <= c["value"]
    elif kind == "sex":
        base = patient["sex"] == key
    elif kind == "lab":
        value = patient["labs"][key]
        base = value >= c["value"] if c["op"] == ">=" else value <= c["value"]
    elif kind == "condition":
        base = key in patient["conditions"]
    elif kind == "medication":
        base = key in patient["medications"]
    elif kind == "event":
        years = patient["events"].get(key)
        base = years is not None and (c["value"] == 0 or years < c["value"])
    else:
        raise ValueError(f"unknown criterion kind {kind!r}")
    return base != bool(c.get("negated"))


def compute_label(patient: Mapping[str, Any], trial: Mapping[str, Any]) -> int:
    if trial["condition"] not in patient["conditions"]:
        return 0
    if all(criterion_holds(c, patient) for c in trial["inclusion"]) and \
            not any(criterion_holds(c, patient) for c in trial["exclusion"]):
        return 2
    return 1


# -- patients ------------------------------------------------------------------------------------------------
def _lab_value(rng: random.Random, key: str) -> float:
    lab = LABS[key]
    return round(rng.uniform(lab.low, lab.high), lab.decimals)


def make_patient(rng: random.Random) -> dict[str, Any]:
    conditions = rng.sample(sorted(CONDITIONS), rng.randint(1, 3))
    events = {e: rng.randint(1, 15) for e in rng.sample(sorted(EVENTS), rng.randint(0, 2))}
    labs = {k: _lab_value(rng, k) for k in rng.sample(sorted(LABS), rng.randint(4, 6))}
    return {"age": rng.randint(18, 90), "sex": rng.choice(("female", "male")), "conditions": conditions,
            "medications": rng.sample(MEDICATIONS, rng.randint(0, 3)), "events": events, "labs": labs}


# -- criteria ------------------------------------------------------------------------------------------------
def _threshold(rng: random.Random, key: str, value: float, above: bool) -> float | None:
    """A threshold on the wanted side of ``value`` with a safe margin in every unit, or None."""
    lab = LABS[key]
    dec = max(0, -int(math.floor(math.log10(lab.step)))) if lab.step < 1 else 0
    for _ in range(8):
        raw = value * (1 + rng.uniform(0.08, 0.6)) if above else value * (1 - rng.uniform(0.08, 0.45))
        thr = (math.ceil(raw / lab.step) if above else math.floor(raw / lab.step)) * lab.step
        thr = round(thr, dec)
        if thr <= 0 or abs(value - thr) < MARGIN * thr:
            continue
        if all((lab.rendered_value(value, alt) > lab.rendered_value(thr, alt)) == (not above) for alt in (False, True)):
            return thr
    return None


def _make(rng: random.Random, kind: str, patient: dict[str, Any], want: bool, used: set, target: str,
          negated: bool, config: SynthConfig) -> dict[str, Any] | None:
    base_want = want != negated
    crit: dict[str, Any] = {"kind": kind, "key": "", "op": "", "value": 0, "negated": negated, "alt_unit": False}
    if kind == "age":
        age, op = patient["age"], rng.choice((">=", "<="))
        if op == ">=":  # holds iff age >= threshold
            lo, hi = (18, age) if base_want else (age + 1, 95)
        else:
            lo, hi = (age, 95) if base_want else (18, age - 1)
        if lo > hi:
            return None
        crit.update(key="age", op=op, value=rng.randint(lo, hi))
    elif kind == "sex":
        other = "male" if patient["sex"] == "female" else "female"
        crit.update(key=patient["sex"] if base_want else other)
    elif kind == "lab":
        keys = [k for k in patient["labs"] if ("lab", k) not in used]
        if not keys:
            return None
        key, op = rng.choice(keys), rng.choice((">=", "<="))
        thr = _threshold(rng, key, patient["labs"][key], above=(op == ">=") != base_want)
        if thr is None:
            return None
        crit.update(key=key, op=op, value=thr,
                    alt_unit=bool(LABS[key].alt_unit) and rng.random() < config.unit_variation)
    elif kind in ("condition", "medication"):
        have = patient["conditions"] if kind == "condition" else patient["medications"]
        pool = sorted(CONDITIONS) if kind == "condition" else list(MEDICATIONS)
        choices = [k for k in (have if base_want else [p for p in pool if p not in have])
                   if (kind, k) not in used and k != target]
        if not choices:
            return None
        crit.update(key=rng.choice(sorted(choices)))
    elif kind == "event":
        events = patient["events"]
        if base_want:
            if not events:
                return None
            key = rng.choice(sorted(k for k in events))
            window = rng.choice((0, events[key] + rng.randint(1, 5)))
        else:
            absent = [e for e in sorted(EVENTS) if e not in events]
            old = [e for e in sorted(events) if events[e] >= 2]
            if old and (not absent or rng.random() < 0.5):
                key = rng.choice(old)
                window = rng.randint(1, events[key] - 1)
            elif absent:
                key, window = rng.choice(absent), rng.choice((0, rng.randint(1, 10)))
            else:
                return None
        if ("event", key) in used:
            return None
        crit.update(key=key, value=window)
    used.add((kind, crit["key"]))
    return crit


INCLUSION_KINDS = ("age", "sex", "lab", "lab", "medication")
EXCLUSION_KINDS = ("age", "lab", "lab", "condition", "condition", "medication", "event", "event")
NEGATABLE = ("condition", "medication", "event")


def make_criterion(rng: random.Random, patient: dict[str, Any], want: bool, exclusion: bool, used: set,
                   target: str, config: SynthConfig) -> dict[str, Any] | None:
    for attempt in range(80):
        # inclusion slots fall back to negated criteria (absent facts are plentiful) once the others run out
        if not exclusion and (rng.random() < config.negation_rate or attempt >= 40):
            kind, negated = rng.choice(NEGATABLE), True
        else:
            kind, negated = rng.choice(EXCLUSION_KINDS if exclusion else INCLUSION_KINDS), False
        if kind in ("age", "sex") and any(k == kind for k, _ in used):
            continue
        crit = _make(rng, kind, patient, want, used, target, negated, config)
        if crit is not None:
            return crit
    return None


def make_trial(rng: random.Random, patient: dict[str, Any], desired: int, config: SynthConfig) -> dict[str, Any]:
    if desired == 0:
        target = rng.choice([c for c in sorted(CONDITIONS) if c not in patient["conditions"]])
    else:
        target = rng.choice(patient["conditions"])
    slots = [False] * config.n_inclusion + [True] * config.n_exclusion  # True = exclusion slot
    if desired == 2:
        violate = [False] * len(slots)
    elif desired == 1:
        first = rng.randrange(len(slots))
        violate = [i == first or rng.random() < 0.2 for i in range(len(slots))]
    else:
        violate = [rng.random() < 0.5 for _ in slots]
    used: set = {("condition", target)}
    inclusion = [{"kind": "condition", "key": target, "op": "", "value": 0, "negated": False, "alt_unit": False}]
    exclusion = []
    # violations first, while every attribute is still free; a violation that cannot be built becomes a
    # satisfied criterion, except the one an "excluded" trial needs
    order = sorted(range(len(slots)), key=lambda i: not violate[i])
    for rank, i in enumerate(order):
        is_exclusion, bad = slots[i], violate[i]
        # an inclusion criterion is violated when it does not hold; an exclusion one when it holds
        crit = make_criterion(rng, patient, want=bad if is_exclusion else not bad, exclusion=is_exclusion,
                              used=used, target=target, config=config)
        if crit is None and bad and not (desired == 1 and rank == 0):
            crit = make_criterion(rng, patient, want=not is_exclusion, exclusion=is_exclusion, used=used,
                                  target=target, config=config)
        if crit is None:  # a generator bug, not bad input
            raise RuntimeError(f"synthetic generator could not build a criterion (label {desired}, slot {i})")
        (exclusion if is_exclusion else inclusion).append(crit)
    rng.shuffle(exclusion)
    inclusion[1:] = rng.sample(inclusion[1:], len(inclusion) - 1)
    return {"condition": target, "inclusion": inclusion, "exclusion": exclusion,
            "drug": f"{rng.choice('ABCDEFGHKLMNPRSTVXZ')}{rng.choice('ABCDEFGHKLMNPRSTVXZ')}-{rng.randint(100, 999)}"}


def add_distractors(rng: random.Random, patient: dict[str, Any], trials: list[dict[str, Any]], n: int) -> None:
    """Add ``n`` facts that no criterion of any of the patient's trials mentions (labels cannot change)."""
    mentioned = {(c["kind"], c["key"]) for t in trials for c in t["inclusion"] + t["exclusion"]}
    mentioned |= {("condition", t["condition"]) for t in trials}
    for _ in range(n):
        options = [("condition", k) for k in sorted(CONDITIONS) if k not in patient["conditions"]]
        options += [("medication", m) for m in MEDICATIONS if m not in patient["medications"]]
        options += [("lab", k) for k in sorted(LABS) if k not in patient["labs"]]
        options = [o for o in options if o not in mentioned]
        if not options:
            return
        kind, key = rng.choice(options)
        if kind == "condition":
            patient["conditions"].append(key)
        elif kind == "medication":
            patient["medications"].append(key)
        else:
            patient["labs"][key] = _lab_value(rng, key)


# -- generation ----------------------------------------------------------------------------------------------
def generate_patient_pairs(index: int, *, split: str, seed: int, config: SynthConfig) -> list[Pair]:
    from clinrl.tasks.trials.synth_text import explain, render_criteria, render_note, render_title

    item_seed = f"clinrl-trials-synth:{seed}:{split}:{index}"
    rng = random.Random(item_seed)
    patient = make_patient(rng)
    offset = rng.randrange(3)
    desired = [(offset + j) % 3 for j in range(config.trials_per_patient)]
    trials = [make_trial(rng, patient, d, config) for d in desired]
    add_distractors(rng, patient, trials, config.distractors)
    note = render_note(rng, patient, config)
    query_id = f"synpt-{split}-{seed}-{index}"
    pairs = []
    for j, (trial, want) in enumerate(zip(trials, desired)):
        label = compute_label(patient, trial)
        if label != want:
            raise RuntimeError(f"synthetic generator bug: built for {want}, rule says {label}")
        text = TrialText(title=render_title(rng, trial), inclusion=render_criteria(rng, trial["inclusion"], False),
                         exclusion=render_criteria(rng, trial["exclusion"], True))
        extra = {"synthetic": {"seed": seed, "item_seed": item_seed, "config": asdict(config), "patient": patient,
                               "trial": trial, "label_name": TREC_NAMES[label]},
                 # the SFT warm-up target (TrialMatchingTask.sft_completion): the rule applied step by step
                 "explanation": explain(patient, trial, label, criterion_holds, text.inclusion, text.exclusion)}
        pairs.append(Pair(query_id, f"SYN-{split}-{seed}-{index}-{j}", label, note, text,
                          origin=f"synthetic:{item_seed}", extra=extra))
    return pairs


def generate_pairs(n: int, *, split: str = "train", seed: int = 0, config: SynthConfig | None = None) -> list[Pair]:
    """The first ``n`` synthetic pairs of ``split`` (patients in order, ``trials_per_patient`` each)."""
    config = config or SynthConfig()
    out: list[Pair] = []
    index = 0
    while len(out) < n:
        out += generate_patient_pairs(index, split=split, seed=seed, config=config)
        index += 1
    return out[:n]
