"""Reading rubric uploads (JSONL) with errors that name the line and the field.

The same checks guard ``clinrl review import`` and the JSON API, so a wrong-typed field is a clear
error everywhere, never a traceback or a 500.
"""

from __future__ import annotations

import json
from typing import Any

from clinrl.errors import DataError
from clinrl.review.limits import MAX_CRITERIA, MAX_UPLOAD_BYTES
from clinrl.rubrics.schema import Rubric

__all__ = ["MAX_UPLOAD_BYTES", "check_rubric_shape", "parse_rubric_jsonl"]

RUBRIC_FIELDS = frozenset({"id", "prompt", "tags", "reference", "items", "metadata"})
ITEM_FIELDS = frozenset({"id", "text", "dimension", "weight", "points", "tags"})


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _string_list(value: Any, where: dict[str, Any], field: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise DataError(f"must be a list of strings, got {_kind(value)}", field=field, **where)
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            raise DataError(f"must be a list of strings; element {i} is {_kind(tag)}", field=field, **where)


def check_rubric_shape(row: Any, *, source: str = "upload", row_no: int | str | None = None,
                       kind: str = "file") -> None:
    """Refuse a rubric object whose fields have the wrong JSON types, naming the field.

    The rubric schema then checks the values (weights, dimensions, points); this catches what would otherwise
    reach it as the wrong type (``items: 5``, ``tags: 5``, ``metadata: "x"``, ``prompt: ["a", "b"]``).
    """
    where: dict[str, Any] = {"source": source, "row": row_no, "kind": kind}
    if not isinstance(row, dict):
        raise DataError(f"a rubric must be a JSON object, got {_kind(row)}", **where)
    unknown = sorted(set(row) - RUBRIC_FIELDS)
    if unknown:
        raise DataError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(RUBRIC_FIELDS))}",
                        field=unknown[0], **where)
    rubric_id = row.get("id")
    if rubric_id is not None and (isinstance(rubric_id, bool) or not isinstance(rubric_id, (str, int))):
        raise DataError(f"must be text, got {_kind(rubric_id)}", field="id", **where)
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        for i, message in enumerate(prompt):
            if not isinstance(message, dict):
                raise DataError(f"a prompt message must be an object with role and content, got {_kind(message)}",
                                field=f"prompt[{i}]", **where)
    elif prompt is not None and not isinstance(prompt, str):
        raise DataError(f"must be text or a list of messages, got {_kind(prompt)}", field="prompt", **where)
    _string_list(row.get("tags"), where, "tags")
    if row.get("reference") is not None and not isinstance(row["reference"], str):
        raise DataError(f"must be text, got {_kind(row['reference'])}", field="reference", **where)
    if row.get("metadata") is not None and not isinstance(row["metadata"], dict):
        raise DataError(f"must be an object, got {_kind(row['metadata'])}", field="metadata", **where)
    items = row.get("items")
    if not isinstance(items, list):
        raise DataError(f"must be a list of criteria, got {_kind(items)}", field="items", **where)
    if len(items) > MAX_CRITERIA:
        raise DataError(f"{len(items)} criteria; the review app takes at most {MAX_CRITERIA} per rubric",
                        field="items", **where)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(f"a criterion must be an object, got {_kind(item)}", field=f"items[{i}]", **where)
        bad = sorted(set(item) - ITEM_FIELDS)
        if bad:
            raise DataError(f"unknown item field(s) {', '.join(bad)}", field=f"items[{i}].{bad[0]}", **where)
        if isinstance(item.get("id"), (bool, list, dict, float)):
            raise DataError(f"must be text, got {_kind(item['id'])}", field=f"items[{i}].id", **where)
        for name in ("text", "dimension"):
            if item.get(name) is not None and not isinstance(item[name], str):
                raise DataError(f"must be text, got {_kind(item[name])}", field=f"items[{i}].{name}", **where)
        _string_list(item.get("tags"), where, f"items[{i}].tags")


def parse_rubric_jsonl(data: bytes, *, source: str = "upload") -> list[Rubric]:
    """Rubrics in clinrl's format, one JSON object per line; everything is checked before anything is kept."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", source=source) from exc
    rubrics: list[Rubric] = []
    seen: set[str] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", source=source, row=line_no) from exc
        except RecursionError:
            raise DataError("JSON nested too deeply", source=source, row=line_no) from None
        if not isinstance(row, dict):
            raise DataError("a line must be a JSON object", source=source, row=line_no)
        check_rubric_shape(row, source=source, row_no=line_no)
        rubric = Rubric.from_dict(row, source=source, row=line_no)
        if rubric.id in seen:
            raise DataError(f"duplicate rubric id {rubric.id!r}", source=source, row=line_no, field="id")
        seen.add(rubric.id)
        rubrics.append(rubric)
    if not rubrics:
        raise DataError("no rubrics in the file", source=source)
    return rubrics
