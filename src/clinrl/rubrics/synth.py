"""Seeded synthetic rubric data whose per-criterion labels are known by construction.

Each example is a medical instruction (``dosing``, red-flag ``triage`` or medication ``interaction``)
with a ProMedical rubric (three proficiency, two excellence and two safety items) and graded responses
assembled from fragments that each declare the criteria they meet:

* ``complete`` — every proficiency item, at least one bonus, no violation (also the rubric's reference);
* ``incomplete`` — some proficiency items missing, no violation;
* ``unsafe`` — one violation (e.g. a dose above the maximum, advice to wait instead of calling an
  ambulance) plus a random part of the rest;
* ``unsafe_thorough`` — one violation on top of everything else the violation leaves possible: the
  response a weighted-sum reward prefers and the safety veto rejects.

Example ``i`` of seed ``s`` uses ``random.Random(f"{s}:{i}")``: the same (seed, index) always gives the
same example, and different seeds give independent streams (seeds are stored in the metadata).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any, Iterable, Sequence

from clinrl.errors import ConfigError
from clinrl.rubrics.schema import EXCELLENCE, PROFICIENCY, SAFETY, Rubric, RubricItem
from clinrl.rubrics.scoring import RubricScores, compare, differing_criteria, rubric_scores
from clinrl.rubrics.synth_scenarios import CATEGORIES

RESPONSE_KINDS = ("complete", "incomplete", "unsafe", "unsafe_thorough")
SYSTEM_PROMPT = ("You are a careful medical assistant. Answer the user's question accurately, completely and "
                 "safely, and say when they need urgent care.")


@dataclass(frozen=True)
class GradedResponse:
    """A response with its per-item labels (rubric order; HealthBench meaning of "met")."""

    text: str
    kind: str
    labels: tuple[bool, ...]


@dataclass(frozen=True)
class SyntheticExample:
    rubric: Rubric
    responses: tuple[GradedResponse, ...]
    category: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def scores(self) -> list[RubricScores]:
        return [rubric_scores(self.rubric, r.labels) for r in self.responses]  # type: ignore[misc]


def _item_tags(spec: dict) -> tuple[str, ...]:
    tags = list(spec.get("tags", ()))
    tags += [f"match:{m}" for m in spec.get("match", ())]
    if "dose_above" in spec:
        tags.append(f"dose_above:{spec['dose_above']}")
    return tuple(tags)


def _match_pattern(text: str) -> str:
    return re.escape(text).replace("\\ ", r"\s+").replace(" ", r"\s+")


#: split → hash buckets (of 10) of the (entity, symptom, question template) combinations it may use
SPLIT_BUCKETS = {"train": range(0, 7), "validation": range(7, 8), "test": range(8, 10)}
#: openings that vary the wording of an instruction without changing what it asks
OPENINGS = ("", "Hi. ", "Quick question. ", "Please help: ", "Sorry to bother you. ", "Hello, ")


@lru_cache(maxsize=None)
def _combos(category: str, split: str | None) -> list[tuple[int, str | None, int]]:
    """(entity index, symptom, template index) combinations of a category that belong to ``split``.

    Each combination hashes into one of 10 buckets, so train / validation / test never ask the same
    question about the same drug, presentation or drug pair in the same words."""
    if split is not None and split not in SPLIT_BUCKETS:
        raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLIT_BUCKETS)}")
    entities, questions, _ = CATEGORIES[category]
    out = []
    for e, entity in enumerate(entities):
        for symptom in entity.get("symptoms", [None]):
            for q in range(len(questions)):
                bucket = hashlib.sha256(f"{category}|{e}|{symptom}|{q}".encode()).digest()[0] % 10
                if split is None or bucket in SPLIT_BUCKETS[split]:
                    out.append((e, symptom, q))
    if not out:
        raise ConfigError(f"category {category!r} has no question combination in split {split!r}")
    return out


def build_example(category: str, seed: int, index: int, split: str | None = None) -> SyntheticExample:
    """Example ``index`` of the stream ``seed`` for one category (restricted to ``split``'s combinations)."""
    if category not in CATEGORIES:
        raise ConfigError(f"unknown synthetic rubric category {category!r}; choose from {', '.join(CATEGORIES)}")
    entities, questions, make_items = CATEGORIES[category]
    rng = random.Random(f"{seed}:{category}:{index}:{split}")
    e, symptom, q = rng.choice(_combos(category, split))
    entity = dict(entities[e])
    if symptom is not None:
        entity["symptom"] = symptom
    question = rng.choice(OPENINGS) + questions[q].format(**entity)
    specs = make_items(entity)
    for spec in specs:
        if spec["id"] == "dose":
            spec["match"] = [_match_pattern(entity["single"])]
    items = tuple(RubricItem(id=s["id"], text=s["text"], dimension=s["dimension"], weight=s.get("weight", 0.0),
                             points=float(s["points"]), tags=_item_tags(s)) for s in specs)
    ids = [s["id"] for s in specs]
    by_id = {s["id"]: s for s in specs}
    prof = [s["id"] for s in specs if s["dimension"] == PROFICIENCY]
    bonus = [s["id"] for s in specs if s["dimension"] == EXCELLENCE]
    vetoes = [s["id"] for s in specs if s["dimension"] == SAFETY]

    def compose(chosen: Iterable[str]) -> tuple[str, tuple[bool, ...]]:
        chosen = [i for i in ids if i in set(chosen)]       # rubric order, then shuffle the middle
        met: set[str] = set()
        parts = []
        for item_id in chosen:
            parts.append(rng.choice(by_id[item_id]["fragments"]))
            met.add(item_id)
            met.update(by_id[item_id].get("meets", ()))
        if len(parts) > 2:
            middle = parts[1:]
            rng.shuffle(middle)
            parts = parts[:1] + middle
        text = " ".join(parts) if parts else "I'm not sure. You could look it up online."
        return text, tuple(i in met for i in ids)

    def some(pool: Sequence[str], lo: int, hi: int) -> list[str]:
        return rng.sample(list(pool), rng.randint(lo, max(lo, min(hi, len(pool)))))

    responses = []
    text, labels = compose(prof + some(bonus, 1, len(bonus)))
    responses.append(GradedResponse(text, "complete", labels))
    text, labels = compose(some(prof, 0, len(prof) - 1) + some(bonus, 0, len(bonus)))
    responses.append(GradedResponse(text, "incomplete", labels))
    veto = rng.choice(vetoes)
    allowed = [p for p in prof if p not in by_id[veto].get("excludes", ())]
    text, labels = compose([veto] + some(allowed, 0, len(allowed) - 1) + some(bonus, 0, 1))
    responses.append(GradedResponse(text, "unsafe", labels))
    veto = rng.choice(vetoes)
    allowed = [p for p in prof if p not in by_id[veto].get("excludes", ())]
    text, labels = compose([veto] + allowed + bonus)
    responses.append(GradedResponse(text, "unsafe_thorough", labels))

    rubric_id = f"syn-{category}-{split or 'all'}-{seed}-{index}"
    rubric = Rubric(id=rubric_id, items=items,
                    prompt=({"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}),
                    tags=(f"category:{category}",), reference=responses[0].text,
                    metadata={"source": "synthetic", "seed": seed, "index": index, "category": category,
                              "split": split})
    rubric.validate()
    return SyntheticExample(rubric=rubric, responses=tuple(responses), category=category,
                            metadata={"seed": seed, "index": index})


def generate(n: int, *, seed: int = 0, categories: Sequence[str] | None = None,
             split: str | None = None) -> list[SyntheticExample]:
    """``n`` examples cycling through the categories (``dosing``, ``triage``, ``interaction``).

    With ``split`` (train / validation / test) only that split's question combinations are used, so
    splits are disjoint by construction; ``None`` draws from all of them."""
    cats = list(categories or CATEGORIES)
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    return [build_example(cats[i % len(cats)], seed, i // len(cats), split) for i in range(n)]


# -- preference data ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CriterionPair:
    """One explicit-criteria-injection instance: ``chosen`` is better than ``rejected`` on ``item``."""

    instruction: str
    item: RubricItem
    chosen: str
    rejected: str


@dataclass(frozen=True)
class PlainPair:
    """A criterion-free preference pair (lexicographic order of the full rubric verdicts)."""

    instruction: str
    chosen: str
    rejected: str


def preference_pairs(examples: Sequence[SyntheticExample]) -> list[tuple[SyntheticExample, int, int]]:
    """(example, i, j) for every response pair with a strict lexicographic preference, i preferred."""
    out = []
    for ex in examples:
        scores = ex.scores()
        for i, j in combinations(range(len(ex.responses)), 2):
            c = compare(scores[i], scores[j])
            if c > 0:
                out.append((ex, i, j))
            elif c < 0:
                out.append((ex, j, i))
    return out


def criterion_pairs(examples: Sequence[SyntheticExample]) -> list[CriterionPair]:
    """Expand every preference pair into one instance per criterion on which the two responses differ
    (K differing criteria → K instances), oriented by that criterion."""
    out = []
    for ex, i, j in preference_pairs(examples):
        a, b = ex.responses[i], ex.responses[j]
        for item, a_better in differing_criteria(ex.rubric.items, a.labels, b.labels):
            chosen, rejected = (a.text, b.text) if a_better else (b.text, a.text)
            out.append(CriterionPair(ex.rubric.instruction, item, chosen, rejected))
    return out


def plain_pairs(examples: Sequence[SyntheticExample]) -> list[PlainPair]:
    return [PlainPair(ex.rubric.instruction, ex.responses[i].text, ex.responses[j].text)
            for ex, i, j in preference_pairs(examples)]


# -- labelled examples on disk (for `clinrl train rm --data` / `clinrl eval rm --data`) -------------
def write_labelled(path: Any, examples: Sequence[SyntheticExample]) -> int:
    """JSONL, one example per line: ``{"rubric": {...}, "responses": [{"text", "kind", "labels"}]}``."""
    from clinrl.data.tables import write_jsonl

    return write_jsonl(path, ({"rubric": ex.rubric.to_dict(), "category": ex.category,
                               "responses": [{"text": r.text, "kind": r.kind, "labels": list(r.labels)}
                                             for r in ex.responses]} for ex in examples))


def read_labelled(path: Any) -> list[SyntheticExample]:
    """Read :func:`write_labelled` files (also physician-labelled responses in the same shape)."""
    from clinrl.data.tables import read_local
    from clinrl.errors import DataError

    out = []
    for n, row in read_local(str(path)):
        if not isinstance(row.get("responses"), list):
            raise DataError("needs 'rubric' and a 'responses' list", source=str(path), row=n, field="responses")
        rubric = Rubric.from_dict(row.get("rubric"), source=str(path), row=n)
        responses = []
        for k, resp in enumerate(row["responses"]):
            labels = resp.get("labels") if isinstance(resp, dict) else None
            if (not isinstance(resp.get("text") if isinstance(resp, dict) else None, str)
                    or not isinstance(labels, list) or len(labels) != len(rubric.items)
                    or not all(isinstance(v, bool) for v in labels)):
                raise DataError(f"needs text and {len(rubric.items)} true/false labels (rubric order)",
                                source=str(path), row=n, field=f"responses[{k}]")
            responses.append(GradedResponse(resp["text"], str(resp.get("kind", "")), tuple(labels)))
        category = str(row.get("category") or rubric.metadata.get("category") or "")
        out.append(SyntheticExample(rubric=rubric, responses=tuple(responses), category=category))
    return out


def read_pairs(path: Any) -> list[CriterionPair] | list[PlainPair]:
    """Preference rows from ``clinrl pairs build``: ``instances.jsonl`` rows (``instruction``, ``criterion``,
    ``chosen``, ``rejected``) → :class:`CriterionPair`; ``pairs.jsonl`` rows (no criterion) → :class:`PlainPair`."""
    from clinrl.data.tables import read_local
    from clinrl.errors import DataError

    out: list = []
    for n, row in read_local(str(path)):
        for field in ("instruction", "chosen", "rejected"):
            if not isinstance(row.get(field), str):
                raise DataError("missing text", source=str(path), row=n, field=field)
        if "criterion" in row:
            item = RubricItem.from_dict(row["criterion"], source=str(path), row=n)
            if not item.text.strip() or item.dimension not in (PROFICIENCY, EXCELLENCE, SAFETY):
                raise DataError("criterion needs text and a known dimension", source=str(path), row=n,
                                field="criterion")
            out.append(CriterionPair(row["instruction"], item, row["chosen"], row["rejected"]))
        else:
            out.append(PlainPair(row["instruction"], row["chosen"], row["rejected"]))
    if len({type(p) for p in out}) > 1:
        raise DataError("mixes criterion instances and plain pairs", source=str(path))
    return out
