"""Synthetic rubric data (determinism, labels by construction, pair expansion), the keyword judge and RM metrics."""

from __future__ import annotations

import math

import pytest

from clinrl.errors import ConfigError
from clinrl.rubrics import make_rubric
from clinrl.rubrics.schema import RubricError, RubricItem
from clinrl.rubrics.judges import KeywordJudge, TableJudge, make_judge
from clinrl.rubrics.metrics import cohen_kappa, evaluate_judge, grade, pairwise_accuracy, prf
from clinrl.rubrics.scoring import RewardConfig, RubricScores, compare
from clinrl.rubrics.scoring import item_good
from clinrl.rubrics.synth import RESPONSE_KINDS, criterion_pairs, generate, plain_pairs, preference_pairs


@pytest.fixture(scope="module")
def examples():
    return generate(60, seed=11)


def test_deterministic_and_seed_dependent(examples):
    again = generate(60, seed=11)
    assert [e.rubric.to_dict() for e in again] == [e.rubric.to_dict() for e in examples]
    assert [r.text for e in again for r in e.responses] == [r.text for e in examples for r in e.responses]
    other = generate(60, seed=12)
    assert [r.text for e in other for r in e.responses] != [r.text for e in examples for r in e.responses]
    assert {e.category for e in examples} == {"dosing", "triage", "interaction"}
    with pytest.raises(ConfigError, match="unknown synthetic rubric category"):
        generate(3, categories=["surgery"])


def test_response_kinds_have_the_promised_labels(examples):
    for ex in examples:
        kinds = {r.kind: s for r, s in zip(ex.responses, ex.scores())}
        assert tuple(kinds) == RESPONSE_KINDS
        assert kinds["complete"].s1 == pytest.approx(1.0) and kinds["complete"].s3 == 0 and kinds["complete"].s2 >= 1
        assert kinds["incomplete"].s1 < 1 and kinds["incomplete"].s3 == 0
        assert kinds["unsafe"].s3 >= 1 and kinds["unsafe_thorough"].s3 >= 1
        assert ex.rubric.reference == ex.responses[0].text


def test_keyword_judge_reproduces_labels_by_construction(examples):
    judge = KeywordJudge()
    for ex in examples:
        for resp in ex.responses:
            assert tuple(judge.judge(ex.rubric.instruction, resp.text, ex.rubric.items)) == resp.labels, resp.text


def test_keyword_judge_cues():
    rubric = make_rubric("k", [
        {"id": "max", "text": "States the max", "dimension": "proficiency", "weight": 1.0, "points": 5,
         "tags": [r"match:\b4000\s?mg"]},
        {"id": "od", "text": "Too much", "dimension": "safety", "points": -5, "tags": ["dose_above:4000"]},
        {"id": "free", "text": "Kind tone", "dimension": "excellence", "points": 1},
    ])
    judge = KeywordJudge()
    assert judge.judge("", "Never exceed 4,000 mg a day.", rubric.items) == [True, False, None]
    assert judge.judge("", "You may take 6,000 mg daily.", rubric.items) == [False, True, None]
    assert judge.judge("", "Take 4000.5 milligrams", rubric.items)[1] is True
    assert judge.judge("", None, rubric.items) == [None, None, None]
    huge = "a" * 1_000_000 + " 9000 mg"
    assert judge.judge("", huge, rubric.items)[1] is True       # the whole response is judged, its end too
    with pytest.raises(RubricError, match="not a valid regular expression"):  # refused at load
        make_rubric("b", [{"id": "x", "text": "t", "dimension": "proficiency", "weight": 1.0,
                           "tags": ["match:(unclosed"]}])
    unchecked = RubricItem(id="x", text="t", dimension="proficiency", weight=1.0, tags=("match:(unclosed",))
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        judge.judge("", "text", [unchecked])
    assert isinstance(make_judge("keyword"), KeywordJudge)
    with pytest.raises(ConfigError, match="unknown judge"):
        make_judge("oracle")


def test_pair_expansion_is_one_instance_per_differing_criterion(examples):
    ex = examples[0]
    pairs = preference_pairs([ex])
    scores = ex.scores()
    assert all(compare(scores[i], scores[j]) == 1 for _, i, j in pairs)
    expected = 0
    for _, i, j in pairs:
        a, b = ex.responses[i].labels, ex.responses[j].labels
        expected += sum(item_good(it, x) != item_good(it, y) for it, x, y in zip(ex.rubric.items, a, b))
    inst = criterion_pairs([ex])
    assert len(inst) == expected and len(plain_pairs([ex])) == len(pairs)
    for p in inst:                      # chosen is on the good side of its criterion, rejected is not
        k = [it.id for it in ex.rubric.items].index(p.item.id)
        label = {r.text: r.labels[k] for r in ex.responses}
        assert item_good(p.item, label[p.chosen]) and not item_good(p.item, label[p.rejected])


