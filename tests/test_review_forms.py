"""The review edit form and API through the real FastAPI app: bounded counts, exact round trips of tags,
weights and texts on an untouched Save or Approve, and clear errors (never a 500) for malformed input."""

from __future__ import annotations

import html
import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from clinrl.errors import ClinrlError
from clinrl.review.store import ReviewError, ReviewStore
from clinrl.review.web import create_app
from clinrl.rubrics.schema import make_rubric
from review_client import csrf, form_fields, login, post_form, resubmit
from test_review_store import rubric

AWKWARD_TAGS = ["match:\\d{1,3} tablets", "axis:accuracy", 'quote " <b>&amp;</b>', "comma, and; semicolon",
                "line\nbreak", "cr\rlf\r\n", " padded ", "é ✓ 😀", "nul\x00byte", "[\"json\"]", ""]


def thirds_rubric(rid: str = "thirds"):
    """Three proficiency criteria of 5 points each, as the HealthBench import gives them (weights 1/3)."""
    return make_rubric(rid, [
        {"id": f"p{i}", "text": f"Criterion {i}.", "dimension": "proficiency", "weight": 1, "points": 5,
         "tags": ["axis:accuracy"]} for i in range(1, 4)
    ] + [{"id": "s1", "text": "Recommends more than 4 g.", "dimension": "safety", "points": -10}],
        prompt="How much paracetamol?", normalize=True)


def awkward_rubric(rid: str = "awkward"):
    """Exactly representable weights, but tags, texts and points that a lossy form would change."""
    return make_rubric(rid, [
        {"id": "p1", "text": "Gives the dose.", "dimension": "proficiency", "weight": 0.5, "points": 5,
         "tags": AWKWARD_TAGS},
        {"id": "p2", "text": "\nStarts with a line break,\r\nuses CR LF and ends with spaces.  ",
         "dimension": "proficiency", "weight": 0.5, "points": 1234567.25, "tags": ["axis:completeness"]},
        {"id": "e1", "text": "Mentions <script>alert(1)</script> & friends.", "dimension": "excellence",
         "points": 0.1},
    ], prompt="How much paracetamol?")


@pytest.fixture
def store(tmp_path):
    s = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    s.add_reviewer("alice", "alice-password", admin=True)
    s.add_drafts([thirds_rubric(), rubric("r2"), awkward_rubric()])
    return s


@pytest.fixture
def alice(store):
    client = TestClient(create_app(store), base_url="http://127.0.0.1")
    assert login(client, "alice").status_code == 303
    return client


# -- item 4 and 12: an untouched form changes nothing ------------------------------------------------
def test_untouched_save_keeps_tags_texts_and_points_exactly(store, alice):
    before = store.get(3).rubric.to_dict()
    assert before["items"][0]["tags"] == AWKWARD_TAGS
    response = resubmit(alice, "/rubrics/3", "save")
    assert response.status_code == 303 and response.headers["location"] == "/rubrics/3?saved=1"
    after = store.get(3)
    assert after.rubric.to_dict() == before and after.version == 1 and after.last_editor is None
    assert resubmit(alice, "/rubrics/3", "approve").status_code == 303
    assert store.get(3).status == "approved" and store.get(3).rubric.to_dict() == before


def test_untouched_save_keeps_one_third_weights(store, alice):
    assert resubmit(alice, "/rubrics/1", "save").status_code == 303
    assert store.get(1).version == 1 and store.get(1).rubric.to_dict() == thirds_rubric().to_dict()


def test_untouched_approve_of_one_third_weights(store, alice):
    response = resubmit(alice, "/rubrics/1", "approve")
    assert response.status_code == 303, response.text
    draft = store.get(1)
    assert draft.status == "approved" and draft.version == 2
    assert [it.weight for it in draft.rubric.proficiency] == [1 / 3] * 3
    assert draft.rubric.to_dict() == thirds_rubric().to_dict()
    assert draft.rubric.proficiency[0].weight == 1 / 3


