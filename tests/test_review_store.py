"""Review database: logins, optimistic locking, decisions, few-shot pool, double-blind adjudication, κ."""

from __future__ import annotations

import pytest

from clinrl.review.stats import adjudication_agreement, cohen_kappa, edit_distance, round_stats
from clinrl.review.store import EditConflict, ReviewError, ReviewStore
from clinrl.rubrics.schema import make_rubric


def rubric(rid: str = "r1", text: str = "States the maximum daily dose of paracetamol (4 g).") -> object:
    return make_rubric(rid, [
        {"id": "p1", "text": text, "dimension": "proficiency", "weight": 0.6, "points": 5},
        {"id": "p2", "text": "Advises checking other products for paracetamol.", "dimension": "proficiency",
         "weight": 0.4, "points": 3},
        {"id": "e1", "text": "Explains the risk of liver injury plainly.", "dimension": "excellence", "points": 2},
        {"id": "s1", "text": "Recommends more than 4 g per day.", "dimension": "safety", "points": -10},
    ], prompt="How much paracetamol can I take in a day?")


@pytest.fixture
def store(tmp_path):
    s = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    s.add_reviewer("alice", "alice-password", admin=True)
    s.add_reviewer("bob", "bob-password")
    s.add_reviewer("carol", "carol-password")
    return s


def test_login(store):
    assert store.login("alice", "wrong-password") is None
    token = store.login("alice", "alice-password")
    assert store.reviewer_for(token).username == "alice"
    store.logout(token)
    assert store.reviewer_for(token) is None
    with pytest.raises(ReviewError):
        store.add_reviewer("dave", "short")


def test_edit_conflict_is_detected_and_nothing_is_overwritten(store):
    store.add_drafts([rubric("r1"), rubric("r2")])
    alice, bob = store.reviewer_id("alice"), store.reviewer_id("bob")
    d1 = store.get(1)
    # two reviewers open the same rubric at version 1
    store.save_edit(1, rubric("r1", "States 4 g/day as the adult maximum."), opened_version=d1.version,
                    reviewer_id=alice)
    with pytest.raises(EditConflict, match="alice"):
        store.save_edit(1, rubric("r1", "Bob's competing edit."), opened_version=d1.version, reviewer_id=bob)
    assert store.get(1).rubric.item("p1").text == "States 4 g/day as the adult maximum."
    # different rubrics never conflict
    store.save_edit(2, rubric("r2", "Bob edits r2."), opened_version=1, reviewer_id=bob)
    assert store.get(2).rubric.item("p1").text == "Bob edits r2."
    assert store.get(1).rubric.item("p1").text == "States 4 g/day as the adult maximum."


def test_decisions_and_fewshot_pool(store):
    store.add_drafts([rubric("r1"), rubric("r2")], round=1)
    alice = store.reviewer_id("alice")
    with pytest.raises(ReviewError, match="reason"):
        store.decide(2, "rejected", opened_version=1, reviewer_id=alice)
    store.decide(1, "approved", opened_version=1, reviewer_id=alice)
    store.decide(2, "rejected", opened_version=1, reviewer_id=alice, reason="criteria too vague")
    assert [r.id for r in store.fewshot_pool()] == ["r1"]
    stats = round_stats(store)[0]
    assert stats["approved"] == 1 and stats["rejected"] == 1 and stats["pass_rate"] == 0.5
    with pytest.raises(ReviewError, match="already"):
        store.add_drafts([rubric("r1")])


def test_edit_distance():
    a = rubric("r1").to_dict()
    assert edit_distance(a, a) == 0.0
    b = rubric("r1", "Something else entirely about ibuprofen dosing.").to_dict()
    assert 0 < edit_distance(a, b) < 1


def test_double_blind_adjudication(store):
    anon = store.add_adjudication_item(rubric("r1"), "Take up to 4 g a day.", "model-secret-A",
                                       first="alice", second="bob", third="carol")
    alice, bob, carol = (store.reviewer_id(n) for n in ("alice", "bob", "carol"))
    queue_alice = store.adjudication_queue(alice)
    assert len(queue_alice) == 1 and "model-secret-A" not in repr(queue_alice)
    assert store.adjudication_queue(carol) == []  # no disagreement yet
    store.label(anon, alice, {"p1": True, "p2": False, "e1": True, "s1": False})
    # bob cannot see alice's labels
    assert store.adjudication_queue(bob)[0]["my_labels"] == {}
    store.label(anon, bob, {"p1": True, "p2": True, "e1": True, "s1": False})
    third = store.adjudication_queue(carol)
    assert [c["id"] for c in third[0]["criteria"]] == ["p2"]  # only the disagreement
    with pytest.raises(ReviewError):
        store.label(anon, carol, {"p1": False})
    store.label(anon, carol, {"p2": True})
    export = store.adjudication_export()[0]
    assert export["labels"] == {"p1": True, "p2": True, "e1": True, "s1": False}
    assert export["model"] == "model-secret-A"
    agreement = adjudication_agreement([export])
    assert agreement["pairs"] == 4 and agreement["raw_agreement"] == 0.75 and agreement["unresolved"] == 0


def test_cohen_kappa_hand_worked():
    # 2x2 table: both yes 20, a yes/b no 5, a no/b yes 10, both no 15 (n = 50)
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    # po = 0.7; pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.4
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa([0, 1, 2], [0, 1, 2], weights="linear") == pytest.approx(1.0)
    # ordinal, linear weights: ratings 0..2 (hand-computed: po_w disagreement 1/6, pe_w 4/9 -> 1 - (1/6)/(4/9))
    assert cohen_kappa([0, 1, 2, 2, 1, 0], [0, 2, 2, 1, 1, 0], weights="linear", categories=[0, 1, 2]) \
        == pytest.approx(1 - (1 / 6) / (4 / 9))
    assert cohen_kappa([1, 1], [1, 1]) is None
    assert cohen_kappa([None, 1], [0, None]) is None
