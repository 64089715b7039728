"""Prompts for patient–trial matching (EHRMIND contract: ``<think>`` then ``<answer>{json}</answer>``)."""

from __future__ import annotations

from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.tasks.trials.labels import LABEL_DESCRIPTIONS
from clinrl.types import Message

SYSTEM = (
    "You are a clinical research coordinator who screens patients for clinical trials. Read the patient note "
    "and the trial's inclusion and exclusion criteria, check the criteria one by one against the note inside "
    "<think> </think> tags, then give your decision inside <answer> </answer> tags as a JSON object."
)

#: shown in the prompt when a judged trial has no criteria text in the corpus (usable for scoring only)
MISSING_TRIAL_TEXT = "[criteria text not available: this trial is not in the loaded corpus]"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def trial_block(title: str, inclusion: str, exclusion: str, *, max_criteria_chars: int) -> str:
    return (f"Title: {title.strip()}\n\nInclusion criteria:\n{_clip(inclusion, max_criteria_chars)}\n\n"
            f"Exclusion criteria:\n{_clip(exclusion, max_criteria_chars)}")


def matching_messages(note: str, trial_text: str, names: tuple[str, str, str]) -> tuple[list[Message], str]:
    """Chat messages + pre-fill. ``names[i]`` is the answer name of index ``i`` in the active scheme."""
    options = "\n".join(f"- idx {i}: \"{name}\" — {LABEL_DESCRIPTIONS[name]}" for i, name in enumerate(names))
    example = f'{{"prediction": "{names[2]}", "idx": 2}}'
    user = (
        f"Here is the patient note:\n{note.strip()}\n\nHere is the clinical trial:\n{trial_text}\n\n"
        f"Decide which one of these applies:\n{options}\n\n"
        "Show your reasoning in <think> </think> tags and return the final answer in <answer> </answer> tags as "
        f"JSON {{\"prediction\": name, \"idx\": integer}} with a name and index from the list, e.g. {example}."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], EHRMIND_PREFILL