def test_edited_weights_accept_fractions_and_are_checked_with_a_tolerance(store, alice):
    def post(weights):
        fields = form_fields(alice.get("/rubrics/1").text, "rubric-form")
        values = iter(weights)
        edited = [(k, next(values) if k.endswith("-weight") and not k.startswith("item-4") else v)
                  for k, v in fields]
        return post_form(alice, "/rubrics/1", edited + [("action", "save")], follow_redirects=False)

    rounded = post(["0.333", "0.333", "0.333", "0"])
    assert rounded.status_code == 422 and "sum to 0.999" in rounded.text and store.get(1).version == 1
    assert post(["1/3", "1/3", "1/3", "0"]).status_code == 303  # fractions are exact: nothing changed
    assert store.get(1).version == 1
    typed = post(["0.5", "0.25", "0.25000000001", "0"])  # within the 1e-6 tolerance
    assert typed.status_code == 303 and store.get(1).version == 2
    assert [it.weight for it in store.get(1).rubric.proficiency] == [0.5, 0.25, 0.25000000001]
    for typo in ("one third", "1/0", "nan", "1e999"):
        bad = post([typo, "0.25", "0.25", "0"])
        assert bad.status_code == 422 and "field &#39;weight&#39;" in bad.text, typo
    assert store.get(1).version == 2


def test_edited_text_and_new_rows_still_work(store, alice):
    fields = form_fields(alice.get("/rubrics/2").text, "rubric-form")
    fields = [(k, "States 4 g per day.\n" if k == "item-0-text" else v) for k, v in fields]
    fields = [(k, {"item-4-text": "Warns about alcohol.", "item-4-dimension": "excellence",
                   "item-4-points": "1"}.get(k, v)) for k, v in fields]
    response = post_form(alice, "/rubrics/2", fields + [("action", "save")], follow_redirects=False)
    assert response.status_code == 303, response.text
    items = store.get(2).rubric.items
    assert items[0].text == "States 4 g per day." and items[-1].text == "Warns about alcohol."
    assert items[-1].id == "new-5" and items[0].tags == ()


# -- item 3: every count is bounded by the rubric -----------------------------------------------------
@pytest.mark.parametrize("count", ["20000000", "7", "-1", "1e9", "9" * 5000, "abc"])
def test_item_count_is_bounded_by_the_rubric(store, alice, count):
    fields = [(k, count if k == "item_count" else v) for k, v in form_fields(alice.get("/rubrics/2").text, "rubric-form")]
    started = time.perf_counter()
    response = post_form(alice, "/rubrics/2", fields + [("action", "save")])
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 422 and "form field &#39;item_count&#39;" in response.text
    if count.lstrip("-").isdigit():
        assert "between 0 and 5" in response.text  # 4 criteria + 1 blank row
    else:
        assert "must be a whole number" in response.text
    assert store.get(2).version == 1


def test_form_field_count_is_bounded(store, alice):
    token = csrf(alice)
    fields = [("csrf_token", token), ("version", "1"), ("item_count", "5")] + [(f"x{i}", "") for i in range(5000)]
    response = post_form(alice, "/rubrics/2", fields)
    assert response.status_code == 422 and "more than" in response.text and store.get(2).version == 1


# -- item 15: clear errors, never a 500 ----------------------------------------------------------------
def test_malformed_api_bodies_and_ids_are_clear_errors(store, alice):
    json_type = {"content-type": "application/json"}
    cases = [
        ("put", "/api/rubrics/1", b"not json", 422, "not valid JSON"),
        ("put", "/api/rubrics/1", b"[1]", 422, "JSON object"),
        ("put", "/api/rubrics/1", b"[" * 100_000, 422, "not valid JSON"),
        ("put", "/api/rubrics/1", json.dumps({"rubric": {"id": "thirds", "items": 5}, "version": 1}).encode(),
         422, "items"),
        ("put", "/api/rubrics/1", json.dumps({"rubric": {**thirds_rubric().to_dict(), "metadata": "x"},
                                               "version": 1}).encode(), 422, "metadata"),
        ("put", "/api/rubrics/1", json.dumps({"rubric": thirds_rubric().to_dict(), "version": 10**30}).encode(),
         422, "version"),
        ("post", "/api/rubrics/1/decision", b"[1]", 422, "JSON object"),
        ("post", "/api/rubrics/1/decision", json.dumps({"decision": 5, "version": 1}).encode(), 422, "text"),
        ("post", "/api/rubrics/1/decision", json.dumps({"decision": "approved", "version": 10**30}).encode(),
         422, "version"),
        ("post", "/api/rubrics/99999999999999999999999/decision", b"{}", 404, "no rubric draft"),
        ("post", "/api/adjudication/r-x/labels", b"not json", 422, "not valid JSON"),
        ("post", "/api/adjudication/r-x/labels", b"[1,2]", 422, "JSON object"),
        ("post", "/api/adjudication/r-x/labels", b'{"labels": [1, 2]}', 422, "labels"),
    ]
    for method, path, body, status, text in cases:
        response = getattr(alice, method)(path, content=body, headers=json_type) if method == "put" else \
            alice.post(path, content=body, headers=json_type)
        assert response.status_code == status and text in response.json()["error"], (path, body[:60], response.text)
    for path in ("/api/rubrics/99999999999999999999999", "/api/rubrics/0", "/rubrics/99999999999999999999999"):
        assert alice.get(path).status_code == 404, path
    fields = form_fields(alice.get("/rubrics/1").text, "rubric-form")
    huge = [(k, "9" * 30 if k == "version" else v) for k, v in fields] + [("action", "save")]
    response = post_form(alice, "/rubrics/1", huge)
    assert response.status_code == 422 and "form field &#39;version&#39; must be between" in response.text
    assert post_form(alice, "/rubrics/99999999999999999999999", fields).status_code == 404
    assert store.get(1).version == 1


