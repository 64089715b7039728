"""Rubric importers and exporters: clinrl JSONL, HealthBench JSONL, Rubrics-as-Rewards style.

* **HealthBench** rows (``prompt``, ``prompt_id``, ``rubrics: [{criterion, points, tags}]``,
  ``example_tags``, ``ideal_completions_data``, ``canary``). Points and tags are kept verbatim; a
  negative-point item becomes a ``safety`` item (HealthBench: "met" = the bad behaviour happened),
  a positive one a ``proficiency`` item with weight = points ÷ Σ positive points, a zero-point one an
  ``excellence`` item. Every other field rides in ``metadata`` so :func:`to_healthbench` gives the row back.
* **Rubrics-as-Rewards** rows (``question`` / ``prompt``, ``rubric: [{title, description, weight}]``
  with integer weights, pitfalls negative): positive weights → proficiency (normalised), titles starting
  with "Optional" → excellence, negative weights (pitfalls) → safety; the title is kept as a
  ``title:…`` tag and the integer weight as ``points``.
* **clinrl** rows: :meth:`Rubric.to_dict` per line.

:func:`read_rubrics` detects the format per row; errors name the file, the line and the field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

from clinrl.rubrics.schema import (
    EXCELLENCE, PROFICIENCY, SAFETY, Rubric, RubricError, RubricItem, messages_of, string_list,
)

FORMATS = ("auto", "clinrl", "healthbench", "rar")
_HB_KEPT = ("example_tags", "ideal_completions_data", "canary")


def _prompt_messages(value: Any, *, source: str | None, row: int | None, rubric: str | None) -> tuple:
    if value is None:
        raise RubricError("prompt must be text or a list of {role, content} messages", rubric=rubric,
                          field="prompt", source=source, row=row)
    return messages_of(value, rubric=rubric, source=source, row=row)


def _rubric_id(value: Any, default: str, field: str, source: str | None, row: int | None) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RubricError(f"an id is text or an integer, got {type(value).__name__}", field=field, source=source,
                          row=row)
    return str(value)


# -- HealthBench ------------------------------------------------------------------------------
def from_healthbench(row: Mapping[str, Any], *, source: str | None = None, row_number: int | None = None,
                     index: int = 0) -> Rubric:
    """One HealthBench example → :class:`Rubric` (validated)."""
    rubric_id = _rubric_id(row.get("prompt_id"), f"healthbench-{index}", "prompt_id", source, row_number)
    raw = row.get("rubrics")
    if not isinstance(raw, list) or not raw:
        raise RubricError("needs a non-empty list of rubric items", rubric=rubric_id, field="rubrics",
                          source=source, row=row_number)
    positive = 0.0
    for i, it in enumerate(raw):
        if not isinstance(it, Mapping):
            raise RubricError("a rubric item must be an object", rubric=rubric_id, field=f"rubrics[{i}]",
                              source=source, row=row_number)
        pts = it.get("points")
        if isinstance(pts, bool) or not isinstance(pts, (int, float)):
            raise RubricError(f"points must be a number, got {pts!r}", rubric=rubric_id, item=f"c{i + 1}",
                              field=f"rubrics[{i}].points", source=source, row=row_number)
        if not isinstance(it.get("criterion"), str):
            raise RubricError("criterion must be text", rubric=rubric_id, item=f"c{i + 1}",
                              field=f"rubrics[{i}].criterion", source=source, row=row_number)
        positive += max(0.0, float(pts))
    items = []
    for i, it in enumerate(raw):
        pts = it["points"]
        dimension = SAFETY if pts < 0 else PROFICIENCY if pts > 0 else EXCELLENCE
        weight = pts / positive if dimension == PROFICIENCY else 0.0
        tags = string_list(it.get("tags"), rubric=rubric_id, item=f"c{i + 1}", field=f"rubrics[{i}].tags",
                           source=source, row=row_number)
        items.append(RubricItem(id=f"c{i + 1}", text=it["criterion"], dimension=dimension, weight=weight,
                                points=pts, tags=tags))
    ideal = row.get("ideal_completions_data") or {}
    reference = ideal.get("ideal_completion", "") if isinstance(ideal, Mapping) else ""
    if reference is not None and not isinstance(reference, str):
        raise RubricError(f"must be text, got {type(reference).__name__}", rubric=rubric_id,
                          field="ideal_completions_data.ideal_completion", source=source, row=row_number)
    metadata = {k: row[k] for k in _HB_KEPT if k in row}
    metadata["format"] = "healthbench"
    rubric = Rubric(id=rubric_id, items=tuple(items),
                    prompt=_prompt_messages(row.get("prompt"), source=source, row=row_number, rubric=rubric_id),
                    tags=string_list(row.get("example_tags"), rubric=rubric_id, field="example_tags", source=source,
                                     row=row_number), reference=reference or "",
                    metadata=metadata)
    return rubric.validate(source=source, row=row_number)


def to_healthbench(rubric: Rubric) -> dict[str, Any]:
    """:class:`Rubric` → a HealthBench row (exact inverse of :func:`from_healthbench` on its fields)."""
    row: dict[str, Any] = {
        "prompt": [dict(m) for m in rubric.prompt],
        "prompt_id": rubric.id,
        "rubrics": [{"criterion": it.text, "points": it.points, "tags": list(it.tags)} for it in rubric.items],
        "example_tags": list(rubric.tags),
    }
    ideal = rubric.metadata.get("ideal_completions_data")
    if ideal is None and rubric.reference:
        ideal = {"ideal_completion": rubric.reference}
    row["ideal_completions_data"] = ideal
    if "canary" in rubric.metadata:
        row["canary"] = rubric.metadata["canary"]
    return row


# -- Rubrics-as-Rewards ------------------------------------------------------------------------
def from_rar(row: Mapping[str, Any], *, source: str | None = None, row_number: int | None = None,
             index: int = 0) -> Rubric:
    """One Rubrics-as-Rewards style row → :class:`Rubric` (validated)."""
    rubric_id = _rubric_id(row.get("id") or row.get("prompt_id"), f"rar-{index}", "id", source, row_number)
    raw = row.get("rubric")
    if not isinstance(raw, list) or not raw:
        raise RubricError("needs a non-empty 'rubric' list", rubric=rubric_id, field="rubric", source=source,
                          row=row_number)
    parsed = []
    for i, it in enumerate(raw):
        where = dict(rubric=rubric_id, item=f"c{i + 1}", source=source, row=row_number)
        if not isinstance(it, Mapping):
            raise RubricError("a rubric item must be an object", field=f"rubric[{i}]", **where)
        weight = it.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or float(weight) != int(weight) or weight == 0:
            raise RubricError(f"weight must be a non-zero integer, got {weight!r}", field=f"rubric[{i}].weight",
                              **where)
        title, text = str(it.get("title") or ""), it.get("description")
        if not isinstance(text, str) or not text.strip():
            raise RubricError("description must be non-empty text", field=f"rubric[{i}].description", **where)
        parsed.append((title, text, int(weight)))
    positive = sum(w for title, _, w in parsed if w > 0 and not title.lower().startswith("optional"))
    items = []
    for i, (title, text, w) in enumerate(parsed):
        if w < 0:
            dimension, weight = SAFETY, 0.0
        elif title.lower().startswith("optional") or positive == 0:
            dimension, weight = EXCELLENCE, 0.0
        else:
            dimension, weight = PROFICIENCY, w / positive
        tags = (f"title:{title}",) if title else ()
        items.append(RubricItem(id=f"c{i + 1}", text=text, dimension=dimension, weight=weight, points=float(w),
                                tags=tags))
    prompt = row.get("question", row.get("prompt", ()))
    if row.get("reference_answer") is not None and not isinstance(row["reference_answer"], str):
        raise RubricError(f"must be text, got {type(row['reference_answer']).__name__}", rubric=rubric_id,
                          field="reference_answer", source=source, row=row_number)
    rubric = Rubric(id=rubric_id, items=tuple(items),
                    prompt=_prompt_messages(prompt, source=source, row=row_number, rubric=rubric_id) if prompt else (),
                    reference=str(row.get("reference_answer") or ""), metadata={"format": "rar"})
    return rubric.validate(source=source, row=row_number)


# -- files --------------------------------------------------------------------------------------
def detect_format(row: Mapping[str, Any]) -> str:
    if "rubrics" in row:
        return "healthbench"
    if "rubric" in row:
        return "rar"
    if "items" in row:
        return "clinrl"
    raise RubricError("unknown rubric format: expected 'items' (clinrl), 'rubrics' (HealthBench) or "
                      "'rubric' (Rubrics-as-Rewards)")


def parse_row(row: Mapping[str, Any], fmt: str = "auto", *, source: str | None = None,
              row_number: int | None = None, index: int = 0) -> Rubric:
    if fmt not in FORMATS:
        raise RubricError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "auto":
        try:
            fmt = detect_format(row)
        except RubricError as exc:
            raise RubricError(str(exc), source=source, row=row_number) from None
    if fmt == "healthbench":
        return from_healthbench(row, source=source, row_number=row_number, index=index)
    if fmt == "rar":
        return from_rar(row, source=source, row_number=row_number, index=index)
    return Rubric.from_dict(row, source=source, row=row_number)


def read_rubrics(path: str | Path, fmt: str = "auto", *, limit: int | None = None) -> list[Rubric]:
    """Read a JSONL (one rubric per line) or JSON (a list) file of rubrics in any supported format."""
    from clinrl.data.tables import not_utf8

    path = Path(path)
    if not path.exists():
        raise RubricError("file not found", source=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (an editor's UTF-8) is skipped
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    rows: list[tuple[int, Any]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RubricError(f"invalid JSON ({exc.msg})", source=str(path), row=exc.lineno) from None
        except RecursionError:
            raise RubricError("JSON nested too deeply", source=str(path)) from None
        rows = list(enumerate(data if isinstance(data, list) else [data], start=1))
    else:
        for n, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit in strings
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise RubricError(f"invalid JSON ({exc.msg})", source=str(path), row=n) from None
            except RecursionError:
                raise RubricError("JSON nested too deeply", source=str(path), row=n) from None
    out: list[Rubric] = []
    first_row: dict[str, int] = {}
    for index, (n, row) in enumerate(rows):
        if limit is not None and len(out) >= limit:
            break
        if not isinstance(row, Mapping):
            raise RubricError("not a JSON object", source=str(path), row=n)
        rubric = parse_row(row, fmt, source=str(path), row_number=n, index=index)
        if rubric.id in first_row:  # ids key samples, reviews and labels: a repeat would overwrite one
            raise RubricError(f"duplicate rubric id (first on row {first_row[rubric.id]})", rubric=rubric.id,
                              field="id", source=str(path), row=n)
        first_row[rubric.id] = n
        out.append(rubric)
    return out


def write_rubrics(path: str | Path, rubrics: Iterable[Rubric], fmt: str = "clinrl") -> int:
    """Write rubrics as JSONL in ``clinrl`` or ``healthbench`` format; returns the number written."""
    if fmt not in ("clinrl", "healthbench"):
        raise RubricError(f"cannot export format {fmt!r}; choose clinrl or healthbench")
    from clinrl.data.tables import write_jsonl

    return write_jsonl(path, (rubric.to_dict() if fmt == "clinrl" else to_healthbench(rubric) for rubric in rubrics))
