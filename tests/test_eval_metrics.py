"""Evaluation metrics: pass@k against exact combinatorics, Reliable pass@k, bootstrap, paired runs."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinrl.evaluation.metrics import (answer_entropy, bootstrap_mean, default_ks, majority_at_k, majority_correct,
                                       paired_comparison, pass_at_k, reliable_pass_at_k, reliable_success, summarize)


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_equals_closed_form(args):
    n, c, k = args
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(5, 2, 2), (6, 1, 3), (7, 3, 4), (4, 0, 2), (4, 4, 1)])
def test_pass_at_k_equals_enumeration_of_subsets(n, c, k):
    draws = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    expected = sum(any(draws[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_edges_and_errors():
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(1000, 3, 500) == pytest.approx(1 - math.comb(997, 500) / math.comb(1000, 500))
    for bad in [(3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_reliable_rule_discounts_lucky_guesses_on_small_answer_spaces():
    # 3 labels, 8 draws: needs >= floor(8/3) + 2 = 4 correct and entropy < 0.8 ln 3
    assert reliable_success([True] * 4 + [False] * 4, [2] * 4 + [0] * 4, 3)  # two answers: H = ln 2 < 0.88
    assert not reliable_success([True] * 3 + [False] * 5, [2] * 3 + [0] * 5, 3)  # too few hits
    # uniform guessing over all three labels: enough hits but entropy ln 3 is too high
    assert not reliable_success([True] * 4 + [False] * 4, [2, 2, 2, 2, 0, 0, 1, 1], 3)
    # open answer space: two hits suffice, one does not
    assert reliable_success([True, True, False, False], [1.0, 1.0, 7.0, 9.0], None)
    assert not reliable_success([True, False, False, False], [1.0, 3.0, 7.0, 9.0], None)
    # binary task with 4 draws: needs >= 4 correct, and then entropy is 0
    assert reliable_success([True] * 4, [1] * 4, 2) and not reliable_success([True] * 3 + [False], [1, 1, 1, 0], 2)


def test_reliable_pass_at_k_subsets_and_exact_case():
    correct = [True, True, False, False]
    answers = [1, 1, 0, 0]
    assert reliable_pass_at_k(correct, answers, 4, None) == 1.0
    # k = 2 of 4 draws, open space: both drawn must be correct -> 1/6 of subsets
    est = reliable_pass_at_k(correct, answers, 2, None, n_subsets=3000)
    assert est == pytest.approx(1 / 6, abs=0.03)
    assert reliable_pass_at_k(correct, answers, 1, None) == 0.0  # one draw can never show two hits


def test_entropy():
    assert answer_entropy([1, 1, 1]) == 0.0
    assert answer_entropy([1, 2]) == pytest.approx(math.log(2))
    assert answer_entropy([None, None, "a"]) == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))


def test_bootstrap_interval_contains_mean_and_shrinks_with_n():
    widths = []
    for n in (20, 200, 2000):
        values = [1.0 if i % 10 < 3 else 0.0 for i in range(n)]  # 30% correct
        b = bootstrap_mean(values, seed=1)
        assert b["ci_low"] <= b["value"] <= b["ci_high"] and b["n"] == n
        assert b["value"] == pytest.approx(0.3)
        widths.append(b["ci_high"] - b["ci_low"])
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] == pytest.approx(2 * 1.96 * math.sqrt(0.3 * 0.7 / 2000), rel=0.2)
    assert math.isnan(bootstrap_mean([])["value"])
    assert bootstrap_mean([1.0, 0.0], seed=3) == bootstrap_mean([1.0, 0.0], seed=3)


def test_default_ks():
    assert default_ks(1) == [1] and default_ks(8) == [1, 2, 4, 8] and default_ks(12) == [1, 2, 4, 8, 12]
    assert default_ks(0) == []


def _record(i, flags, category="a", tokens=10, truncated=False, error=None, fmt=True):
    return {"id": str(i), "groups": {"category": category},
            "completions": [{"correct": f, "format_ok": fmt if f is not None else None, "answer": int(bool(f)),
                             "n_tokens": tokens, "truncated": truncated, "error": error} for f in flags]}


def test_summarize_rates_and_groups():
    records = [_record(0, [True, False], "a", tokens=10), _record(1, [False, False], "b", tokens=30, truncated=True),
               _record(2, [None, None], "b", error="HTTP 500")]
    s = summarize(records)
    assert s["n_completions"] == 6 and s["n_generation_errors"] == 2 and s["n_unscored_completions"] == 2
    assert s["truncation_rate"] == 0.5 and s["mean_completion_tokens"] == 20
    assert s["format_valid_rate"] == 1.0  # unscored completions are not counted as malformed
    acc = s["accuracy_bootstrap"]
    assert acc["overall"]["n"] == 2 and acc["overall"]["value"] == 0.5
    assert acc["groups"]["category"]["b"]["n"] == 1
    assert s["pass_at_k"]["2"]["overall"]["value"] == 0.5 and s["pass_at_k"]["2"]["overall"]["n"] == 2
    assert s["mean_accuracy_over_draws"]["overall"]["value"] == pytest.approx(0.25)
    # one right and one wrong answer, each voted once: the tie is split -> 0.5; the all-wrong sample -> 0
    assert s["majority_at_k"]["2"]["overall"]["value"] == pytest.approx(0.25)
    assert "1" not in s["majority_at_k"]  # maj@1 is pass@1


def test_majority_vote_plurality_ties_and_unparsed_answers():
    # the plurality answer (3, twice) is wrong although a right answer was sampled: pass@4 = 1, maj@4 = 0
    assert majority_correct([False, False, True, False], [3, 3, 2, 1]) == 0.0
    assert majority_correct([True, True, False, False, False], [2, 2, 3, 1, 0]) == 1.0
    assert majority_correct([True, False], [2, 3]) == 0.5  # a tie is split evenly
    # unparsed completions cast no vote: the lone parsed answer wins; none parsed at all is wrong
    assert majority_correct([False, False, False, True], [None, None, None, 2]) == 1.0
    assert majority_correct([False, False], [None, None]) == 0.0
    # answers compare as values: {"a": 1} and {"a": 1} are one answer
    assert majority_correct([True, True, False], [{"a": 1}, {"a": 1}, {"a": 2}]) == 1.0


def test_majority_at_k_exact_and_over_subsets():
    correct, answers = [True, True, False, False, False], [2, 2, 3, 1, 0]
    assert majority_at_k(correct, answers, 5) == 1.0
    assert majority_at_k(correct, answers, 1, n_subsets=4000) == pytest.approx(0.4, abs=0.03)  # maj@1 = pass@1
    # k = 2 by enumeration: a pair wins outright only as (2, 2); any other pair is a tie of two singletons
    pairs = list(itertools.combinations(range(5), 2))
    exact = sum(majority_correct([correct[i] for i in p], [answers[i] for i in p]) for p in pairs) / len(pairs)
    assert majority_at_k(correct, answers, 2, n_subsets=4000) == pytest.approx(exact, abs=0.03)
    for bad in ((0,), (6,)):
        with pytest.raises(ValueError):
            majority_at_k(correct, answers, *bad)
    with pytest.raises(ValueError):
        majority_at_k(correct, answers[:4], 2)


def test_paired_comparison():
    a = [_record(i, [i < 5]) for i in range(20)]           # 5/20 correct
    b = [_record(i, [i < 12]) for i in range(20)]          # 12/20 correct, a superset
    b.append(_record(99, [True]))                          # only in b
    a[19] = _record(19, [None])                            # unscored in a: dropped from the pairs
    cmp = paired_comparison(a, b, seed=0)
    assert cmp["n_common"] == 20 and cmp["n_paired"] == 19 and cmp["n_dropped_unscored"] == 1
    assert cmp["n_only_in_b"] == 1 and cmp["b_only"] == 7 and cmp["a_only"] == 0
    d = cmp["difference"]
    assert d["value"] == pytest.approx(7 / 19) and 0 < d["ci_low"] < d["value"] < d["ci_high"]
    same = paired_comparison(a, a)
    assert same["difference"]["value"] == 0 and same["difference"]["ci_low"] == same["difference"]["ci_high"] == 0
    assert paired_comparison([], [])["accuracy_a"] is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=12))
def test_pass_at_k_is_monotone_in_k(flags):
    n, c = len(flags), sum(flags)
    values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert all(x <= y + 1e-12 for x, y in zip(values, values[1:]))
    assert values[0] == pytest.approx(c / n)
