"""End to end in headless Chromium: log in, edit a rubric item, approve, check the database and the
few-shot pool; an untouched Save and Approve keep tags with commas and 1/3 weights exactly; the security
headers arrive and the page's own script still runs under the Content-Security-Policy; every form carries
the session's CSRF token; and a page on another port of the same host (same site, so the SameSite=Strict
cookie goes along) cannot make the logged-in reviewer reject a rubric, neither through the form nor through
the JSON API. The review page screenshot is saved under runs/test-artifacts/ for a person to look at."""

from __future__ import annotations

import contextlib
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from clinrl.review.store import ReviewStore
from clinrl.review.web import create_app
from clinrl.rubrics.schema import make_rubric
from review_server import free_port, serving
from test_review_store import rubric

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "runs" / "test-artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
TAGS = ["match:\\d{1,3} tablets", "axis:accuracy", 'say "no", please']


def thirds(rid: str):
    return make_rubric(rid, [{"id": f"p{i}", "text": f"Criterion {i}.", "dimension": "proficiency", "weight": 1,
                              "points": 5, "tags": TAGS} for i in range(3)], prompt="Three equal criteria.",
                       normalize=True)


@contextlib.contextmanager
def attacker_site(target: str):
    """Pages on another port of 127.0.0.1 that post to the review app as soon as they load."""
    pages = {
        "/form.html": f'<form id="f" method="post" action="{target}/rubrics/2"><input name="version" value="1">'
                      '<input name="item_count" value="0"><input name="action" value="reject">'
                      '<input name="reason" value="csrf"></form><script>f.submit()</script>',
        "/api.html": f'<form id="f" method="post" enctype="text/plain" action="{target}/api/rubrics/2/decision">'
                     '<input name=\'{"decision":"rejected","version":1,"reason":"csrf","x":"\' value=\'"}\'>'
                     '</form><script>f.submit()</script>',
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("uvicorn")
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    store.add_reviewer("alice", "alice-password", admin=True)
    store.add_drafts([rubric("r1"), thirds("r2")], round=1)
    with serving(create_app(store)) as base:
        yield store, base


def test_login_edit_approve_in_browser(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    store, base = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    with sync_api.sync_playwright() as p, attacker_site(base) as evil:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.on("console", lambda message: console.append(message.text))
            page.goto(base + "/")
            assert page.url.endswith("/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "alice-password")
            with page.expect_response(base + "/") as queue:
                page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            headers = queue.value.headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
            assert "r1" in page.content()
            page.keyboard.press("Enter")  # keyboard (review.js, allowed by the CSP): open the first rubric
            page.wait_for_url(base + "/rubrics/1")
            tokens = page.eval_on_selector_all(
                "form", "forms => forms.map(f => (f.querySelector('input[name=csrf_token]') || {}).value || '')")
            assert len(tokens) == 2 and len(set(tokens)) == 1 and len(tokens[0]) == 64  # edit form and log out
            page.fill("textarea[name=item-0-text]", "States 4 g per day as the maximum for adults, 3 g if frail.")
            page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)
            page.keyboard.press("Control+Enter")  # approve
            page.wait_for_url(base + "/rubrics/2")
            page.keyboard.press("Control+s")  # save, untouched: tags with commas, 1/3 weights
            page.wait_for_url(base + "/rubrics/2?saved=1")
            assert store.get(2).version == 1 and store.get(2).rubric.to_dict() == thirds("r2").to_dict()

            for attack in ("/form.html", "/api.html"):  # same site, other origin: the cookie goes along
                with page.expect_response(lambda r: r.url.startswith(base) and r.request.method == "POST") as hit:
                    page.goto(evil + attack)
                assert hit.value.status == 403, attack
                assert store.get(2).status == "pending" and store.get(2).version == 1, attack

            page.goto(base + "/rubrics/2")
            page.keyboard.press("Control+Enter")  # approve, untouched
            page.wait_for_url(base + "/")
        finally:
            browser.close()
    draft = store.get(1)
    assert draft.status == "approved"
    assert draft.rubric.item("p1").text == "States 4 g per day as the maximum for adults, 3 g if frail."
    assert store.fewshot_pool()[-1].item("p1").text.startswith("States 4 g per day as the maximum")
    thirds_draft = store.get(2)
    assert thirds_draft.status == "approved" and thirds_draft.rubric.to_dict() == thirds("r2").to_dict()
    assert not [m for m in console if "Content Security Policy" in m], console
    assert (ARTIFACTS / "review_page.png").stat().st_size > 10_000
