"""The rubric edit form, read back exactly and within bounds.

What the page renders must come back unchanged when the reviewer changes nothing, so that Save or
Approve on an untouched rubric never edits it:

* numbers (weights, points) are rendered in their shortest exact form (``0.3333333333333333``, not
  ``0.333``), so the posted text parses back to the very same float; a reviewer may also type a
  fraction such as ``1/3``. The sum of the proficiency weights is then checked with the schema's
  tolerance (:data:`clinrl.rubrics.schema.WEIGHT_SUM_TOLERANCE`);
* tags travel as ASCII-only JSON in one hidden field, so commas, quotes, newlines or any other
  character in a tag survive the HTML round trip;
* an item's id and text are kept exactly as stored when what comes back is what the browser makes of
  them (newlines as CR LF, the text trimmed).

Every count is bounded before it drives a loop: ``item_count`` by the size of the rubric being
edited, the number of fields by :func:`clinrl.review.limits.max_form_fields`.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from typing import Any, Mapping
from urllib.parse import parse_qsl

from starlette.datastructures import FormData

from clinrl.review.limits import MAX_CRITERIA, NEW_ROWS
from clinrl.review.store import ReviewError
from clinrl.rubrics.schema import PROFICIENCY, Rubric, RubricError, RubricItem

_INTEGER = re.compile(r"[+-]?\d+")
_FRACTION = re.compile(r"\s*([+-]?\d{1,12})\s*/\s*(\d{1,12})\s*")


def parse_form(body: bytes, *, max_fields: int) -> FormData:
    """An urlencoded body as form data; more than ``max_fields`` fields is an error, not work."""
    try:
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                          max_num_fields=max_fields)
    except ValueError as exc:
        raise ReviewError(f"the form has more than {max_fields} fields") from exc
    return FormData(pairs)


def form_int(form: Mapping[str, Any], name: str, *, low: int, high: int, default: int | None = None) -> int:
    """A whole-number form field within [low, high], or a :class:`ReviewError` naming the field."""
    raw = form.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is not None:
            return default
        raise ReviewError(f"form field {name!r} is missing")
    text = raw.strip() if isinstance(raw, str) else ""
    if not _INTEGER.fullmatch(text):
        raise ReviewError(f"form field {name!r} must be a whole number, got {text[:40]!r}")
    if len(text.lstrip("+-")) > 19:  # never converted: int() of a huge digit string is itself slow
        raise ReviewError(f"form field {name!r} must be between {low} and {high}, got a "
                          f"{len(text.lstrip('+-'))}-digit number")
    value = int(text)
    if not low <= value <= high:
        raise ReviewError(f"form field {name!r} must be between {low} and {high}, got {value}")
    return value


def format_number(value: float) -> str:
    """The shortest text that parses back to exactly ``value`` (``5`` for 5.0, ``0.1`` for 0.1)."""
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def parse_number(text: Any, *, field: str, rubric: str, item: str) -> float:
    """A weight or points field: a decimal (``0.25``) or a fraction (``1/3``)."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        return 0.0
    match = _FRACTION.fullmatch(raw)
    try:
        if match:
            value = float(Fraction(int(match.group(1)), int(match.group(2))))
        elif len(raw) <= 40:
            value = float(raw)
        else:
            raise ValueError("too long")
    except (ValueError, ZeroDivisionError, OverflowError):
        raise RubricError(f"{field} must be a number such as 0.25 or a fraction such as 1/3, got {raw[:40]!r}",
                          rubric=rubric, item=item, field=field) from None
    if not math.isfinite(value):
        raise RubricError(f"{field} must be a finite number, got {raw[:40]!r}", rubric=rubric, item=item, field=field)
    return value


def encode_tags(tags: Any) -> str:
    """Tags as ASCII-only JSON: every character of every tag survives an HTML attribute and a form post."""
    return json.dumps(list(tags), ensure_ascii=True)


def decode_tags(text: str, *, rubric: str, item: str) -> tuple[str, ...]:
    try:
        tags = json.loads(text)
    except (ValueError, RecursionError):
        tags = None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RubricError("tags must be posted as a JSON list of strings (reload the page)", rubric=rubric,
                          item=item, field="tags")
    return tuple(tags)


def _as_posted(text: str) -> str:
    """What an HTML form gives back for a stored value: line breaks as LF after CR LF normalisation, NUL
    replaced by the HTML parser."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


def rubric_from_form(form: Mapping[str, Any], rubric: Rubric) -> Rubric:
    """Rebuild ``rubric`` from the editor form (``item-<n>-<field>`` inputs), exactly where untouched."""
    count = form_int(form, "item_count", low=0, high=len(rubric.items) + NEW_ROWS)
    stored = {_as_posted(it.id): it for it in rubric.items}
    items: list[RubricItem] = []
    for n in range(count):
        if form.get(f"item-{n}-delete"):
            continue
        raw_id, raw_text = form.get(f"item-{n}-id") or "", form.get(f"item-{n}-text") or ""
        if not isinstance(raw_id, str) or not isinstance(raw_text, str):
            raise ReviewError(f"row {n + 1}: id and text must be text fields")
        before = stored.get(_as_posted(raw_id))
        text = _as_posted(raw_text).strip()
        if before is not None and text == _as_posted(before.text).strip():
            text = before.text  # untouched: keep the stored text byte for byte
        item_id = before.id if before is not None else raw_id.strip()
        if not text and not item_id:
            continue  # an untouched blank row
        label = item_id or f"row {n + 1}"
        dimension = form.get(f"item-{n}-dimension") or ""
        weight = parse_number(form.get(f"item-{n}-weight"), field="weight", rubric=rubric.id, item=label)
        points = parse_number(form.get(f"item-{n}-points"), field="points", rubric=rubric.id, item=label)
        raw_tags = form.get(f"item-{n}-tags")
        if raw_tags is None or raw_tags == "":
            tags = before.tags if before is not None and raw_tags is None else ()
        else:
            tags = decode_tags(raw_tags, rubric=rubric.id, item=label)
        items.append(RubricItem(id=item_id or f"new-{n + 1}", text=text, dimension=str(dimension),
                                weight=weight if dimension == PROFICIENCY else 0.0, points=points, tags=tags))
    if len(items) > MAX_CRITERIA:
        raise RubricError(f"{len(items)} criteria; the review app takes at most {MAX_CRITERIA} per rubric",
                          rubric=rubric.id, field="items")
    return Rubric(id=rubric.id, items=tuple(items), prompt=rubric.prompt, tags=rubric.tags,
                  reference=rubric.reference, metadata=rubric.metadata)
