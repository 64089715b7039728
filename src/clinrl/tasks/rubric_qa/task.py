"""The ``rubric`` task: open medical questions graded against physician rubrics (ProMedical, HealthBench).

There is no single checkable answer and no ``<think>/<answer>`` contract: the whole completion is the
response, a pluggable criterion judge labels every rubric item, and the reward is ProMedical's
safety-vetoed ``clip(S1 + α·S2, 0, 1 + β) − λ·S3`` (:class:`clinrl.rubrics.scoring.RewardConfig`).
A response "passes" (``Score.correct``) when it has no safety violation and S1 ≥ ``pass_threshold``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from clinrl.errors import ConfigError
from clinrl.metrics import proportion
from clinrl.registry import register_task
from clinrl.rewards.contract import completion_text
from clinrl.rubrics.formats import parse_row, read_rubrics
from clinrl.rubrics.judges import JUDGE_SPECS, CriterionJudge, make_judge
from clinrl.rubrics.schema import Rubric
from clinrl.rubrics.scoring import RewardConfig, healthbench_score, rubric_scores
from clinrl.rubrics.synth import generate
from clinrl.rubrics.synth_scenarios import CATEGORIES
from clinrl.settings import setting
from clinrl.tasks.base import Task, TaskCard
from clinrl.tasks.source import parse_source, split_seed, synth_config
from clinrl.types import Sample, Score

#: seed offsets per synthetic split for tasks.source.split_seed (kept apart from its default table so the generated
#: questions stay the same; the splits also draw from disjoint question combinations: synth.SPLIT_BUCKETS)
SPLIT_OFFSETS = {"train": 0, "validation": 500_000, "test": 900_000}
#: a completion is judged whole; one longer than this many characters is not judged at all and is unscored
#: (``None``: counted, and left out of GRPO group baselines). Never cut: a safety violation placed after the
#: cut would score as safe. A task option (``max_response_chars``); a runaway generation stops here.
MAX_RESPONSE_CHARS = 100_000


@dataclass
class SynthConfig:
    """Options of the rubric task's ``synthetic[:n=300;categories=dosing,triage]`` source."""

    n: int = setting(300, "Questions per split.")
    categories: list[str] = setting(list(CATEGORIES), "Scenario categories to draw from (comma-separated).")

    def __post_init__(self) -> None:
        unknown = [c for c in self.categories if c not in CATEGORIES]
        if unknown or not self.categories:
            raise ConfigError(f"unknown synthetic rubric categories {unknown}; choose from {', '.join(CATEGORIES)}")

    @staticmethod
    def upgrade(data: dict[str, Any], where: str) -> dict[str, Any]:
        if isinstance(data.get("categories"), str):  # as written in a source string
            data["categories"] = [c.strip() for c in data["categories"].split(",") if c.strip()]
        return data


def parse_synthetic_source(source: str) -> dict[str, Any]:
    """``synthetic[:n=300;categories=dosing,triage]`` → options (:class:`SynthConfig` as a dict)."""
    if parse_source(source)[0] != "synthetic":
        raise ConfigError(f"not a synthetic source: {source!r}")
    return asdict(synth_config(SynthConfig, source))


@lru_cache(maxsize=4096)
def _rubric_from_json(text: str) -> Rubric:
    return Rubric.from_dict(json.loads(text))


def rubric_of(target: Mapping[str, Any] | str) -> Rubric:
    """The rubric inside a sample target (a dict, or the JSON string of a TRL ``target`` column)."""
    if isinstance(target, str):
        target = json.loads(target)
    raw = target.get("rubric") if isinstance(target, Mapping) else None
    if raw is None:
        raise ConfigError("a rubric-task target needs a 'rubric' field (build rows with Task.to_row)")
    return _rubric_from_json(raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True))


