"""The embedded rule judge: evaluates machine-checkable cues attached to rubric items as tags.

Tags it reads on an item:

* ``match:<regex>`` — met when the (case-insensitive) pattern occurs in the response; several
  ``match:`` tags are alternatives;
* ``dose_above:<number>`` — met when the response names an amount in mg greater than the number
  (thousands separators are ignored: "8,000 mg" reads as 8000).

An item with neither tag gets ``None`` (this judge cannot read it), so a rubric written for people
(HealthBench) stays unscored here instead of scoring 0 — use the reward model or the LLM judge for it.
The synthetic rubrics (:mod:`clinrl.rubrics.synth`) carry these tags, which is what lets
``clinrl quickstart --task rubric`` and the tests run GRPO on rubric rewards with no model and no network.
It is a lexical check: paraphrases it does not anticipate are missed, and negated mentions ("never take
8000 mg") still count — fine for wiring and smoke runs, not a substitute for a trained judge.

The whole response is read (a violation at the end counts as much as one at the start). Patterns are
checked when a rubric is loaded and every search runs with a time limit (:mod:`clinrl.rubrics.patterns`): an
item whose search runs out of time gets ``None`` (unjudged), never "not met".
"""

from __future__ import annotations

import re
from typing import Sequence

from clinrl.errors import ConfigError
from clinrl.rubrics import patterns
from clinrl.rubrics.judges.base import CriterionJudge, Verdicts
from clinrl.rubrics.schema import RubricItem

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_MG_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:mg|milligrams?)\b", re.IGNORECASE)


def has_cues(item: RubricItem) -> bool:
    return any(t.startswith(("match:", "dose_above:")) for t in item.tags)


class KeywordJudge(CriterionJudge):
    """Rule judge over ``match:`` / ``dose_above:`` item tags (no model, no network, deterministic)."""

    name = "keyword"

    def judge(self, instruction: str, response: str, items: Sequence[RubricItem]) -> Verdicts:
        if not isinstance(response, str):
            return [None] * len(items)
        text = _THOUSANDS.sub("", response)
        amounts: list[float] | None = None
        out: Verdicts = []
        for item in items:
            cues = item.tag_values("match")
            limits = item.tag_values("dose_above")
            if not cues and not limits:
                out.append(None)
                continue
            met: bool | None = False
            for cue in cues:
                try:
                    found = patterns.search(cue, text)
                except patterns.PatternError as exc:
                    raise ConfigError(f"rubric item {item.id!r}: {exc}") from None
                if found:
                    met = True
                    break
                if found is None:
                    met = None
            if met is None:  # a search ran out of time: no verdict for this item, never "not met"
                out.append(None)
                continue
            if not met and limits:
                if amounts is None:
                    amounts = [float(m.group(1)) for m in _MG_AMOUNT.finditer(text)]
                try:
                    met = any(a > float(limit) for limit in limits for a in amounts)
                except ValueError:
                    raise ConfigError(f"rubric item {item.id!r}: dose_above needs a number, got {limits!r}") from None
            out.append(bool(met))
        return out
