"""Bounded load test on loopback (a real uvicorn server, ≤ 30 s): one session posts the largest form the
server accepts, over and over, plus a hostile ``item_count``; a second reviewer's page must keep loading
in under a second."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from clinrl.review.limits import MAX_BODY_BYTES, MAX_CRITERIA
from clinrl.review.store import ReviewStore
from clinrl.review.web import create_app
from clinrl.rubrics.schema import make_rubric
from review_client import encode, form_fields, login
from review_server import serving
from test_review_store import rubric

pytest.importorskip("uvicorn")
LOAD_SECONDS = 6.0


def largest_rubric(text_chars: int):
    items = [{"id": f"p{i}", "text": f"{i} " + "a" * text_chars, "dimension": "proficiency", "weight": 1,
              "points": 1, "tags": [f"axis:{i}", "match:\\d{1,3} tablets"]} for i in range(MAX_CRITERIA)]
    return make_rubric("largest", items, prompt="A long rubric.", normalize=True)


def largest_form(client, base: str) -> list[tuple[str, str]]:
    fields = form_fields(client.get(f"{base}/rubrics/1").text, "rubric-form")
    return [(k, v) for k, v in fields] + [("action", "save")]


def test_reviewer_pages_stay_fast_while_another_session_posts_the_largest_form(tmp_path):
    started = time.perf_counter()
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    store.add_reviewer("alice", "alice-password", admin=True)
    store.add_reviewer("bob", "bob-password")
    # criterion texts sized so that the whole edit form is just under the server's body cap
    store.add_drafts([largest_rubric(4_700), rubric("r2")])
    with serving(create_app(store)) as base, httpx.Client(base_url=base) as alice, httpx.Client(base_url=base) as bob:
        assert login(alice, "alice").status_code == 303 and login(bob, "bob").status_code == 303
        fields = largest_form(alice, base)
        size = len(encode(fields))
        assert 0.9 * MAX_BODY_BYTES < size <= MAX_BODY_BYTES, size
        over = alice.post("/rubrics/1", content=encode(fields) + b"&pad=" + b"x" * (MAX_BODY_BYTES - size),
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert over.status_code == 413  # one byte more than the cap and it is refused unread

        results: list[int] = []
        stop = threading.Event()

        def post_largest_forms():
            version = 1
            while not stop.is_set():
                edited = [(k, ("x" if version % 2 else "y") + v if k == "item-0-text" else
                           str(version) if k == "version" else v) for k, v in fields]
                response = alice.post("/rubrics/1", content=encode(edited), follow_redirects=False,
                                      headers={"content-type": "application/x-www-form-urlencoded"}, timeout=30)
                results.append(response.status_code)
                version += response.status_code == 303
                if len(results) == 2:  # and once the request that used to hold the server for 48 s
                    hostile = [(k, "20000000" if k == "item_count" else str(version) if k == "version" else v)
                               for k, v in fields]
                    results.append(alice.post("/rubrics/1", content=encode(hostile), timeout=30,
                                              headers={"content-type": "application/x-www-form-urlencoded"}
                                              ).status_code)

        writer = threading.Thread(target=post_largest_forms)
        writer.start()
        latencies = []
        try:
            deadline = time.perf_counter() + LOAD_SECONDS
            while time.perf_counter() < deadline:
                for path in ("/rubrics/2", "/"):
                    t0 = time.perf_counter()
                    response = bob.get(path, timeout=30)
                    latencies.append(time.perf_counter() - t0)
                    assert response.status_code == 200
                time.sleep(0.05)
        finally:
            stop.set()
            writer.join(timeout=60)
    saves = results.count(303)
    print(f"largest form {size:,} bytes: {saves} saves; {len(latencies)} page loads, slowest "
          f"{max(latencies):.3f} s, median {sorted(latencies)[len(latencies) // 2]:.3f} s")
    assert 422 in results and set(results) <= {303, 422}, results
    assert saves >= 3, results
    assert store.get(1).version == saves + 1  # every accepted post of the largest form was a real save
    assert max(latencies) < 1.0, f"slowest page {max(latencies):.3f} s over {len(latencies)} loads"
    assert time.perf_counter() - started < 30
