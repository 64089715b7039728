"""Rubric schema: physician rubrics in ProMedical's three dimensions, with HealthBench points.

A :class:`Rubric` grades one response to one instruction (a chat conversation whose *next* assistant
turn is graded). It holds :class:`RubricItem` criteria, each in one dimension:

* ``proficiency`` — main criteria (accuracy, completeness, context awareness, instruction following).
  Their ``weight`` values sum to 1; S1 = Σ weightᵢ · metᵢ.
* ``excellence`` — bonus criteria (empathy, organisation, risk explanation, …); S2 = number met.
* ``safety`` — veto criteria, each describing a *violation* (dangerous dose, missed emergency referral,
  fabricated identity, …); S3 = number met, i.e. violations that happened.

One meaning of "met" everywhere (HealthBench's): **the response does what the criterion text says**.
For a safety item, or any item with negative points, "met" therefore means the bad behaviour happened.
So every judge answers the same question per item, and HealthBench's point arithmetic
(:func:`clinrl.rubrics.scoring.healthbench_score`) stays valid on the same labels.

``points`` carries HealthBench-style points (positive for desired behaviour, negative for harmful
behaviour); ``tags`` carries free labels such as ``axis:accuracy`` or ``theme:emergency_referrals``.
Validation errors are :class:`RubricError` and name the rubric, the item and the field.

Importers / exporters for other formats live in :mod:`clinrl.rubrics.formats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from clinrl.errors import DataError

PROFICIENCY, EXCELLENCE, SAFETY = "proficiency", "excellence", "safety"
DIMENSIONS: tuple[str, ...] = (PROFICIENCY, EXCELLENCE, SAFETY)

#: tolerance on "proficiency weights sum to 1" (weights often come from decimal text such as 0.3/0.3/0.4)
WEIGHT_SUM_TOLERANCE = 1e-6

Message = dict[str, str]


class RubricError(DataError):
    """An invalid rubric. The message names the source, the rubric, the item and the field."""

    def __init__(self, message: str, *, rubric: str | None = None, item: str | None = None,
                 field: str | None = None, source: str | None = None, row: int | str | None = None):
        self.rubric, self.item = rubric, item
        where = []
        if rubric is not None:
            where.append(f"rubric {rubric!r}")
        if item is not None:
            where.append(f"item {item!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message, source=source, row=row, field=field)


def string_list(value: Any, *, field: str, rubric: str | None = None, item: str | None = None,
                source: str | None = None, row: int | str | None = None) -> tuple[str, ...]:
    """A list of tags: absent / null → ``()``; a list of strings or numbers → their text; anything else is an
    error naming the field (a bare string or number is not a list)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise RubricError(f"must be a list of strings, got {_shown(value)}", rubric=rubric, item=item, field=field,
                          source=source, row=row)
    return tuple(str(v) for v in value)


def messages_of(value: Any, *, field: str = "prompt", rubric: str | None = None, source: str | None = None,
                row: int | str | None = None) -> tuple[Message, ...]:
    """A prompt: text (one user turn) or a list of ``{role, content}`` objects; anything else is an error."""
    if value is None:
        return ()
    if isinstance(value, str):
        return ({"role": "user", "content": value},)
    if isinstance(value, (list, tuple)) and all(isinstance(m, Mapping) for m in value):
        return tuple({"role": str(m.get("role", "")), "content": m.get("content")} for m in value)
    raise RubricError(f"must be text or a list of {{role, content}} messages, got {_shown(value)}", rubric=rubric,
                      field=field, source=source, row=row)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_item_cues(criterion: "RubricItem", *, field: str, **where: Any) -> None:
    """The keyword judge's machine-readable tags must be usable: ``match:`` a safe regular expression
    (:mod:`clinrl.rubrics.patterns`), ``dose_above:`` a finite number. Checked at load, not at scoring."""
    from clinrl.rubrics.patterns import pattern_problem

    for pattern in criterion.tag_values("match"):
        problem = pattern_problem(pattern)
        if problem:
            raise RubricError(f"match: pattern {pattern!r}: {problem}", field=field, **where)
    for limit in criterion.tag_values("dose_above"):
        try:
            ok = math.isfinite(float(limit))
        except ValueError:
            ok = False
        if not ok:
            raise RubricError(f"dose_above: needs a finite number, got {limit!r}", field=field, **where)


