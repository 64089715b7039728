"""End to end in headless Chromium: log in, edit a rubric item, approve, check the database and the
few-shot pool. The review page screenshot is saved under runs/test-artifacts/ for a person to look at."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from clinrl.review.store import ReviewStore
from clinrl.review.web import create_app
from test_review_store import rubric

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "runs" / "test-artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    store.add_reviewer("alice", "alice-password", admin=True)
    store.add_drafts([rubric("r1"), rubric("r2", "States that 4 g is the daily limit for adults.")], round=1)
    port = _free_port()
    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield store, f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_login_edit_approve_in_browser(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    store, base = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(base + "/")
            assert page.url.endswith("/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "alice-password")
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            assert "r1" in page.content()
            page.keyboard.press("Enter")  # keyboard: open the first rubric in the queue
            page.wait_for_url(base + "/rubrics/1")
            page.fill("textarea[name=item-0-text]", "States 4 g per day as the maximum for adults, 3 g if frail.")
            page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)
            page.keyboard.press("Control+Enter")  # approve
            page.wait_for_url(base + "/rubrics/2")
        finally:
            browser.close()
    draft = store.get(1)
    assert draft.status == "approved"
    assert draft.rubric.item("p1").text == "States 4 g per day as the maximum for adults, 3 g if frail."
    assert store.fewshot_pool()[0].item("p1").text.startswith("States 4 g per day as the maximum")
    assert (ARTIFACTS / "review_page.png").stat().st_size > 10_000