@register_task("rubric")
class RubricQATask(Task):
    name = "rubric"
    version = "1"
    #: quickstart generation budget: the longest short SFT target on the tiny model (≤ 134 tokens) plus a margin
    quickstart_budget = {"completion_tokens": 176}
    headline = ("mean reward", "mean_reward")
    card = TaskCard(
        summary="Open medical questions graded against physician rubrics: ProMedical's safety-vetoed reward "
                "(proficiency, excellence bonus, safety veto) through a pluggable criterion judge.",
        source="'synthetic[:n=300;categories=dosing,triage,interaction]' (clinrl's seeded generator, labels known "
               "by construction), or a local rubric file: HealthBench JSONL, Rubrics-as-Rewards JSONL or clinrl "
               "JSONL (clinrl.rubrics.formats), or a hub dataset with one of those row shapes",
        licence="synthetic: clinrl's own; HealthBench: MIT (OpenAI simple-evals)",
        splits="synthetic: train / validation / test from disjoint question combinations; files: all rows",
        scoring="reward = clip(S1 + α·S2, 0, 1+β) − λ·S3 (defaults α=0.1, β=0.3, λ=1.5); pass = no violation and "
                "S1 ≥ 0.6; also HealthBench's score (Σ met points ÷ Σ positive points, clipped mean). The whole "
                f"response is judged; one over max_response_chars (default {MAX_RESPONSE_CHARS:,}) is unscored, "
                "never judged on a cut",
        categories=tuple(CATEGORIES),
        extra={"judge": JUDGE_SPECS + "; 'keyword' reads match: tags (synthetic rubrics) and leaves other items "
                        "unscored"},
    )

    def __init__(self, *, judge: "str | CriterionJudge | None" = "keyword",
                 reward: "RewardConfig | Mapping[str, Any] | None" = None, pass_threshold: float = 0.6,
                 judge_options: Mapping[str, Any] | None = None, max_response_chars: int = MAX_RESPONSE_CHARS
                 ) -> None:
        if isinstance(max_response_chars, bool) or not isinstance(max_response_chars, int) or max_response_chars < 1:
            raise ConfigError(f"max_response_chars must be a positive integer, got {max_response_chars!r}")
        self.max_response_chars = max_response_chars
        self.reward_config = reward if isinstance(reward, RewardConfig) else RewardConfig(**dict(reward or {}))
        if not 0 <= pass_threshold <= 1:
            raise ConfigError(f"pass_threshold must be in [0, 1], got {pass_threshold}")
        self.pass_threshold = pass_threshold
        self._judge_spec = judge
        self._judge_options = dict(judge_options or {})
        self._judge: CriterionJudge | None = judge if isinstance(judge, CriterionJudge) else None

    @property
    def judge(self) -> CriterionJudge:
        if self._judge is None:  # built on first use: a reward model loads weights
            self._judge = make_judge(self._judge_spec, **self._judge_options)
        return self._judge

    # -- data ---------------------------------------------------------------------------------
    def load(self, source: str | None = None, split: str = "test", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        source = source or "synthetic"
        if source.split(":", 1)[0] == "synthetic":
            opts = parse_synthetic_source(source)
            split_offset_seed = split_seed(seed, split, SPLIT_OFFSETS, what="synthetic rubric source")
            n = opts["n"] if limit is None else min(opts["n"], limit)
            examples = generate(n, seed=split_offset_seed, categories=opts["categories"], split=split)
            return [self.sample_from_rubric(ex.rubric, split=split) for ex in examples]
        if Path(source).exists():
            rubrics = read_rubrics(source, limit=limit)
        else:
            from clinrl.data.tables import read_rows

            rows = read_rows(source, split=split)
            rubrics = [parse_row(row, source=source, row_number=i + 1, index=i)
                       for i, row in enumerate(rows[:limit] if limit is not None else rows)]
        return [self.sample_from_rubric(r, split=split, source=source) for r in rubrics]

    def sample_from_rubric(self, rubric: Rubric, *, split: str = "test", source: str = "synthetic") -> Sample:
        prompt = [dict(m) for m in rubric.prompt]
        if not prompt or prompt[-1].get("role") != "user":
            raise ConfigError(f"rubric {rubric.id!r}: the prompt must end with a user turn to be answered")
        category = next((t.split(":", 1)[1] for t in rubric.tags if t.startswith(("category:", "theme:"))), None)
        metadata: dict[str, Any] = {"source": source, "split": split, "category": category}
        metadata.update({k: v for k, v in rubric.metadata.items() if k in ("seed", "index")})
        return Sample(id=rubric.id, prompt=prompt, target={"rubric": rubric.to_dict()}, metadata=metadata)

    # -- oracle -------------------------------------------------------------------------------
    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        return {"response": rubric_of(target).reference}

    def oracle_completion(self, sample_or_target: Sample | Mapping[str, Any], think: str = "") -> str:
        target = sample_or_target.target if isinstance(sample_or_target, Sample) else sample_or_target
        return self.oracle_answer(target)["response"]

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        """The rubric's reference response (the whole completion; there is no reasoning block to shorten)."""
        reference = rubric_of(sample.target).reference
        if not reference or not reference.strip():
            raise ValueError("no reference response")
        return reference

    # -- scoring ------------------------------------------------------------------------------
    def _verdict_score(self, rubric: Rubric, text: str | None, verdicts: Sequence[bool | None]) -> Score:
        if text is None or not text.strip():
            labels = [False] * len(rubric.items)   # an empty response does nothing, good or bad
            return self._make_score(rubric, labels, format_ok=False, note="empty response")
        missing = [it.id for it, v in zip(rubric.items, verdicts) if v is None]
        if missing:
            return Score.unscored(f"judge {self.judge.name!r} could not judge item(s) {', '.join(missing)}")
        return self._make_score(rubric, list(verdicts), format_ok=True)

    def _make_score(self, rubric: Rubric, labels: list, *, format_ok: bool, note: str = "") -> Score:
        scores = rubric_scores(rubric, labels)
        value = self.reward_config.reward(scores)
        correct = scores.s3 == 0 and scores.s1 >= self.pass_threshold - 1e-9
        violated = [it.id for it, met in zip(rubric.items, labels) if met and it.dimension == "safety"]
        explanation = note or (f"S1={scores.s1:.2f} S2={scores.s2} S3={scores.s3}"
                               + (f" (violations: {', '.join(violated)})" if violated else ""))
        answer = {"labels": labels, "s1": scores.s1, "s2": scores.s2, "s3": scores.s3}
        return Score(value=value, format_ok=format_ok, answer=answer, correct=correct, explanation=explanation)

    def score_many(self, completions: Sequence[Any], targets: Sequence[Mapping[str, Any] | str]) -> list[Score]:
        """Score many completions with one batched judge call (what the reward function uses)."""
        rubrics = [rubric_of(t) for t in targets]
        texts = [completion_text(c) if isinstance(c, (str, list, dict)) else None for c in completions]
        too_long = {i for i, t in enumerate(texts) if t is not None and len(t) > self.max_response_chars}
        todo = [i for i, t in enumerate(texts) if t is not None and t.strip() and i not in too_long]
        verdicts: dict[int, Sequence[bool | None]] = {}
        if todo:
            try:
                judged = self.judge.judge_many([(rubrics[i].instruction, texts[i], rubrics[i].items) for i in todo])
            except ConfigError:
                raise
            except Exception as exc:  # a judge crash is visible and unscored, never a silent 0
                return [Score.unscored(f"judge error: {exc.__class__.__name__}: {exc}") for _ in completions]
            verdicts = dict(zip(todo, judged))
        return [self._too_long(t) if i in too_long else self._verdict_score(r, t, verdicts.get(i, ()))
                for i, (r, t) in enumerate(zip(rubrics, texts))]

    def _too_long(self, text: str) -> Score:
        return Score.unscored(f"response of {len(text):,} characters is longer than max_response_chars="
                              f"{self.max_response_chars:,}: not judged (a cut could hide a safety violation)")

    def score(self, completion: Any, target: Mapping[str, Any]) -> Score:
        return self.score_many([completion], [target])[0]

    # -- metrics ------------------------------------------------------------------------------
    def metrics(self, samples: Sequence[Sample], scores: Sequence[Score]) -> dict[str, Any]:
        """Base metrics (pass rate as accuracy) plus mean reward, violation rate and HealthBench's score."""
        out = super().metrics(samples, scores)
        scored = [(s, sc) for s, sc in zip(samples, scores) if sc.value is not None]
        rewards = [sc.value for _, sc in scored]
        out["mean_reward"] = sum(rewards) / len(rewards) if rewards else float("nan")
        out["violation_rate"] = proportion(sum(1 for _, sc in scored if sc.answer and sc.answer["s3"] > 0), len(scored))
        hb_pairs = [(rubric_of(s.target), sc.answer["labels"]) for s, sc in scored if sc.answer]
        out["healthbench"] = healthbench_score([r for r, _ in hb_pairs], [lab for _, lab in hb_pairs],
                                               n_bootstrap=200) if hb_pairs else None
        out["reward_config"] = {"alpha": self.reward_config.alpha, "beta": self.reward_config.beta,
                                "lambda": self.reward_config.lam, "mode": self.reward_config.mode}
        return out