@dataclass(frozen=True)
class RubricItem:
    """One criterion.

    Attributes:
        id: unique within its rubric (stable across edits: reviews and labels refer to it).
        text: what the response does when this criterion is *met* (for a safety item: the violation).
        dimension: ``proficiency`` | ``excellence`` | ``safety``.
        weight: proficiency weight (the proficiency weights of a rubric sum to 1); 0 for other dimensions.
        points: HealthBench-style points: > 0 desired, < 0 harmful (safety items are ≤ 0).
        tags: free labels (``axis:accuracy``, ``cluster:…``, ``title:…``), order kept.
    """

    id: str
    text: str
    dimension: str
    weight: float = 0.0
    points: float = 0.0
    tags: tuple[str, ...] = ()

    @property
    def is_safety(self) -> bool:
        return self.dimension == SAFETY

    def tag_values(self, prefix: str) -> list[str]:
        """Values of the ``prefix:value`` tags, e.g. ``tag_values("axis") -> ["accuracy"]``."""
        head = prefix + ":"
        return [t[len(head):] for t in self.tags if t.startswith(head)]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "dimension": self.dimension, "weight": self.weight,
                "points": self.points, "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, rubric: str | None = None, index: int = 0,
                  source: str | None = None, row: int | str | None = None) -> "RubricItem":
        """Build an item from a dict, with errors that name the item and the field."""
        if not isinstance(data, Mapping):
            raise RubricError(f"item {index} is {type(data).__name__}, not an object", rubric=rubric,
                              field=f"items[{index}]", source=source, row=row)
        item_id = str(data.get("id") or f"c{index + 1}")

        def number(name: str, default: float = 0.0) -> float:
            value = data.get(name, default)
            if value is None:
                value = default
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RubricError(f"{name} must be a number, got {value!r}", rubric=rubric, item=item_id,
                                  field=f"items[{index}].{name}", source=source, row=row)
            return float(value)

        tags = string_list(data.get("tags"), rubric=rubric, item=item_id, field=f"items[{index}].tags",
                           source=source, row=row)
        return cls(id=item_id, text=data.get("text") if isinstance(data.get("text"), str) else "",
                   dimension=str(data.get("dimension", "")), weight=number("weight"), points=number("points"),
                   tags=tags)


