"""Reading rubric uploads (JSONL) with errors that name the line and the field."""

from __future__ import annotations

import json
from typing import Any

from clinrl.errors import DataError
from clinrl.rubrics.schema import Rubric

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
RUBRIC_FIELDS = frozenset({"id", "prompt", "tags", "reference", "items", "metadata"})
ITEM_FIELDS = frozenset({"id", "text", "dimension", "weight", "points", "tags"})


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
        if not isinstance(row, dict):
            raise DataError("a line must be a JSON object", source=source, row=line_no)
        unknown = sorted(set(row) - RUBRIC_FIELDS)
        if unknown:
            raise DataError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(RUBRIC_FIELDS))}",
                            source=source, row=line_no, field=unknown[0])
        for i, item in enumerate(row.get("items") or []):
            if isinstance(item, dict):
                bad = sorted(set(item) - ITEM_FIELDS)
                if bad:
                    raise DataError(f"unknown item field(s) {', '.join(bad)}", source=source, row=line_no,
                                    field=f"items[{i}].{bad[0]}")
        rubric = Rubric.from_dict(row, source=source, row=line_no)
        if rubric.id in seen:
            raise DataError(f"duplicate rubric id {rubric.id!r}", source=source, row=line_no, field="id")
        seen.add(rubric.id)
        rubrics.append(rubric)
    if not rubrics:
        raise DataError("no rubrics in the file", source=source)
    return rubrics
