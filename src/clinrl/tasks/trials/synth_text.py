"""Rendering synthetic patients into notes and trials into criteria text (wording varies with the seed).

Every phrasing keeps the meaning of the structured record exactly: the label is computed from the record, and
the tests re-read the rendered numbers to check that the text says the same thing.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from clinrl.tasks.trials.vocab import CONDITIONS, EVENTS, LABS

INCLUSION_TEMPLATES = {
    ("condition", False): ("Diagnosis of {cond}", "Confirmed diagnosis of {cond}", "Adults with {cond}"),
    ("condition", True): ("No history of {cond}", "Free of {cond}"),
    ("medication", False): ("Currently receiving {med}", "On a stable dose of {med}"),
    ("medication", True): ("Not currently taking {med}", "No current use of {med}"),
    ("event", True): ("No {event} within the past {span}", "No {event} in the last {span}"),
}
EXCLUSION_TEMPLATES = {
    ("condition", False): ("History of {cond}", "Known {cond}", "Concurrent {cond}"),
    ("medication", False): ("Current use of {med}", "Receiving {med}"),
    ("event", False): ("{event} within the past {span}", "{event} in the last {span}"),
}
AGE_TEMPLATES = {">=": ("Age {n} years or older", "Aged at least {n} years"),
                 "<=": ("Age {n} years or younger", "No older than {n} years")}
LAB_TEMPLATES = {">=": ("{lab} of at least {v}", "{lab} ≥ {v}"), "<=": ("{lab} of no more than {v}", "{lab} ≤ {v}")}
EVER_TEMPLATES = {True: "No prior {event}", False: "Prior {event}"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def criterion_text(rng: random.Random, c: Mapping[str, Any], exclusion: bool) -> str:
    kind, key = c["kind"], c["key"]
    if kind == "age":
        return rng.choice(AGE_TEMPLATES[c["op"]]).format(n=c["value"])
    if kind == "sex":
        return rng.choice(("Female patients only", "Women")) if key == "female" else \
            rng.choice(("Male patients only", "Men"))
    if kind == "lab":
        lab = LABS[key]
        return rng.choice(LAB_TEMPLATES[c["op"]]).format(lab=_cap(lab.name), v=lab.render(c["value"], c["alt_unit"]))
    if kind == "event" and c["value"] == 0:
        return _cap(EVER_TEMPLATES[bool(c["negated"])].format(event=EVENTS[key][0]))
    templates = (EXCLUSION_TEMPLATES if exclusion else INCLUSION_TEMPLATES)[(kind, bool(c["negated"]))]
    values = {"cond": CONDITIONS.get(key, ("",))[0], "med": key, "event": EVENTS.get(key, ("",))[0],
              "n": c["value"], "span": "year" if c["value"] == 1 else f"{c['value']} years"}
    return _cap(rng.choice(templates).format(**values))


def render_criteria(rng: random.Random, criteria: list[Mapping[str, Any]], exclusion: bool) -> str:
    if not criteria:
        return "None."
    return "\n".join(f"{i}. {criterion_text(rng, c, exclusion)}" for i, c in enumerate(criteria, start=1))


def render_title(rng: random.Random, trial: Mapping[str, Any]) -> str:
    cond = CONDITIONS[trial["condition"]][0]
    template = rng.choice(("A Study of {drug} in Adults With {cond}", "{drug} Versus Placebo for {cond}",
                           "Safety and Efficacy of {drug} in Patients With {cond}"))
    return template.format(drug=trial["drug"], cond=cond)


def condition_name(rng: random.Random, key: str, synonym_rate: float) -> str:
    name, synonyms = CONDITIONS[key]
    return rng.choice(synonyms) if synonyms and rng.random() < synonym_rate else name


def render_note(rng: random.Random, patient: Mapping[str, Any], config: Any) -> str:
    she = "She" if patient["sex"] == "female" else "He"
    noun = "woman" if patient["sex"] == "female" else "man"
    age = patient["age"]
    article = "an" if str(age).startswith("8") or age in (11, 18) else "a"
    intro = rng.choice((f"{article.capitalize()} {age}-year-old {noun} is referred for trial screening.",
                        f"The patient is {article} {age}-year-old {noun} seen in clinic today."))
    middle = []
    conds = [condition_name(rng, k, config.synonym_rate) for k in patient["conditions"]]
    middle.append(f"Past medical history: {', '.join(conds)}.")
    for key, years in sorted(patient["events"].items()):
        middle.append(f"{she} {EVENTS[key][1]} {years} year{'s' if years != 1 else ''} ago.")
    meds = patient["medications"]
    middle.append(f"Current medications: {', '.join(meds)}." if meds else f"{she} takes no regular medications.")
    labs = [f"{LABS[k].name} {LABS[k].render(v, rng.random() < config.unit_variation)}"
            for k, v in patient["labs"].items()]
    rng.shuffle(labs)
    middle.append(f"Recent measurements: {'; '.join(labs)}.")
    absent = [k for k in sorted(CONDITIONS) if k not in patient["conditions"]]
    denied = [k for k in absent if rng.random() < config.negation_rate * 0.25]
    if denied:
        middle.append(f"{she} denies any history of {', '.join(CONDITIONS[k][0] for k in denied)}.")
    no_events = [k for k in sorted(EVENTS) if k not in patient["events"] and rng.random() < config.negation_rate * 0.3]
    if no_events:
        middle.append(f"No prior {', '.join(EVENTS[k][0] for k in no_events)}.")
    rng.shuffle(middle)
    closing = "No other diagnoses, medications or past events are recorded."
    return " ".join([intro, *middle, closing])


def _fact(c: Mapping[str, Any], p: Mapping[str, Any]) -> str:
    kind, key = c["kind"], c["key"]
    if kind == "age":
        return f"the patient is {p['age']}"
    if kind == "sex":
        return f"the patient is {p['sex']}"
    if kind == "lab":
        lab = LABS[key]
        threshold = f"{c['op'].replace('>=', '≥').replace('<=', '≤')} {lab.render(c['value'], False)}"
        return f"{lab.name} is {lab.render(p['labs'][key], False)} (criterion: {threshold})"
    if kind == "condition":
        name = CONDITIONS[key][0]
        return f"{name} is {'in' if key in p['conditions'] else 'not in'} the history"
    if kind == "medication":
        return f"{key} is {'among' if key in p['medications'] else 'not among'} the medications"
    name = EVENTS[key][0]
    years = p["events"].get(key)
    return f"{name} {years} year{'s' if years != 1 else ''} ago" if years is not None else f"no {name} recorded"


def explain(patient: Mapping[str, Any], trial: Mapping[str, Any], label: int, holds: Any,
            inclusion_text: str, exclusion_text: str) -> str:
    """A rule-based worked rationale (one line per criterion, the decision last) for the SFT warm-up."""
    target = CONDITIONS[trial["condition"]][0]
    lines = [f"The trial studies {target}."]
    if trial["condition"] not in patient["conditions"]:
        lines.append(f"The note does not list {target}, so the trial is not relevant to this patient.")
        lines.append("So the patient is not relevant to this trial.")
        return "\n".join(lines)
    lines.append(f"The patient has {target}.")
    for section, criteria, text, bad_when in (("Inclusion", trial["inclusion"], inclusion_text, False),
                                              ("Exclusion", trial["exclusion"], exclusion_text, True)):
        for c, line in list(zip(criteria, text.splitlines()))[1 if section == "Inclusion" else 0:]:
            ok = holds(c, patient)
            verdict = ("applies" if ok else "does not apply") if bad_when else ("met" if ok else "not met")
            lines.append(f"{section} {line}: {_fact(c, patient)} → {verdict}.")
    lines.append("So the patient is eligible." if label == 2 else "So the patient is excluded.")
    return "\n".join(lines)