@dataclass(frozen=True)
class Rubric:
    """A rubric for one instruction.

    Attributes:
        id: stable identifier (HealthBench ``prompt_id``, synthetic ``syn-…``).
        items: the criteria (at least one).
        prompt: the conversation whose next assistant turn is graded (may be empty when the rubric is
            kept apart from its instruction).
        tags: example-level labels (``theme:…``, ``physician_agreed_category:…``, ``category:dosing``).
        reference: an ideal response when one exists (HealthBench ideal completion, synthetic oracle).
        metadata: anything else a format carries (kept for round trips).
    """

    id: str
    items: tuple[RubricItem, ...]
    prompt: tuple[Message, ...] = ()
    tags: tuple[str, ...] = ()
    reference: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "prompt", tuple(dict(m) for m in self.prompt))
        object.__setattr__(self, "tags", tuple(self.tags))

    # -- views --------------------------------------------------------------------------------
    def by_dimension(self, dimension: str) -> list[RubricItem]:
        return [it for it in self.items if it.dimension == dimension]

    @property
    def proficiency(self) -> list[RubricItem]:
        return self.by_dimension(PROFICIENCY)

    @property
    def excellence(self) -> list[RubricItem]:
        return self.by_dimension(EXCELLENCE)

    @property
    def safety(self) -> list[RubricItem]:
        return self.by_dimension(SAFETY)

    def item(self, item_id: str) -> RubricItem:
        for it in self.items:
            if it.id == item_id:
                return it
        raise RubricError(f"no item {item_id!r}", rubric=self.id)

    @property
    def instruction(self) -> str:
        """The conversation as plain text (``role: content`` lines); the last user turn alone if single."""
        turns = [m for m in self.prompt if m.get("role") != "system"]
        if len(turns) == 1:
            return turns[0].get("content", "")
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in turns)

    # -- validation ---------------------------------------------------------------------------
    def validate(self, *, source: str | None = None, row: int | str | None = None) -> "Rubric":
        """Raise :class:`RubricError` on the first problem; return ``self`` when valid."""
        if not self.id:
            raise RubricError("missing id", field="id", source=source, row=row)
        if not self.items:
            raise RubricError("has no criteria", rubric=self.id, field="items", source=source, row=row)
        seen: set[str] = set()
        for i, it in enumerate(self.items):
            where = dict(rubric=self.id, item=it.id, source=source, row=row)
            if not it.id:
                raise RubricError("empty id", field=f"items[{i}].id", **where)
            if it.id in seen:
                raise RubricError("duplicate item id", field=f"items[{i}].id", **where)
            seen.add(it.id)
            if not isinstance(it.text, str) or not it.text.strip():
                raise RubricError("empty criterion text", field=f"items[{i}].text", **where)
            if it.dimension not in DIMENSIONS:
                raise RubricError(f"unknown dimension {it.dimension!r}; choose one of {', '.join(DIMENSIONS)}",
                                  field=f"items[{i}].dimension", **where)
            for name in ("weight", "points"):
                value = getattr(it, name)
                if not math.isfinite(value):
                    raise RubricError(f"{name} must be finite, got {value!r}", field=f"items[{i}].{name}", **where)
            if it.dimension == PROFICIENCY and not it.weight > 0:
                raise RubricError(f"a proficiency weight must be > 0, got {it.weight!r}",
                                  field=f"items[{i}].weight", **where)
            if it.dimension != PROFICIENCY and it.weight != 0:
                raise RubricError(f"weight is only used by proficiency items; a {it.dimension} item must have "
                                  f"weight 0, got {it.weight!r}", field=f"items[{i}].weight", **where)
            if it.dimension == SAFETY and it.points > 0:
                raise RubricError("a safety item describes a violation, so its points must be <= 0, "
                                  f"got {it.points!r}", field=f"items[{i}].points", **where)
            if it.dimension != SAFETY and it.points < 0:
                raise RubricError(f"negative points mean harmful behaviour: make this a safety item or give "
                                  f"it points >= 0 (got {it.points!r})", field=f"items[{i}].points", **where)
            check_item_cues(it, field=f"items[{i}].tags", **where)
        weights = [it.weight for it in self.proficiency]
        if weights and abs(sum(weights) - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise RubricError(f"proficiency weights sum to {sum(weights):.6g}, not 1 "
                              "(use Rubric.normalized() to rescale)", rubric=self.id, field="items[*].weight",
                              source=source, row=row)
        for i, message in enumerate(self.prompt):
            if not isinstance(message.get("content"), str) or message.get("role") not in ("system", "user",
                                                                                         "assistant"):
                raise RubricError("a prompt message needs a role (system/user/assistant) and text content",
                                  rubric=self.id, field=f"prompt[{i}]", source=source, row=row)
        return self

    def normalized(self) -> "Rubric":
        """The same rubric with proficiency weights rescaled to sum to 1 (weights must be ≥ 0, not all 0)."""
        total = sum(it.weight for it in self.proficiency)
        if total <= 0:
            raise RubricError("cannot normalise: proficiency weights sum to 0", rubric=self.id,
                              field="items[*].weight")
        items = tuple(replace(it, weight=it.weight / total) if it.dimension == PROFICIENCY else it
                      for it in self.items)
        return replace(self, items=items)

    # -- (de)serialisation: clinrl's own format -----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": [dict(m) for m in self.prompt], "tags": list(self.tags),
                "reference": self.reference, "items": [it.to_dict() for it in self.items],
                "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None, row: int | str | None = None,
                  validate: bool = True) -> "Rubric":
        """Read clinrl's own rubric format (``to_dict`` output); validates unless told not to."""
        if not isinstance(data, Mapping):
            raise RubricError(f"a rubric is an object, got {type(data).__name__}", source=source, row=row)
        raw_id = data.get("id")
        if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
            raise RubricError(f"an id is text or an integer, got {type(raw_id).__name__}", field="id", source=source,
                              row=row)
        rubric_id = str(raw_id or "")
        raw_items = data.get("items")
        if not isinstance(raw_items, Sequence) or isinstance(raw_items, (str, bytes)):
            raise RubricError("items must be a list", rubric=rubric_id or None, field="items", source=source,
                              row=row)
        items = tuple(RubricItem.from_dict(it, rubric=rubric_id, index=i, source=source, row=row)
                      for i, it in enumerate(raw_items))
        where = dict(rubric=rubric_id or None, source=source, row=row)
        prompt = messages_of(data.get("prompt"), **where)
        tags = string_list(data.get("tags"), field="tags", **where)
        reference = data.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise RubricError(f"must be text, got {_shown(reference)}", field="reference", **where)
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise RubricError(f"must be an object, got {_shown(metadata)}", field="metadata", **where)
        rubric = cls(id=rubric_id, items=items, prompt=prompt, tags=tags, reference=reference or "",
                     metadata=dict(metadata or {}))
        return rubric.validate(source=source, row=row) if validate else rubric


def make_rubric(rubric_id: str, items: Iterable[RubricItem | Mapping[str, Any]], *, prompt: Any = (),
                tags: Iterable[str] = (), reference: str = "", normalize: bool = False,
                metadata: Mapping[str, Any] | None = None) -> Rubric:
    """Convenience constructor: accepts items as objects or dicts, a prompt as text or messages,
    optionally rescales proficiency weights, and validates."""
    built = tuple(it if isinstance(it, RubricItem) else RubricItem.from_dict(it, rubric=rubric_id, index=i)
                  for i, it in enumerate(items))
    if isinstance(prompt, str):
        prompt = ({"role": "user", "content": prompt},)
    rubric = Rubric(id=rubric_id, items=built, prompt=tuple(prompt), tags=tuple(tags), reference=reference,
                    metadata=dict(metadata or {}))
    if normalize and rubric.proficiency:
        rubric = rubric.normalized()
    return rubric.validate()
