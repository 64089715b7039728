"""Preference pairs for the criterion-conditioned reward model.

Candidate responses (from several models, or a file) are judged criterion by criterion; two responses
to the same instruction form a pair when the lexicographic order (fewer safety violations, then higher
S1, then higher S2) prefers one. Each pair is expanded into one training instance per criterion on
which the two responses differ (ProMedical's explicit criteria injection: K criteria → K instances),
oriented by that criterion. A candidate with any unjudged criterion is left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping, Sequence

from clinrl.data.tables import read_local
from clinrl.errors import DataError
from clinrl.rubrics.judges.base import CriterionJudge
from clinrl.rubrics.schema import Rubric
from clinrl.rubrics.scoring import RubricScores, compare, differing_criteria, rubric_scores


@dataclass(frozen=True)
class Candidate:
    rubric_id: str
    model: str
    response: str


@dataclass(frozen=True)
class JudgedCandidate:
    candidate: Candidate
    labels: tuple[bool | None, ...]
    scores: RubricScores | None


def read_candidates(path: str, rubric_ids: set[str]) -> list[Candidate]:
    """``{"rubric_id", "model", "response"}`` per line; unknown rubric ids are errors, not skips."""
    out = []
    for row_number, row in read_local(path):
        for field in ("rubric_id", "model", "response"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise DataError("missing or empty text", source=path, row=row_number, field=field)
        if row["rubric_id"] not in rubric_ids:
            raise DataError(f"unknown rubric id {row['rubric_id']!r}", source=path, row=row_number, field="rubric_id")
        out.append(Candidate(row["rubric_id"], row["model"], row["response"]))
    return out


def generate_candidates(rubrics: Sequence[Rubric], clients: Mapping[str, Any], *, max_tokens: int = 1024,
                        progress: bool = True) -> tuple[list[Candidate], list[dict[str, str]]]:
    """One response per rubric from each model; failed generations are returned separately."""
    candidates, failures = [], []
    for model, client in clients.items():
        results = client.chat_many([list(r.prompt) for r in rubrics], progress=progress,
                                   description=f"responses from {model}", max_tokens=max_tokens, temperature=0.7)
        for rubric, result in zip(rubrics, results):
            if result.ok and result.text and result.text.strip():
                candidates.append(Candidate(rubric.id, model, result.text))
            else:
                failures.append({"rubric_id": rubric.id, "model": model, "error": result.error or "empty reply"})
    return candidates, failures


def generate_local_candidates(rubrics: Sequence[Rubric], spec: str, *, max_new_tokens: int = 512,
                              temperature: float = 0.7, seed: int = 0) -> list[Candidate]:
    """One response per rubric from a local model (hub id, directory, .gguf or an embedded name)."""
    from clinrl.evaluation.backends import HFBackend
    from clinrl.models import load_model_and_tokenizer
    from clinrl.prompting import render_prompt

    model, tokenizer = load_model_and_tokenizer(spec)
    backend = HFBackend(model, tokenizer)
    prompts = [render_prompt(tokenizer, list(r.prompt)) for r in rubrics]
    outputs = backend.generate(prompts, n=1, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    return [Candidate(r.id, spec, gens[0].text) for r, gens in zip(rubrics, outputs) if gens and gens[0].text.strip()]


def judge_candidates(rubrics: Mapping[str, Rubric], candidates: Sequence[Candidate],
                     judge: CriterionJudge) -> list[JudgedCandidate]:
    requests = [(rubrics[c.rubric_id].instruction, c.response, rubrics[c.rubric_id].items) for c in candidates]
    verdicts = judge.judge_many(requests)
    out = []
    for candidate, labels in zip(candidates, verdicts):
        rubric = rubrics[candidate.rubric_id]
        out.append(JudgedCandidate(candidate, tuple(labels), rubric_scores(rubric, list(labels))))
    return out


def build_pairs(rubrics: Mapping[str, Rubric], judged: Sequence[JudgedCandidate]) -> dict[str, Any]:
    """Lexicographic preference pairs and their criterion-conditioned expansion, with counts."""
    by_rubric: dict[str, list[JudgedCandidate]] = {}
    unscored = 0
    for j in judged:
        if j.scores is None:
            unscored += 1
            continue
        by_rubric.setdefault(j.candidate.rubric_id, []).append(j)
    pairs, instances, ties = [], [], 0
    for rubric_id, group in by_rubric.items():
        rubric = rubrics[rubric_id]
        for a, b in combinations(group, 2):
            order = compare(a.scores, b.scores)
            if order == 0:
                ties += 1
                continue
            chosen, rejected = (a, b) if order > 0 else (b, a)
            pairs.append({"rubric_id": rubric_id, "instruction": rubric.instruction,
                          "chosen": chosen.candidate.response, "rejected": rejected.candidate.response,
                          "chosen_model": chosen.candidate.model, "rejected_model": rejected.candidate.model,
                          "chosen_scores": vars(chosen.scores), "rejected_scores": vars(rejected.scores)})
            for item, a_better in differing_criteria(rubric.items, a.labels, b.labels):
                win, lose = (a, b) if a_better else (b, a)
                instances.append({"rubric_id": rubric_id, "instruction": rubric.instruction,
                                  "criterion": item.to_dict(), "chosen": win.candidate.response,
                                  "rejected": lose.candidate.response})
    return {"pairs": pairs, "instances": instances,
            "counts": {"candidates": len(judged), "unscored_candidates": unscored, "pairs": len(pairs),
                       "ties": ties, "criterion_instances": len(instances)}}
