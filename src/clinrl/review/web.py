"""The review web application: server-rendered pages for reviewers plus a small JSON API.

Every route except the login page requires a session cookie. Reviewers never see model names or
each other's adjudication labels: those leave the server only through the admin export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from clinrl.errors import DataError
from clinrl.review.stats import round_stats
from clinrl.review.store import APPROVED, PENDING, REJECTED, EditConflict, ReviewError, Reviewer, ReviewStore
from clinrl.review.uploads import MAX_UPLOAD_BYTES, parse_rubric_jsonl
from clinrl.rubrics.schema import DIMENSIONS, Rubric, RubricError, RubricItem

HERE = Path(__file__).parent
COOKIE = "clinrl_review_session"


class LoginRequired(Exception):
    pass


def _items_from_form(form: Any, rubric: Rubric) -> Rubric:
    """Rebuild a rubric from the editor form (``item-<n>-<field>`` inputs)."""
    count = int(form.get("item_count", "0"))
    items = []
    for n in range(count):
        if form.get(f"item-{n}-delete"):
            continue
        text = (form.get(f"item-{n}-text") or "").strip()
        item_id = (form.get(f"item-{n}-id") or "").strip()
        if not text and not item_id:
            continue  # an untouched blank row
        dimension = form.get(f"item-{n}-dimension") or ""
        try:
            weight = float(form.get(f"item-{n}-weight") or 0)
            points = float(form.get(f"item-{n}-points") or 0)
        except ValueError as exc:
            raise RubricError(f"weight and points must be numbers ({exc})", rubric=rubric.id,
                              item=item_id or f"row {n + 1}") from exc
        tags = tuple(t.strip() for t in (form.get(f"item-{n}-tags") or "").split(",") if t.strip())
        items.append(RubricItem(id=item_id or f"new-{n + 1}", text=text, dimension=dimension,
                                weight=weight if dimension == "proficiency" else 0.0, points=points, tags=tags))
    return Rubric(id=rubric.id, items=tuple(items), prompt=rubric.prompt, tags=rubric.tags,
                  reference=rubric.reference, metadata=rubric.metadata)


def create_app(store: ReviewStore) -> FastAPI:
    app = FastAPI(title="clinrl review", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def current(request: Request) -> Reviewer:
        reviewer = store.reviewer_for(request.cookies.get(COOKIE))
        if reviewer is None:
            if request.url.path.startswith("/api/"):
                raise HTTPException(status_code=401, detail="login required")
            raise LoginRequired()
        return reviewer

    @app.exception_handler(LoginRequired)
    async def _login_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    def page(request: Request, name: str, reviewer: Reviewer | None, code: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"reviewer": reviewer, **ctx}, status_code=code)

    # -- login ------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, error=None)

    @app.post("/login")
    def login(request: Request, username: str = Form(...), password: str = Form(...)) -> Any:
        token = store.login(username, password)
        if token is None:
            return page(request, "login.html", None, code=401, error="Unknown user name or wrong password.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=7 * 24 * 3600)
        return response

    @app.post("/logout")
    def logout(request: Request) -> RedirectResponse:
        store.logout(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- rubric review pages ----------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, status: str = PENDING, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        status = status if status in (PENDING, APPROVED, REJECTED) else PENDING
        return page(request, "queue.html", reviewer, drafts=store.queue(status=status), status=status,
                    adjudication=len(store.adjudication_queue(reviewer.id)))

    @app.get("/rubrics/{draft_id}", response_class=HTMLResponse)
    def edit_page(request: Request, draft_id: int, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        try:
            draft = store.get(draft_id)
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc
        store.mark_opened(draft_id)
        return page(request, "edit.html", reviewer, draft=draft, dimensions=DIMENSIONS, error=None,
                    next_id=_next_pending(draft_id))

    def _next_pending(after: int) -> int | None:
        later = [d.id for d in store.queue(status=PENDING) if d.id != after]
        return later[0] if later else None

    @app.post("/rubrics/{draft_id}", response_class=HTMLResponse)
    async def edit_submit(request: Request, draft_id: int, reviewer: Reviewer = Depends(current)) -> Any:
        form = await request.form()
        action = form.get("action", "save")
        try:
            draft = store.get(draft_id)
            opened = int(form.get("version", "0"))
            edited = _items_from_form(form, draft.rubric)
            if edited.to_dict() != draft.rubric.to_dict():
                opened = store.save_edit(draft_id, edited, opened_version=opened, reviewer_id=reviewer.id)
            if action in ("approve", "reject"):
                store.decide(draft_id, APPROVED if action == "approve" else REJECTED, opened_version=opened,
                             reviewer_id=reviewer.id, reason=str(form.get("reason", "")))
                nxt = _next_pending(draft_id)
                return RedirectResponse(f"/rubrics/{nxt}" if nxt else "/", status_code=303)
            return RedirectResponse(f"/rubrics/{draft_id}?saved=1", status_code=303)
        except EditConflict as exc:
            return page(request, "edit.html", reviewer, code=409, draft=store.get(draft_id), dimensions=DIMENSIONS,
                        error=str(exc), next_id=_next_pending(draft_id))
        except (ReviewError, RubricError, DataError, ValueError) as exc:
            return page(request, "edit.html", reviewer, code=422, draft=store.get(draft_id), dimensions=DIMENSIONS,
                        error=str(exc), next_id=_next_pending(draft_id))

    @app.get("/stats", response_class=HTMLResponse)
    def stats_page(request: Request, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        return page(request, "stats.html", reviewer, rounds=round_stats(store))

    @app.get("/upload", response_class=HTMLResponse)
    def upload_page(request: Request, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        return page(request, "upload.html", reviewer, error=None, message=None, limit=MAX_UPLOAD_BYTES)

    @app.post("/upload", response_class=HTMLResponse)
    async def upload(request: Request, file: UploadFile = File(...), round: int = Form(1),
                     reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        if not reviewer.is_admin:
            raise HTTPException(403, "only an admin reviewer can add rubrics")
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        try:
            added = store.add_drafts(parse_rubric_jsonl(data, source=file.filename or "upload"), round=round)
        except (DataError, ReviewError) as exc:
            return page(request, "upload.html", reviewer, code=422, error=str(exc), message=None,
                        limit=MAX_UPLOAD_BYTES)
        return page(request, "upload.html", reviewer, error=None, message=f"{added} rubric(s) added to round {round}.",
                    limit=MAX_UPLOAD_BYTES)

    # -- adjudication pages -----------------------------------------------------------------------
    @app.get("/adjudicate", response_class=HTMLResponse)
    def adjudicate_page(request: Request, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        return page(request, "adjudicate.html", reviewer, items=store.adjudication_queue(reviewer.id), error=None)

    @app.post("/adjudicate/{anon_id}", response_class=HTMLResponse)
    async def adjudicate_submit(request: Request, anon_id: str, reviewer: Reviewer = Depends(current)) -> Any:
        form = await request.form()
        labels = {key[len("met-"):]: value == "yes" for key, value in form.items()
                  if key.startswith("met-") and value in ("yes", "no")}
        try:
            store.label(anon_id, reviewer.id, labels)
        except ReviewError as exc:
            return page(request, "adjudicate.html", reviewer, code=422, items=store.adjudication_queue(reviewer.id),
                        error=str(exc))
        return RedirectResponse("/adjudicate", status_code=303)

    # -- JSON API ---------------------------------------------------------------------------------
    def draft_json(draft: Any) -> dict[str, Any]:
        return {"id": draft.id, "rubric_id": draft.rubric_id, "round": draft.round, "status": draft.status,
                "reason": draft.reason, "version": draft.version, "rubric": draft.rubric.to_dict(),
                "last_editor": draft.last_editor}

    @app.get("/api/queue")
    def api_queue(status: str = PENDING, reviewer: Reviewer = Depends(current)) -> list[dict[str, Any]]:
        return [draft_json(d) for d in store.queue(status=status)]

    @app.get("/api/rubrics/{draft_id}")
    def api_get(draft_id: int, reviewer: Reviewer = Depends(current)) -> dict[str, Any]:
        try:
            return draft_json(store.get(draft_id))
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.put("/api/rubrics/{draft_id}")
    async def api_put(request: Request, draft_id: int, reviewer: Reviewer = Depends(current)) -> Any:
        body = await request.json()
        try:
            rubric = Rubric.from_dict(body["rubric"])
            if rubric.id != store.get(draft_id).rubric_id:
                raise ReviewError("the rubric id cannot change")
            version = store.save_edit(draft_id, rubric, opened_version=int(body["version"]), reviewer_id=reviewer.id)
        except EditConflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (KeyError, TypeError, ValueError, ReviewError, DataError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"version": version}

    @app.post("/api/rubrics/{draft_id}/decision")
    async def api_decide(request: Request, draft_id: int, reviewer: Reviewer = Depends(current)) -> Any:
        body = await request.json()
        try:
            store.decide(draft_id, str(body.get("decision")), opened_version=int(body["version"]),
                         reviewer_id=reviewer.id, reason=str(body.get("reason", "")))
        except EditConflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (KeyError, TypeError, ValueError, ReviewError, DataError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"ok": True}

    @app.get("/api/adjudication")
    def api_adjudication(reviewer: Reviewer = Depends(current)) -> list[dict[str, Any]]:
        return store.adjudication_queue(reviewer.id)

    @app.post("/api/adjudication/{anon_id}/labels")
    async def api_label(request: Request, anon_id: str, reviewer: Reviewer = Depends(current)) -> Any:
        body = await request.json()
        try:
            store.label(anon_id, reviewer.id, dict(body.get("labels") or {}))
        except (ReviewError, TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"ok": True}

    @app.get("/api/stats")
    def api_stats(reviewer: Reviewer = Depends(current)) -> list[dict[str, Any]]:
        return round_stats(store)

    return app


def rubric_json(rubric: Rubric) -> str:
    return json.dumps(rubric.to_dict(), ensure_ascii=False)