def test_kappa_hand_computed():
    # 2x2: observed agreement 0.7; marginals a: 0.5/0.5, b: 0.6/0.4 -> expected 0.5 -> kappa 0.4
    a = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    b = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0]
    assert cohen_kappa(a, b, n_categories=2) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    # quadratic weights: off-by-one disagreements cost less than off-by-two
    ref = [0, 1, 2, 0, 1, 2]
    near = [1, 1, 2, 0, 1, 1]
    far = [2, 1, 2, 0, 1, 0]
    assert cohen_kappa(ref, near, weights="quadratic") > cohen_kappa(ref, far, weights="quadratic")
    # hand-computed linear kappa for 3 categories
    x, y = [0, 1, 2], [0, 2, 2]
    # observed weighted disagreement: (|1-2|/2)/3 = 1/6; expected: marginals x 1/3 each, y (1/3, 0, 2/3)
    expected = sum(abs(i - j) / 2 * (1 / 3) * py for i in range(3) for j, py in enumerate([1 / 3, 0, 2 / 3]))
    assert cohen_kappa(x, y, weights="linear") == pytest.approx(1 - (1 / 6) / expected)
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(ConfigError):
        cohen_kappa([1], [1, 0])


def test_prf_grade_and_pairwise():
    assert prf(8, 2, 2) == {"precision": 0.8, "recall": 0.8, "f1": pytest.approx(0.8), "tp": 8, "fp": 2, "fn": 2}
    assert prf(0, 0, 3)["f1"] == 0.0
    assert grade(RubricScores(1.0, 3, 1)) == 0 and grade(RubricScores(1.0, 0, 0)) == 5
    assert grade(RubricScores(0.3, 0, 0)) == 2
    ref = [RubricScores(1.0, 1, 0), RubricScores(0.5, 0, 0), RubricScores(1.0, 2, 1)]
    res = pairwise_accuracy([(ref, [3.0, 2.0, 1.0])], lambda a, b: (a > b) - (a < b))
    assert res == {"accuracy": 1.0, "n_pairs": 3, "n_ties": 0, "n_unjudged": 0}
    res = pairwise_accuracy([(ref, [1.0, 1.0, 2.0])], lambda a, b: (a > b) - (a < b))
    assert res["accuracy"] == pytest.approx(0.5 / 3) and res["n_ties"] == 1


def test_evaluate_judge_perfect_and_broken(examples):
    table = TableJudge()
    for ex in examples:
        for r in ex.responses:
            table.add(ex.rubric.instruction, r.text, ex.rubric.items, r.labels)
    perfect = evaluate_judge(examples, table)
    assert perfect["pointwise"]["overall"]["value"] == 1.0 and perfect["pairwise"]["accuracy"] == 1.0
    assert perfect["safety_veto"]["f1"] == 1.0 and perfect["kappa_items"] == pytest.approx(1.0)
    keyword = evaluate_judge(examples, KeywordJudge())
    assert keyword["pairwise"] == perfect["pairwise"]

    class NeverViolates(TableJudge):
        def judge(self, instruction, response, items):
            return [False if it.dimension == "safety" else v
                    for it, v in zip(items, super().judge(instruction, response, items))]

    blind = evaluate_judge(examples, NeverViolates(table.table))
    assert blind["safety_veto"]["recall"] == 0.0 and blind["pointwise"]["safety"]["value"] < 1.0
    assert blind["pairwise"]["accuracy"] < 1.0
    empty = evaluate_judge(examples[:2], TableJudge())
    assert empty["n_unjudged_items"] == sum(len(e.rubric.items) * len(e.responses) for e in examples[:2])


def test_no_veto_ablation_prefers_unsafe_but_thorough(examples):
    veto, no_veto = RewardConfig(), RewardConfig(mode="no_veto")
    flips = 0
    for ex in examples:
        kinds = {r.kind: s for r, s in zip(ex.responses, ex.scores())}
        safe, unsafe = kinds["incomplete"], kinds["unsafe_thorough"]
        assert veto.reward(unsafe) < veto.reward(safe)                  # the veto never lets it through
        flips += no_veto.reward(unsafe) > no_veto.reward(safe)
    assert flips >= len(examples) // 4                                  # the weighted sum often does


def test_splits_use_disjoint_question_combinations():
    from clinrl.rubrics.synth import OPENINGS

    def questions(split, seed):
        out = set()
        for ex in generate(90, seed=seed, split=split):
            text = ex.rubric.prompt[-1]["content"]
            for opening in sorted(OPENINGS, key=len, reverse=True):
                if opening and text.startswith(opening):
                    text = text[len(opening):]
                    break
            out.add(text)
        return out

    train, validation, test = questions("train", 0), questions("validation", 1), questions("test", 2)
    assert train and validation and test
    assert not train & test and not train & validation and not validation & test
    with pytest.raises(ConfigError, match="unknown split"):
        generate(3, split="dev")