BAD_UPLOADS = {
    "items: 5": ({"items": 5}, "field 'items'"),
    "item tags: 5": ({"items": [{"id": "p1", "text": "x", "dimension": "excellence", "tags": 5}]}, "items[0].tags"),
    "rubric tags: 5": ({"tags": 5}, "field 'tags'"),
    "metadata: x": ({"metadata": "x"}, "field 'metadata'"),
    "prompt: list of text": ({"prompt": ["a", "b"]}, "prompt[0]"),
    "prompt: 5": ({"prompt": 5}, "field 'prompt'"),
    "item: 5": ({"items": [5]}, "items[0]"),
    "item text: list": ({"items": [{"id": "p1", "text": ["x"], "dimension": "excellence"}]}, "items[0].text"),
    "id: object": ({"id": {"a": 1}}, "field 'id'"),
    "too many criteria": ({"items": [{"id": f"e{i}", "text": "x", "dimension": "excellence"} for i in range(201)]},
                          "at most 200"),
}


def test_bad_upload_shapes_are_clear_errors(store, alice):
    token = csrf(alice, "/upload")
    base = rubric("up").to_dict()
    bodies = {name: (json.dumps({**base, **change}) + "\n", expected) for name, (change, expected) in BAD_UPLOADS.items()}
    bodies["100,000-deep JSON"] = ("[" * 100_000 + "\n", "nested too deeply")
    for name, (body, expected) in bodies.items():
        response = alice.post("/upload", files={"file": ("bad.jsonl", body)}, data={"csrf_token": token})
        text = html.unescape(response.text)
        assert response.status_code == 422 and "row 1" in text and expected in text, (name, text[-800:])
    huge_round = alice.post("/upload", files={"file": ("r.jsonl", json.dumps(base) + "\n")},
                            data={"csrf_token": token, "round": "9" * 30})
    assert huge_round.status_code == 422 and "form field &#39;round&#39; must be between" in huge_round.text
    assert store.count() == 3


# -- item 15: a concurrent duplicate import -------------------------------------------------------------
@pytest.fixture
def racing_import(tmp_path):
    """Queue the same rubric from a second writer just before the first writer's INSERT runs."""
    db = f"sqlite:///{tmp_path / 'race.db'}"
    other = ReviewStore(db)
    fired = []

    def before_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO RUBRIC_DRAFTS") and not fired:
            fired.append(True)
            other.add_drafts([rubric("r1")])

    event.listen(Engine, "before_cursor_execute", before_insert)
    try:
        yield db, fired
    finally:
        event.remove(Engine, "before_cursor_execute", before_insert)


def test_concurrent_duplicate_import_is_a_clear_error(racing_import):
    db, fired = racing_import
    with pytest.raises(ReviewError, match="'r1' is already in the review database"):
        ReviewStore(db).add_drafts([rubric("r1"), rubric("r2")])
    assert fired and ReviewStore(db).count() == 1  # the other import's row only; nothing of this batch


def test_concurrent_duplicate_review_import_cli(racing_import, tmp_path):
    from clinrl.cli import app

    db, fired = racing_import
    path = tmp_path / "rubrics.jsonl"
    path.write_text("".join(json.dumps(rubric(r).to_dict()) + "\n" for r in ("r1", "r2")))
    result = CliRunner().invoke(app, ["review", "import", str(path), "--db", db])
    assert fired and isinstance(result.exception, ClinrlError), result.output
    assert "'r1' is already in the review database" in str(result.exception)  # not an IntegrityError traceback
