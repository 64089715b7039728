"""The strict EHRMIND output contract parser, including adversarial completions."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.rewards.contract import EHRMIND_PREFILL, _split_fast, _split_slow, parse_contract, wrap_contract

KEYS = ("answer",)


def ok(text, keys=KEYS, **kw):
    return parse_contract(text, keys, **kw)


@pytest.mark.parametrize("text", [
    "<think>reasoning</think><answer>{\"answer\": 5}</answer>",
    "<think>reasoning</think>\n\n<answer>\n{\"answer\": 5}\n</answer>\n",
    "reasoning continues after the pre-fill</think><answer>{\"answer\": 5}</answer>",  # pre-filled
    "Let me solve this step by step.\n<think>r</think><answer>{\"answer\": 5}</answer>",  # preamble
    "<think>r</think><answer>{\"answer\": 5}</answer><|eot_id|>",
    "<think>r</think><answer>{\"answer\": 5}</answer><|im_end|>\n",
    "<think>r</think><answer>{\"answer\": \"5 mL/min\"}</answer></s>",
])
def test_valid_completions(text):
    result = ok(text)
    assert result.ok, result.error
    assert "answer" in result.answer


def test_prefill_roundtrip():
    completion = wrap_contract({"answer": 12.5}, "BMI = 80 / 1.8^2")
    assert ok(completion).ok
    assert ok(EHRMIND_PREFILL + completion).ok  # the full assistant turn is valid too
    assert ok(completion, allow_prefill=False).ok is False


@pytest.mark.parametrize("text, reason", [
    ("{\"answer\": 5}", "think"),
    ("<think>a</think>", "answer"),
    ("<think>a</think><answer>{\"answer\": 5}</answer><answer>{\"answer\": 6}</answer>", "answer"),
    ("<think>a</think><think>b</think><answer>{\"answer\": 5}</answer>", "think"),
    ("<think>a</think>The answer is 5.<answer>{\"answer\": 5}</answer>", "between"),
    ("<think>a</think><answer>{\"answer\": 5}</answer> so the answer is 6", "after"),
    ("<think>a</think><answer>5</answer>", "JSON object"),
    ("<think>a</think><answer>[5]</answer>", "JSON object"),
    ("<think>a</think><answer>{\"answer\": 5, \"answer\": 6}</answer>", "duplicate"),
    ("<think>a</think><answer>{\"answer\": NaN}</answer>", "JSON"),
    ("<think>a</think><answer>{\"answer\": Infinity}</answer>", "JSON"),
    ("<think>a</think><answer>{\"result\": 5}</answer>", "lacks"),
    ("<think>a</think><answer>{\"answer\": 5, \"note\": 1}</answer>", "unexpected"),
    ("<think>a</think><answer>{'answer': 5}</answer>", "JSON"),
    ("<think>a <answer>{\"answer\": 1}</answer></think><answer>{\"answer\": 5}</answer>", "answer"),
    ("</think><think>a<answer>{\"answer\": 5}</answer>", "think"),
    ("<answer>{\"answer\": 5}</answer><think>a</think>", "between"),
    ("<think>a</think><answer>{\"answer\": 5}", "answer"),
    ("", "think"),
])
def test_malformed_completions(text, reason):
    result = ok(text)
    assert not result.ok
    assert reason.lower() in result.error.lower() or result.error


def test_non_string_completion():
    assert not parse_contract(None, KEYS).ok  # type: ignore[arg-type]


def test_optional_keys():
    text = "<think>a</think><answer>{\"prediction\": \"eligible\", \"idx\": 2, \"confidence\": 0.9}</answer>"
    assert not parse_contract(text, ("prediction", "idx")).ok
    assert parse_contract(text, ("prediction", "idx"), optional_keys=("confidence",)).ok


def test_huge_answer_rejected_quickly():
    body = "{\"answer\": \"" + "9" * 100_000 + "\"}"
    text = f"<think>a</think><answer>{body}</answer>"
    assert not ok(text).ok


def test_one_megabyte_completion_is_fast():
    filler = ("The creatinine is 1.2 mg/dL and <b>weight</b> 70 kg. " * 20_000)[:1_000_000]
    for text in (
        f"<think>{filler}</think><answer>{{\"answer\": 5}}</answer>",
        f"{filler}</think><answer>{{\"answer\": 5}}</answer>",
        f"<think>{filler}",
        "<think>" * 100_000 + "</think>" * 100_000,
    ):
        start = time.perf_counter()
        parse_contract(text, KEYS)
        assert time.perf_counter() - start < 0.25


def test_deeply_nested_json_does_not_crash():
    body = "{\"answer\": " + "[" * 2000 + "]" * 2000 + "}"
    result = ok(f"<think>a</think><answer>{body}</answer>")
    # either rejected as too deep or parsed (the task's checker then rejects a list value)
    assert result.ok is False or isinstance(result.answer["answer"], list)


@pytest.mark.parametrize("text", [
    # escaped duplicate key: "\u0061nswer" decodes to "answer"
    "<think>a</think><answer>{\"answer\": 1, \"\\u0061nswer\": 2}</answer>",
    # a stray closing answer tag inside the think block (4 "<" in total)
    "a</answer></think><answer>{\"answer\": 5}</answer>",
    # an answer tag inside the JSON string
    "</think><answer>{\"answer\": \"<answer>\"}</answer>",
    "<think>a</think><answer>{\"answer\": \"</answer>\"}</answer>",
])
def test_fast_path_keeps_every_rule(text):
    assert not ok(text).ok


def test_stray_angle_bracket_in_reasoning_is_fine():
    assert ok("<think>creatinine < 1.2 and age > 60</think><answer>{\"answer\": 5}</answer>").ok
    assert ok("creatinine < 1.2</think><answer>{\"answer\": 5}</answer>").ok


@pytest.mark.parametrize("body", [
    '{"answer": 1, "note": "a", "note": "b"}',      # a duplicated optional key
    '{"answer": "12:30", "answer": 2}',             # colons inside values do not hide a duplicate
])
def test_duplicate_optional_and_colon_keys_are_refused(body):
    result = parse_contract(f"<think>a</think><answer>{body}</answer>", ("answer",), optional_keys=("note",))
    assert not result.ok and "duplicate" in result.error


def test_single_key_with_colon_in_value_is_read():
    result = parse_contract('<think>a</think><answer>{"answer": "12:30"}</answer>', ("answer",))
    assert result.ok and result.answer == {"answer": "12:30"}


# --- the fast path agrees with every structural rule ------------------------------------------------------

#: pieces a completion is built from: every tag, look-alikes, a lone "<", JSON, spaces and words
_PIECES = ["<think>", "</think>", "<answer>", "</answer>", "<", "<answer", "</", " ", "\n", "step 1 ",
           '{"answer": 3}', "x < y", "<think", "answer>", "ok"]


def _same(fast, slow) -> bool:
    if isinstance(fast, tuple) or isinstance(slow, tuple):
        return fast == slow
    return (fast.ok, fast.error) == (slow.ok, slow.error)


#: text between the tags: mostly plain, sometimes a tag or a stray "<"
_FILLER = st.lists(st.sampled_from(["", "", "", " ", "\n", "step 1 ", "ok", '{"answer": 3}', "<", "x < y",
                                    "</answer>", "<think>"]), max_size=2).map("".join)
#: completions shaped like the contract, each part present or not, with filler around every tag
_SHAPED = st.tuples(_FILLER, st.sampled_from(["<think>", ""]), _FILLER, st.sampled_from(["</think>", ""]), _FILLER,
                    st.sampled_from(["<answer>", ""]), _FILLER, st.sampled_from(["</answer>", ""]),
                    _FILLER).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_SHAPED, st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)), st.booleans())
def test_fast_path_returns_what_the_full_rules_return(text, allow_prefill):
    fast = _split_fast(text, allow_prefill)
    if fast is not None:  # None: the fast path steps aside and the full rules decide
        assert _same(fast, _split_slow(text, allow_prefill)), text


def test_fast_path_takes_the_usual_completions():
    usual = "<think>1 + 1 = 2</think>\n<answer>{\"answer\": 2}</answer>"
    assert _split_fast(usual, True) == ("1 + 1 = 2", '{"answer": 2}') == _split_slow(usual, True)
    assert _split_fast(usual[len("<think>"):], True) == _split_slow(usual[len("<think>"):], True)
    assert _split_fast("a < b</think><answer>{}</answer>", True) is None  # a stray "<": the full rules
