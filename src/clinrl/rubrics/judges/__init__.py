"""Criterion judges: one interface (:class:`CriterionJudge`), several implementations.

* :class:`KeywordJudge` — embedded rule judge over ``match:`` tags (no model, no network);
* :class:`TableJudge` — labels known by construction (synthetic data, tests);
* :mod:`clinrl.rubrics.judges.rm` — the criterion-conditioned reward model (``train`` extra);
* :mod:`clinrl.rubrics.judges.llm` — an LLM judge over an OpenAI-compatible endpoint (``judge`` extra).

:func:`make_judge` builds one from a spec string (``keyword``, ``rm:DIR``, ``llm:MODEL``).
"""

from __future__ import annotations

from typing import Any

from clinrl.errors import ConfigError
from clinrl.rubrics.judges.base import CriterionJudge, TableJudge, Verdicts
from clinrl.rubrics.judges.keyword import KeywordJudge

JUDGE_SPECS = "keyword | rm:<trained reward-model dir> | llm:<model name> (endpoint from CLINRL_LLM_BASE_URL)"


def make_judge(spec: "str | CriterionJudge | None" = None, **options: Any) -> CriterionJudge:
    """Build a judge: ``keyword`` (default), ``rm:DIR`` or ``llm:MODEL``; a judge object passes through."""
    if isinstance(spec, CriterionJudge):
        return spec
    spec = spec or "keyword"
    kind, _, arg = spec.partition(":")
    if kind == "keyword":
        return KeywordJudge()
    if kind == "rm":
        if not arg:
            raise ConfigError("judge 'rm:' needs the directory of a trained reward model (clinrl train rm)")
        from clinrl.rubrics.judges.rm import CriterionRewardModel

        return CriterionRewardModel.load(arg, **options)
    if kind == "llm":
        from clinrl.rubrics.judges.llm import LLMJudge

        return LLMJudge(model=arg or "default", **options)
    raise ConfigError(f"unknown judge {spec!r}; use {JUDGE_SPECS}")


__all__ = ["CriterionJudge", "KeywordJudge", "TableJudge", "Verdicts", "make_judge", "JUDGE_SPECS"]
