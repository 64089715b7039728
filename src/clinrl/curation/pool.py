"""The instruction pool: ingest, de-duplicate, score difficulty, tag categories.

ProMedical kept instructions of difficulty 5–9 on a 0–10 scale; clinrl makes the band configuration.
An instruction whose difficulty call failed is kept out of the band and reported as *unscored* —
never silently dropped, never given a made-up difficulty.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

from clinrl.data.tables import read_local, read_rows, write_jsonl
from clinrl.llm.json_reply import reply_json
from clinrl.errors import DataError, require

CATEGORIES = ("dosing", "triage", "medication_interaction", "diagnosis", "treatment", "prevention",
              "lab_interpretation", "communication", "other")

DIFFICULTY_SYSTEM = (
    "You rate medical questions for a benchmark that trains and tests clinical AI assistants. Rate how hard "
    "it is to answer the user's message well, from 0 (trivial, one fact) to 10 (needs expert multi-step "
    "reasoning, weighing risks, and asking for missing context). Also give the best-fitting category from: "
    + ", ".join(CATEGORIES) + ". Reply with JSON only: {\"difficulty\": <integer 0-10>, \"category\": \"...\", "
    "\"why\": \"<one sentence>\"}."
)


@dataclass
class Instruction:
    """One pool entry. ``difficulty`` is ``None`` until scored (or when scoring failed)."""

    id: str
    messages: list[dict[str, str]]
    category: str | None = None
    difficulty: int | None = None
    difficulty_note: str = ""
    source: str = ""
    duplicate_of: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m.get("role") != "system")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _messages(row: dict[str, Any], source: str, row_number: int) -> list[dict[str, str]]:
    for key in ("prompt", "messages", "conversation"):
        value = row.get(key)
        if isinstance(value, list) and value and all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                                     for m in value):
            return [{"role": str(m.get("role", "user")), "content": m["content"]} for m in value]
        if isinstance(value, str) and value.strip():
            return [{"role": "user", "content": value}]
    for key in ("instruction", "question", "text"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return [{"role": "user", "content": value}]
    raise DataError("no instruction found: expected a 'prompt'/'messages' list of chat messages or an "
                    "'instruction'/'question'/'text' string", source=source, row=row_number, field="prompt")


def ingest(sources: Sequence[str], *, split: str = "train") -> list[Instruction]:
    """Read instructions from JSONL / CSV / parquet files or hub datasets (ids must be unique)."""
    pool: list[Instruction] = []
    seen: dict[str, str] = {}
    for source in sources:
        for row_number, row in read_rows(source, split=split):
            messages = _messages(row, source, row_number)
            iid = str(row.get("id") or row.get("prompt_id") or f"{Path(source).stem}-{row_number}")
            if iid in seen:
                raise DataError(f"duplicate instruction id {iid!r} (first seen in {seen[iid]})", source=source,
                                row=row_number, field="id")
            seen[iid] = source
            category = row.get("category")
            pool.append(Instruction(id=iid, messages=messages, category=str(category) if category else None,
                                    source=source))
    return pool


def embed(texts: Sequence[str], *, model_dir: str | None = None, batch_size: int = 32, device: str = "auto") -> Any:
    """L2-normalised sentence embeddings (mean pooling) from the embedded all-MiniLM-L6-v2 encoder,
    or from any Hugging Face encoder directory."""
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    if model_dir is None:
        from clinrl.rubrics.judges.backbones import minilm_dir

        model_dir = str(minilm_dir())
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    from clinrl.device import resolve_device

    model = transformers.AutoModel.from_pretrained(model_dir)  # float32: similarities near a threshold
    model.to(resolve_device(device))
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            batch = {k: v.to(model.device) for k, v in batch.items()}
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
    return torch.cat(out) if out else torch.zeros((0, 1))


def mark_near_duplicates(pool: list[Instruction], *, threshold: float = 0.92, model_dir: str | None = None,
                         embeddings: Any = None) -> int:
    """Mark each instruction whose cosine similarity to an earlier kept one is ≥ ``threshold``.

    Marked entries keep their place with ``duplicate_of`` set (nothing disappears silently); returns the
    number marked.
    """
    if not pool:
        return 0
    vectors = embeddings if embeddings is not None else embed([p.text for p in pool], model_dir=model_dir)
    kept: list[int] = []
    marked = 0
    for i, inst in enumerate(pool):
        if kept:
            sims = vectors[kept] @ vectors[i]
            best = int(sims.argmax())
            if float(sims[best]) >= threshold:
                inst.duplicate_of = pool[kept[best]].id
                marked += 1
                continue
        kept.append(i)
    return marked


def score_difficulty(pool: list[Instruction], client: Any, *, progress: bool = True) -> dict[str, int]:
    """Ask the LLM for difficulty (0–10) and category of each non-duplicate instruction.

    Returns counts: ``scored``, ``unscored`` (failed call or unreadable reply, after the client's retries).
    """
    todo = [p for p in pool if p.duplicate_of is None and p.difficulty is None]
    conversations = [[{"role": "system", "content": DIFFICULTY_SYSTEM},
                      {"role": "user", "content": f"Message to rate:\n\n{p.text}"}] for p in todo]
    results = client.chat_many(conversations, progress=progress, description="difficulty", temperature=0.0)
    counts = {"scored": 0, "unscored": 0}
    for inst, result in zip(todo, results):
        data = reply_json(result.text) if result.ok else None
        value = data.get("difficulty") if data else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
            inst.difficulty_note = f"unscored: {result.error or 'reply without a difficulty 0-10'}"
            counts["unscored"] += 1
            continue
        inst.difficulty = int(round(value))
        inst.difficulty_note = str(data.get("why") or "")[:300]
        category = data.get("category")
        if inst.category is None and isinstance(category, str):
            inst.category = category if category in CATEGORIES else "other"
        counts["scored"] += 1
    return counts


def select_band(pool: Iterable[Instruction], low: int = 5, high: int = 9) -> tuple[list[Instruction], dict[str, int]]:
    """Keep non-duplicates with ``low ≤ difficulty ≤ high``; count every reason for leaving one out."""
    kept, counts = [], {"kept": 0, "duplicate": 0, "too_easy": 0, "too_hard": 0, "unscored": 0}
    for inst in pool:
        if inst.duplicate_of is not None:
            counts["duplicate"] += 1
        elif inst.difficulty is None:
            counts["unscored"] += 1
        elif inst.difficulty < low:
            counts["too_easy"] += 1
        elif inst.difficulty > high:
            counts["too_hard"] += 1
        else:
            kept.append(inst)
            counts["kept"] += 1
    return kept, counts


def write_pool(path: str | Path, pool: Iterable[Instruction]) -> int:
    return write_jsonl(path, (inst.to_dict() for inst in pool))


def read_pool(path: str | Path) -> list[Instruction]:
    """A pool file written by :func:`write_pool`, every line checked: bad JSON, unknown fields and a missing
    ``id`` / ``messages`` are errors naming the line and the field."""
    known = {f.name for f in fields(Instruction)}
    pool = []
    for row_number, row in read_local(str(path)):
        unknown = sorted(set(row) - known)
        if unknown:
            raise DataError(f"unknown field(s) {', '.join(unknown)}; a pool line (from `clinrl rubrics pool`) has "
                            f"{', '.join(sorted(known))}", source=str(path), row=row_number, field=unknown[0])
        if not isinstance(row.get("id"), str) or not row["id"]:
            raise DataError("missing or empty id", source=str(path), row=row_number, field="id")
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise DataError("expected a non-empty list of {role, content} messages", source=str(path),
                            row=row_number, field="messages")
        pool.append(Instruction(**row))
    return pool
