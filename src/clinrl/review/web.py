"""The review web application: server-rendered pages for reviewers plus a small JSON API.

Every route except the login page requires a session cookie. Reviewers never see model names or
each other's adjudication labels: those leave the server only through the admin export.

Request handling keeps the server responsive for everyone: handlers are plain functions (run in the
thread pool, never on the event loop); the only async code awaits a request body, which
:class:`~clinrl.review.security.SecurityMiddleware` has already capped, and only after the sender is
authenticated (and, for uploads, known to be an admin). Every count a request carries is bounded by
:mod:`clinrl.review.limits`. CSRF tokens, the Origin check, security headers and the login throttle are
described in :mod:`clinrl.review.security`.
"""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Any, Iterable

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from clinrl.errors import DataError
from clinrl.review.forms import encode_tags, form_int, format_number, parse_form, rubric_from_form
from clinrl.review.limits import MAX_CRITERIA, MAX_ROUND, MAX_UPLOAD_BYTES, max_form_fields
from clinrl.review.security import CSRF_FIELD, LoginThrottle, SecurityMiddleware, csrf_token, csrf_valid
from clinrl.review.stats import round_stats
from clinrl.review.store import (APPROVED, MAX_ROW_ID, PENDING, REJECTED, EditConflict, ReviewError, Reviewer,
                                 ReviewStore, conflict_message)
from clinrl.review.uploads import check_rubric_shape, parse_rubric_jsonl
from clinrl.rubrics.schema import DIMENSIONS, Rubric, RubricError

HERE = Path(__file__).parent
COOKIE = "clinrl_review_session"
LOGIN_COOKIE = "clinrl_review_login"  # binds the login form's CSRF token before a session exists
SESSION_SECONDS = 7 * 24 * 3600


class LoginRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise ReviewError("the request body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ReviewError("the request body must be a JSON object")
    return doc


def _json_version(doc: dict[str, Any]) -> int:
    value = doc.get("version")
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW_ID:
        raise ReviewError(f"'version' must be the whole-number version you opened, got {str(value)[:40]!r}")
    return value


def create_app(store: ReviewStore, *, secure_cookies: bool = False, trusted_origins: Iterable[str] = (),
               throttle: LoginThrottle | None = None) -> FastAPI:
    """The review app. ``secure_cookies`` marks cookies Secure even over plain HTTP (behind a TLS proxy);
    over HTTPS they always are. ``trusted_origins`` are extra origins (``https://review.example.org``) whose
    pages may post, e.g. the public address of a reverse proxy that rewrites ``Host``."""
    app = FastAPI(title="clinrl review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityMiddleware, trusted_origins=trusted_origins)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["exact"] = format_number
    templates.env.filters["tags_json"] = encode_tags
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    throttle = throttle or LoginThrottle()

    def current(request: Request) -> Reviewer:
        reviewer = store.reviewer_for(request.cookies.get(COOKIE))
        if reviewer is None:
            if request.url.path.startswith("/api/"):
                raise HTTPException(status_code=401, detail="login required")
            raise LoginRequired()
        return reviewer

    async def form_body(request: Request, reviewer: Reviewer = Depends(current)) -> bytes:
        """The raw urlencoded body of a logged-in reviewer's form (read only after the login check)."""
        if _media_type(request) != "application/x-www-form-urlencoded":
            raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
        return await request.body()

    async def anonymous_form_body(request: Request) -> bytes:
        if _media_type(request) != "application/x-www-form-urlencoded":
            raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
        return await request.body()

    async def json_body(request: Request, reviewer: Reviewer = Depends(current)) -> bytes:
        """The JSON API takes only application/json: a cross-origin page cannot send that without a CORS
        preflight, which this server never grants."""
        if _media_type(request) != "application/json":
            raise HTTPException(415, "the API accepts only Content-Type: application/json")
        return await request.body()

    async def upload_form(request: Request, reviewer: Reviewer = Depends(current)) -> FormData:
        """The upload form, read only once the sender is known to be an admin."""
        if not reviewer.is_admin:
            raise HTTPException(403, "only an admin reviewer can add rubrics")
        if _media_type(request) != "multipart/form-data":
            raise HTTPException(415, "send the file as multipart/form-data")
        return await request.form(max_files=1, max_fields=4, max_part_size=64 * 1024)

    def checked_form(request: Request, body: bytes, *, max_fields: int = max_form_fields()) -> FormData:
        form = parse_form(body, max_fields=max_fields)
        if not csrf_valid(request.cookies.get(COOKIE), form.get(CSRF_FIELD)):
            raise CsrfFailed()
        return form

    @app.exception_handler(LoginRequired)
    async def _login_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> HTMLResponse:
        return templates.TemplateResponse(request, "error.html", {
            "reviewer": None, "csrf": "", "title": "Form refused",
            "message": "This form is out of date or did not come from this site's own pages (its security token "
                       "is missing or wrong). Reload the page and send it again."}, status_code=403)

    @app.exception_handler(ReviewError)
    async def _review_error(request: Request, exc: ReviewError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=422)
        return templates.TemplateResponse(request, "error.html", {
            "reviewer": None, "csrf": "", "title": "Request refused", "message": str(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        body = {"error": exc.detail} if request.url.path.startswith("/api/") else {"detail": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    def page(request: Request, name: str, reviewer: Reviewer | None, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("csrf", csrf_token(request.cookies.get(COOKIE)))
        return templates.TemplateResponse(request, name, {"reviewer": reviewer, **ctx}, status_code=code)

    def secure(request: Request) -> bool:
        return secure_cookies or request.url.scheme == "https"

    # -- login ------------------------------------------------------------------------------------
    def login_page(request: Request, code: int = 200, error: str | None = None,
                   headers: dict[str, str] | None = None) -> HTMLResponse:
        pre = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
        response = page(request, "login.html", None, code=code, error=error, csrf=csrf_token(pre))
        response.set_cookie(LOGIN_COOKIE, pre, httponly=True, samesite="strict", secure=secure(request),
                            max_age=3600, path="/login")
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @app.post("/login")
    def login(request: Request, body: bytes = Depends(anonymous_form_body)) -> Any:
        form = parse_form(body, max_fields=8)
        if not csrf_valid(request.cookies.get(LOGIN_COOKIE), form.get(CSRF_FIELD)):
            return login_page(request, 403, "The login form expired or did not come from this site; try again.")
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"
        wait = throttle.begin(username, address)
        if wait > 0:
            seconds = math.ceil(wait)
            return login_page(request, 429, f"Too many failed logins from this address or for this user name; "
                                            f"try again in {seconds} s.", headers={"Retry-After": str(seconds)})
        token = store.login(username, password)
        if token is None:
            return login_page(request, 401, "Unknown user name or wrong password.")
        throttle.succeeded(username, address)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure(request),
                            max_age=SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    def logout(request: Request, body: bytes = Depends(anonymous_form_body)) -> RedirectResponse:
        token = request.cookies.get(COOKIE, "")
        if token:
            checked_form(request, body, max_fields=8)
            store.logout(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- rubric review pages ----------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, status: str = PENDING, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        status = status if status in (PENDING, APPROVED, REJECTED) else PENDING
        return page(request, "queue.html", reviewer, drafts=store.queue(status=status), status=status,
                    adjudication=len(store.adjudication_queue(reviewer.id)))

    def _draft_or_404(draft_id: int) -> Any:
        try:
            return store.get(draft_id)
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.get("/rubrics/{draft_id}", response_class=HTMLResponse)
    def edit_page(request: Request, draft_id: int, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        draft = _draft_or_404(draft_id)
        store.mark_opened(draft_id)
        return page(request, "edit.html", reviewer, draft=draft, dimensions=DIMENSIONS, error=None,
                    next_id=_next_pending(draft_id))

    def _next_pending(after: int) -> int | None:
        later = [d.id for d in store.queue(status=PENDING) if d.id != after]
        return later[0] if later else None

    @app.post("/rubrics/{draft_id}", response_class=HTMLResponse)
    def edit_submit(request: Request, draft_id: int, body: bytes = Depends(form_body),
                    reviewer: Reviewer = Depends(current)) -> Any:
        form = checked_form(request, body)
        draft = _draft_or_404(draft_id)
        action = form.get("action", "save")
        try:
            if action not in ("save", "approve", "reject"):
                raise ReviewError(f"unknown action {str(action)[:40]!r}; use save, approve or reject")
            opened = form_int(form, "version", low=1, high=MAX_ROW_ID)
            if opened != draft.version:  # checked first: the rows posted belong to the version that was opened
                raise EditConflict(conflict_message(draft.rubric_id, draft.last_editor, opened, draft.version))
            edited = rubric_from_form(form, draft.rubric)
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
    def upload(request: Request, form: FormData = Depends(upload_form),
               reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        def answer(code: int, error: str | None, message: str | None = None) -> HTMLResponse:
            return page(request, "upload.html", reviewer, code=code, error=error, message=message,
                        limit=MAX_UPLOAD_BYTES)

        if not csrf_valid(request.cookies.get(COOKIE), form.get(CSRF_FIELD)):
            raise CsrfFailed()
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return answer(422, "choose a rubric file (JSONL) to upload")
        try:
            round_ = form_int(form, "round", low=1, high=MAX_ROUND, default=1)
            data = file.file.read(MAX_UPLOAD_BYTES + 1)
            added = store.add_drafts(parse_rubric_jsonl(data, source=file.filename or "upload"), round=round_)
        except (DataError, ReviewError) as exc:
            return answer(422, str(exc))
        finally:
            file.file.close()
        return answer(200, None, f"{added} rubric(s) added to round {round_}.")

    # -- adjudication pages -----------------------------------------------------------------------
    @app.get("/adjudicate", response_class=HTMLResponse)
    def adjudicate_page(request: Request, reviewer: Reviewer = Depends(current)) -> HTMLResponse:
        return page(request, "adjudicate.html", reviewer, items=store.adjudication_queue(reviewer.id), error=None)

    @app.post("/adjudicate/{anon_id}", response_class=HTMLResponse)
    def adjudicate_submit(request: Request, anon_id: str, body: bytes = Depends(form_body),
                          reviewer: Reviewer = Depends(current)) -> Any:
        form = checked_form(request, body)
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
        return draft_json(_draft_or_404(draft_id))

    @app.put("/api/rubrics/{draft_id}")
    def api_put(draft_id: int, body: bytes = Depends(json_body), reviewer: Reviewer = Depends(current)) -> Any:
        draft = _draft_or_404(draft_id)
        try:
            doc = _json_object(body)
            check_rubric_shape(doc.get("rubric"), source="body", kind="request")
            rubric = Rubric.from_dict(doc["rubric"])
            if rubric.id != draft.rubric_id:
                raise ReviewError("the rubric id cannot change")
            version = store.save_edit(draft_id, rubric, opened_version=_json_version(doc), reviewer_id=reviewer.id)
        except EditConflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (KeyError, TypeError, ValueError, ReviewError, DataError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"version": version}

    @app.post("/api/rubrics/{draft_id}/decision")
    def api_decide(draft_id: int, body: bytes = Depends(json_body), reviewer: Reviewer = Depends(current)) -> Any:
        _draft_or_404(draft_id)
        try:
            doc = _json_object(body)
            decision, reason = doc.get("decision"), doc.get("reason", "")
            if not isinstance(decision, str) or not isinstance(reason, str):
                raise ReviewError("'decision' and 'reason' must be text")
            store.decide(draft_id, decision, opened_version=_json_version(doc), reviewer_id=reviewer.id,
                         reason=reason)
        except EditConflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (KeyError, TypeError, ValueError, ReviewError, DataError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"ok": True}

    @app.get("/api/adjudication")
    def api_adjudication(reviewer: Reviewer = Depends(current)) -> list[dict[str, Any]]:
        return store.adjudication_queue(reviewer.id)

    @app.post("/api/adjudication/{anon_id}/labels")
    def api_label(anon_id: str, body: bytes = Depends(json_body), reviewer: Reviewer = Depends(current)) -> Any:
        try:
            labels = _json_object(body).get("labels")
            if not isinstance(labels, dict) or len(labels) > MAX_CRITERIA:
                raise ReviewError(f"'labels' must be an object of at most {MAX_CRITERIA} criterion ids → true/false")
            store.label(anon_id, reviewer.id, labels)
        except (ReviewError, TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"ok": True}

    @app.get("/api/stats")
    def api_stats(reviewer: Reviewer = Depends(current)) -> list[dict[str, Any]]:
        return round_stats(store)

    return app
