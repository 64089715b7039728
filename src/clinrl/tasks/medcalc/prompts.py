"""Prompt builders for MedCalc: EHRMIND style (think/answer contract), its compact form, and MedCalc-Bench zero-shot."""

from __future__ import annotations

from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.types import Message

EHRMIND_SYSTEM = (
    "You are a careful clinical assistant who computes medical scores and values from patient notes. "
    "Reason step by step inside <think> </think> tags: name the formula or scoring rule, pick the "
    "patient's values from the note (converting units where needed), and do the arithmetic. Then give "
    "only the final result inside <answer> </answer> tags as a JSON object {\"answer\": value}."
)

ANSWER_FORMAT_HINT = {
    "date": 'a date string "MM/DD/YYYY"',
    "gestational_age": 'a two-element list ["W weeks", "D days"]',
    "integer": "a single integer",
    "decimal": "a single number",
}

ZERO_SHOT_SYSTEM = (
    "You are a helpful assistant for calculating a score for a given patient note. Please think "
    "step-by-step to solve the question and then generate the required score. Your output should only "
    "contain a JSON dict formatted as {\"step_by_step_thinking\": str(your_step_by_step_thinking_procress_"
    "to_solve_the_question), \"answer\": str(short_and_direct_answer_of_the_question)}."
)


def ehrmind_messages(note: str, question: str, kind: str) -> tuple[list[Message], str]:
    user = (
        f"Here is the patient note:\n{note}\n\nHere is the task:\n{question}\n\n"
        f"Show your reasoning in <think> </think> tags and return the final answer in <answer> </answer> "
        f"tags as JSON {{\"answer\": ...}}, where the value is {ANSWER_FORMAT_HINT[kind]}."
    )
    return [{"role": "system", "content": EHRMIND_SYSTEM}, {"role": "user", "content": user}], EHRMIND_PREFILL


def compact_messages(note: str, question: str, kind: str) -> tuple[list[Message], str]:
    """The EHRMIND contract in a third of the words: no system prompt, the note, the question and the answer
    format in one user turn (~100 tokens fewer with the tiny tokenizer, which halves the compute of a CPU GRPO
    step, whose cost is mostly the prompt's forward and backward pass)."""
    user = (f"{note}\n\n{question}\nThink in <think> </think>, then answer in <answer> </answer> as "
            f"{{\"answer\": ...}}, the value {ANSWER_FORMAT_HINT[kind]}.")
    return [{"role": "user", "content": user}], EHRMIND_PREFILL


def zero_shot_messages(note: str, question: str) -> tuple[list[Message], str]:
    user = (
        f"Here is the patient note:\n{note}\n\nHere is the task:\n{question}\n\n"
        "Please directly output the JSON dict formatted as {\"step_by_step_thinking\": "
        "str(your_step_by_step_thinking_procress_to_solve_the_question), \"answer\": "
        "str(short_and_direct_answer_of_the_question)}:"
    )
    return [{"role": "system", "content": ZERO_SHOT_SYSTEM}, {"role": "user", "content": user}], ""
