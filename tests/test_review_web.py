"""The review web app through HTTP: login required, edits, conflicts, uploads, double-blind API."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clinrl.review.store import ReviewStore
from clinrl.review.web import create_app
from review_client import csrf, login, token_in
from test_review_store import rubric


@pytest.fixture
def store(tmp_path):
    s = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    s.add_reviewer("alice", "alice-password", admin=True)
    s.add_reviewer("bob", "bob-password")
    s.add_drafts([rubric("r1"), rubric("r2")])
    return s


def client_for(store, user=None, **app_options):
    client = TestClient(create_app(store, **app_options), base_url="http://127.0.0.1")
    if user:
        response = login(client, user)
        assert response.status_code == 303
    return client


def test_everything_requires_login(store):
    client = client_for(store)
    for path in ("/", "/rubrics/1", "/stats", "/adjudicate", "/upload"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/api/queue").status_code == 401
    assert client.put("/api/rubrics/1", json={}).status_code == 401
    bad = login(client, "alice", "nope", follow_redirects=True)
    assert bad.status_code == 401 and "wrong password" in bad.text


def test_edit_and_approve_through_form(store):
    client = client_for(store, "alice")
    page = client.get("/rubrics/1")
    assert page.status_code == 200 and "How much paracetamol" in page.text
    form = {"version": "1", "item_count": "5", "action": "approve", "csrf_token": token_in(page.text)}
    for n, item in enumerate(store.get(1).rubric.items):
        form.update({f"item-{n}-id": item.id, f"item-{n}-text": item.text, f"item-{n}-dimension": item.dimension,
                     f"item-{n}-weight": str(item.weight), f"item-{n}-points": str(item.points),
                     f"item-{n}-tags": ""})
    form["item-0-text"] = "States 4 g per day as the adult maximum."
    response = client.post("/rubrics/1", data=form, follow_redirects=False)
    assert response.status_code == 303
    draft = store.get(1)
    assert draft.status == "approved" and draft.rubric.item("p1").text.startswith("States 4 g per day")
    assert store.fewshot_pool()[0].item("p1").text.startswith("States 4 g per day")


def test_invalid_edit_is_refused_with_a_message(store):
    client = client_for(store, "alice")
    item = store.get(2).rubric.items[0]
    form = {"version": "1", "item_count": "1", "action": "save", "csrf_token": csrf(client), "item-0-id": item.id,
            "item-0-text": item.text,
            "item-0-dimension": "proficiency", "item-0-weight": "0.5", "item-0-points": "1"}
    response = client.post("/rubrics/2", data=form)
    assert response.status_code == 422 and "sum to 0.5" in response.text
    assert store.get(2).version == 1


def test_api_conflict_returns_409(store):
    alice, bob = client_for(store, "alice"), client_for(store, "bob")
    doc = alice.get("/api/rubrics/1").json()
    edited = doc["rubric"]
    edited["items"][0]["text"] = "Alice's version."
    assert alice.put("/api/rubrics/1", json={"rubric": edited, "version": doc["version"]}).status_code == 200
    edited["items"][0]["text"] = "Bob's stale version."
    response = bob.put("/api/rubrics/1", json={"rubric": edited, "version": doc["version"]})
    assert response.status_code == 409 and "alice" in response.json()["error"]
    assert store.get(1).rubric.items[0].text == "Alice's version."


def test_upload_validation(store):
    alice, bob = client_for(store, "alice"), client_for(store, "bob")
    good = json.dumps(rubric("r9").to_dict()) + "\n"
    assert bob.post("/upload", files={"file": ("r.jsonl", good)}, data={"csrf_token": csrf(bob)}).status_code == 403
    token = csrf(alice)
    ok = alice.post("/upload", files={"file": ("r.jsonl", good)}, data={"round": "2", "csrf_token": token})
    assert ok.status_code == 200 and "1 rubric(s) added to round 2" in ok.text
    cases = {
        "line 2 broken": (good.replace("r9", "r10") + "{not json\n", "row 2"),
        "unknown field": (json.dumps({**rubric("r11").to_dict(), "colour": "red"}) + "\n", "colour"),
        "bad weights": (json.dumps(rubric("r12").to_dict()).replace("0.6", "0.9") + "\n", "sum to"),
        "oversized": ("x" * (5 * 1024 * 1024 + 10), "limit"),
    }
    for name, (body, expected) in cases.items():
        response = alice.post("/upload", files={"file": ("bad.jsonl", body)}, data={"csrf_token": token})
        assert response.status_code == 422 and expected in response.text, name
    assert store.count() == 3  # nothing from a bad file was kept


def test_api_double_blind(store):
    store.add_reviewer("carol", "carol-password")
    anon = store.add_adjudication_item(rubric("a1"), "A response.", "secret-model-name", first="alice", second="bob")
    alice, bob, carol = (client_for(store, u) for u in ("alice", "bob", "carol"))
    assert alice.post(f"/api/adjudication/{anon}/labels", json={"labels": {"p1": True}}).status_code == 200
    bob_view = bob.get("/api/adjudication")
    assert bob_view.status_code == 200
    assert "secret-model-name" not in bob_view.text and bob_view.json()[0]["my_labels"] == {}
    assert "secret-model-name" not in bob.get("/adjudicate").text
    assert carol.get("/api/adjudication").json() == []
    assert carol.post(f"/api/adjudication/{anon}/labels", json={"labels": {"p1": False}}).status_code == 422
