"""Drive the review app as a browser would: log in through the login form (with its CSRF token) and post
a page's form back with every field exactly as the browser would send it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode

TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def token_in(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def login(client, user: str, password: str | None = None, *, follow_redirects: bool = False):
    """GET the login page (sets the pre-login cookie, gives the form token), then post the form."""
    page = client.get("/login")
    return client.post("/login", data={"username": user, "password": password or f"{user}-password",
                                       "csrf_token": token_in(page.text)}, follow_redirects=follow_redirects)


def csrf(client, path: str = "/") -> str:
    """The form token of the logged-in session, read from one of its pages."""
    return token_in(client.get(path).text)


class _FormReader(HTMLParser):
    """Collects the successful controls of one form, the way a browser builds its form data set."""

    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea: list | None = None
        self._select: str | None = None
        self._first: str | None = None     # a select without a selected option submits its first option
        self._selected: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.inside = self.form_id is None or a.get("id") == self.form_id
            return
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self._select, self._first, self._selected = a["name"], None, None
        elif tag == "option" and self._select is not None:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self._selected = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.fields.append((name, text[1:] if text.startswith("\n") else text))  # the parser drops one LF
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._selected if self._selected is not None else self._first
            self.fields.append((self._select, chosen or ""))
            self._select = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data


def form_fields(html: str, form_id: str | None = None) -> list[tuple[str, str]]:
    """The name/value pairs a browser would submit from the page's form, untouched."""
    # a browser's HTML input stream turns CR LF and CR into LF, and NUL into U+FFFD, before parsing
    reader = _FormReader(form_id)
    reader.feed(html.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd"))
    return reader.fields


def encode(fields: list[tuple[str, str]]) -> bytes:
    """application/x-www-form-urlencoded as a browser sends it (line breaks as CR LF)."""
    return urlencode([(k, v.replace("\n", "\r\n")) for k, v in fields]).encode()


def post_form(client, path: str, fields: list[tuple[str, str]], *, headers=None, **kwargs):
    return client.post(path, content=encode(fields),
                       headers={"content-type": "application/x-www-form-urlencoded", **(headers or {})}, **kwargs)


def resubmit(client, path: str, action: str = "save", **kwargs):
    """Open ``path``, then press the button ``action`` without changing anything."""
    fields = form_fields(client.get(path).text, "rubric-form") + [("action", action)]
    return post_form(client, path, fields, follow_redirects=False, **kwargs)
