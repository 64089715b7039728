"""Prompts for patient–trial matching (EHRMIND contract: ``<think>`` then ``<answer>{json}</answer>``)."""

from __future__ import annotations

from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.types import Message

# Short on purpose: real TREC pairs already run to thousands of tokens, and on the embedded CPU model every
# prompt token costs training time. The one-line definitions keep TREC's meaning of each label.
SYSTEM = (
    "You screen patients for clinical trials. Check the trial's criteria against the patient note inside "
    "<think> </think>, then give your decision inside <answer> </answer>."
)

#: one-line definitions shown to the model (the rationale teacher gets the longer LABEL_DESCRIPTIONS)
SHORT_DESCRIPTIONS = {
    "not relevant": "the patient lacks the condition the trial studies",
    "excluded": "has it, but fails an inclusion or meets an exclusion criterion",
    "eligible": "meets every inclusion and no exclusion criterion",
}

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
    options = "\n".join(f'{i} "{name}": {SHORT_DESCRIPTIONS[name]}' for i, name in enumerate(names))
    user = (
        f"Patient note:\n{note.strip()}\n\nTrial:\n{trial_text}\n\nOptions:\n{options}\n\n"
        f'Answer as JSON {{"prediction": name, "idx": number}}, e.g. {{"prediction": "{names[2]}", "idx": 2}}.'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], EHRMIND_PREFILL
