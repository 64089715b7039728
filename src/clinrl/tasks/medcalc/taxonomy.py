"""The failure taxonomy of a wrong MedCalc answer: EHRMIND's missing vs misapplied knowledge.

The report shows it through :meth:`clinrl.tasks.medcalc.MedCalcTask.failure_taxonomy`. Rules, applied in
this order (first match wins):

1. ``format_failure`` — the completion breaks the output contract (no readable answer).
2. ``misapplied_knowledge`` (*arithmetic*) — the reasoning writes an equation ``a ∘ b … = c`` whose
   left side evaluates (safely, never ``eval``) to something other than ``c`` (> 1% and > 0.01 off).
3. Recompute with the values the completion states (needs :mod:`clinrl.calculators` and at least one
   stated input it can read, e.g. ``creatinine 1.4 mg/dL``; inputs it does not state come from the
   row's ``Relevant Entities``): when the calculator, fed those values, reproduces the model's answer,
   the formula was right and the values were wrong → ``misapplied_knowledge`` (*extraction*); when it
   does not, the model's rule is not the calculator's → ``missing_knowledge`` (*wrong formula*).
4. Without a recomputation, when the reasoning quotes every numeric input of the row (the values in
   ``Relevant Entities``) and still lands on a wrong answer with no arithmetic slip, the values were
   right and the rule was not → ``missing_knowledge`` (*wrong formula*).
5. Otherwise: the reasoning names the calculator (an eponym such as Cockcroft-Gault, CHA2DS2-VASc,
   Bazett) or at least half of its required inputs — or, for calculators with a fixed constant at
   their core (the date rules: 280 days, 14 days), that constant — → ``misapplied_knowledge``
   (*knows the rule*); otherwise → ``missing_knowledge`` (*no formula or criteria*).

The rules' agreement with hand labels is measured in ``tests/test_eval_diagnostics.py``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

from clinrl.rewards.contract import THINK_CLOSE
from clinrl.rewards.numbers import safe_arithmetic

CLASSES = ("correct", "format_failure", "missing_knowledge", "misapplied_knowledge", "unscored")

_NUMBER = r"-?\d+(?:\.\d+)?"
_EXPR_CHARS = r"0-9.\s+\-*/×÷()x"
_EQUATION_RE = re.compile(r"(?<![" + _EXPR_CHARS + r"])([" + _EXPR_CHARS + r"]*\d[" + _EXPR_CHARS + r"]*)=\s*("
                          + _NUMBER + r")")
_OPERATOR_RE = re.compile(r"\d[\s)]*[-+*/×÷x][\s(]*-?\d")
#: eponyms in calculator names: naming one is evidence the model knows which rule applies
EPONYMS = frozenset("cockcroft gault mdrd ckd-epi bazett fridericia framingham hodges rautaharju wells centor mcisaac "
                    "caprini glasgow blatchford child pugh curb-65 has-bled heart perc feverpain psi meld charlson "
                    "apache sofa padua gcs sirs naegele".split())
#: calculators whose knowledge is a constant rather than named inputs (MedCalc-Bench ids)
KNOWLEDGE_CUES = {13: ("280", "40 weeks", "naegele"), 68: ("14 days", "two weeks", "2 weeks", "ovulat"),
                  69: ("weeks", "days since", "difference")}
_STOPWORDS = frozenset("the for and of score equation equations calculator criteria rule index with from to in a an "
                       "by risk rate".split())
#: extra spellings of calculator input names that notes and models use
_ALIASES = {"sbp": ("systolic",), "dbp": ("diastolic",), "bun": ("blood urea nitrogen", "urea"),
            "heart_rate": ("hr", "pulse"), "qt": ("qt interval",), "inr": ("inr",),
            "respiratory_rate": ("rr",), "systolic_bp": ("systolic",), "diastolic_bp": ("diastolic",)}


def think_text(completion: str) -> str:
    """The reasoning part: everything before ``</think>`` (the whole text when it is missing)."""
    cut = completion.find(THINK_CLOSE)
    return completion if cut < 0 else completion[:cut]


def arithmetic_slips(text: str) -> list[str]:
    """Equations in ``text`` whose left side does not evaluate to the stated right side."""
    slips = []
    for m in _EQUATION_RE.finditer(text[:20000]):
        lhs = m.group(1).strip()
        if not _OPERATOR_RE.search(lhs):
            continue
        value = _evaluate(lhs)
        stated = float(m.group(2))
        if value is not None and abs(value - stated) > max(0.01, 0.01 * abs(value)):
            slips.append(f"{lhs} = {m.group(2)} (is {value:.4g})")
    return slips


def _evaluate(expression: str) -> float | None:
    text = re.sub(r"(?<=[\d)])\s*x\s*(?=[\d(])", "*", expression).replace("×", "*").replace("÷", "/")
    text = text.strip()
    # a sentence may open a parenthesis the equation does not close (or the reverse): trim until balanced
    while text.count("(") > text.count(")") and text.startswith("("):
        text = text[1:].strip()
    while text.count(")") > text.count("(") and text.endswith(")"):
        text = text[:-1].strip()
    if "x" in text:
        return None
    return safe_arithmetic(text)


def _calculator(calculator_id: int) -> Any:
    try:
        from clinrl.calculators import get_calculator
    except ImportError:  # the calculator library is optional for the taxonomy
        return None
    try:
        return get_calculator(calculator_id)
    except Exception:
        return None


def _labels(field: Any) -> list[str]:
    names = {field.name.replace("_", " ")}
    names.update(k.lower() for k in getattr(field, "entity_keys", ()) if len(k) < 40)
    names.update(_ALIASES.get(field.name, ()))
    return sorted((n for n in names if n), key=len, reverse=True)


def stated_values(text: str, calculator: Any) -> dict[str, tuple[float, str]]:
    """Numeric inputs the reasoning states: ``label [is|=|:|of] number [unit]`` (first mention wins)."""
    found: dict[str, tuple[float, str]] = {}
    lowered = text.lower()
    for field in calculator.fields:
        if field.kind not in ("quantity", "int", "float"):
            continue
        for label in _labels(field):
            pattern = re.compile(r"\b" + re.escape(label) + r"\b(?:\s*\([^)]{0,15}\))?\s*(?:[:=]|is|was|of|at)?\s*"
                                 r"(?:approximately\s+|about\s+|~\s*)?(" + _NUMBER + r")(?:\s*([a-zµ%][a-zµ/%^·0-9]+))?")
            m = pattern.search(lowered)
            if m:
                found[field.name] = (float(m.group(1)), (m.group(2) or "").strip())
                break
    return found


def _recompute(calculator: Any, stated: Mapping[str, tuple[float, str]], entities: Any) -> Any:
    inputs: dict[str, Any] = {}
    if isinstance(entities, Mapping):
        try:
            inputs.update(calculator.from_entities(entities))
        except Exception:
            pass
    for name, (value, unit) in stated.items():
        inputs[name] = (value, unit) if unit else value
    for attempt in (inputs, {k: (v[0] if isinstance(v, tuple) and k in stated else v) for k, v in inputs.items()}):
        try:
            return calculator.compute(attempt).value
        except Exception:
            continue
    return None


def _same_value(calculator_id: int, answer: Any, value: Any) -> bool:
    from clinrl.tasks.medcalc.scoring import check_value

    if isinstance(value, (int, float)):
        lo, hi = sorted((0.95 * value, 1.05 * value))
        target = {"ground_truth": str(value), "lower_limit": str(lo), "upper_limit": str(hi)}
    elif isinstance(value, tuple):
        target = {"ground_truth": str(value), "lower_limit": "", "upper_limit": ""}
    else:
        target = {"ground_truth": str(value), "lower_limit": "", "upper_limit": ""}
    try:
        return bool(check_value(calculator_id, answer, target)[0])
    except Exception:
        return False


def _name_words(name: str) -> set[str]:
    """Words of a calculator name, hyphenated words also split (``cockcroft-gault`` → ``cockcroft``, …)."""
    words = set(re.findall(r"[a-z0-9][a-z0-9\-']+", name.lower().replace("(", " ").replace(")", " ")))
    for w in list(words):
        words.update(part for part in w.split("-") if part)
    return {w.strip("'") for w in words if w not in _STOPWORDS and len(w) > 2}


def knows_rule(text: str, calculator_name: str, calculator: Any, calculator_id: int | None = None) -> bool:
    """The reasoning names the calculator's eponym, or its knowledge cue, or half its required inputs."""
    lowered = text.lower()
    if calculator_id in KNOWLEDGE_CUES:
        return any(cue in lowered for cue in KNOWLEDGE_CUES[calculator_id])
    words = _name_words(calculator_name)
    distinctive = {w for w in words if w in EPONYMS or (any(ch.isdigit() for ch in w) or "-" in w) and len(w) > 3}
    if any(re.search(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])", lowered) for w in distinctive):
        return True
    if calculator is None:
        return False
    required = [f for f in calculator.fields if f.required] or list(calculator.fields)
    named = sum(1 for f in required if any(re.search(r"\b" + re.escape(lab) + r"\b", lowered) for lab in _labels(f)))
    return bool(required) and named >= max(1, (len(required) + 1) // 2)


def quotes_all_inputs(text: str, calculator: Any, entities: Any) -> bool:
    """Every numeric input of the row appears as a number in the reasoning (±0.5%)."""
    if calculator is None or not isinstance(entities, Mapping):
        return False
    try:
        inputs = calculator.from_entities(entities)
    except Exception:
        return False
    wanted = []
    for value in inputs.values():
        number = value[0] if isinstance(value, tuple) and value else value
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            wanted.append(float(number))
    if not wanted:
        return False
    stated = [float(x) for x in re.findall(_NUMBER, text[:20000])]
    return all(any(abs(x - w) <= 0.005 * max(1.0, abs(w)) for x in stated) for w in wanted)


def classify_failure(completion: Mapping[str, Any], target: Mapping[str, Any],
                     metadata: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``(class, reason)`` of one scored MedCalc completion (see the module docstring for the rules)."""
    metadata = metadata or {}
    if completion.get("correct") is None:
        return "unscored", completion.get("explanation") or "not scored"
    if completion.get("correct"):
        return "correct", "correct"
    if not completion.get("format_ok") or completion.get("answer") is None:
        return "format_failure", completion.get("explanation") or "no readable answer"
    reasoning = think_text(str(completion.get("text") or ""))
    slips = arithmetic_slips(reasoning)
    if slips:
        return "misapplied_knowledge", f"arithmetic: {slips[0]}"
    calculator_id = int(target["calculator_id"])
    calculator = _calculator(calculator_id)
    if calculator is not None:
        stated = stated_values(reasoning, calculator)
        if stated:
            value = _recompute(calculator, stated, metadata.get("relevant_entities"))
            if value is not None:
                if _same_value(calculator_id, completion["answer"], value):
                    return "misapplied_knowledge", f"extraction: the calculator gives {value} from the stated values"
                return "missing_knowledge", f"wrong formula: the stated values give {value}, not the answer"
    if quotes_all_inputs(reasoning, calculator, metadata.get("relevant_entities")):
        return "missing_knowledge", "right input values and arithmetic, wrong rule"
    name = str(metadata.get("calculator_name") or getattr(calculator, "name", ""))
    if knows_rule(reasoning, name, calculator, calculator_id):
        return "misapplied_knowledge", "names the rule and its inputs, but the answer is wrong"
    return "missing_knowledge", "no formula or criteria in the reasoning"


def failure_taxonomy(records: Sequence[Mapping[str, Any]], *, max_examples: int = 3) -> dict[str, Any]:
    """Counts of each class over every completion, per category, with a few examples per class."""
    counts: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        for comp in record.get("completions") or []:
            cls, reason = classify_failure(comp, record.get("target") or {}, record.get("metadata") or {})
            counts[cls] += 1
            by_group[str(record.get("category"))][cls] += 1
            if cls not in ("correct", "unscored") and len(examples[cls]) < max_examples:
                examples[cls].append({"id": record.get("id"), "category": record.get("category"), "reason": reason,
                                      "answer": comp.get("answer"), "target": record.get("target"),
                                      "text": str(comp.get("text") or "")[:1500]})
    wrong = sum(counts[c] for c in ("format_failure", "missing_knowledge", "misapplied_knowledge"))
    return {"counts": {c: counts.get(c, 0) for c in CLASSES}, "n_wrong": wrong,
            "shares_of_wrong": {c: (counts[c] / wrong if wrong else None)
                                for c in ("format_failure", "missing_knowledge", "misapplied_knowledge")},
            "by_category": {g: {c: n.get(c, 0) for c in CLASSES} for g, n in sorted(by_group.items())},
            "examples": dict(examples)}


def agreement(predicted: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """Raw agreement and Cohen's kappa between rule labels and hand labels."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError("agreement needs two equally long, non-empty label lists")
    n = len(gold)
    observed = sum(p == g for p, g in zip(predicted, gold)) / n
    pc, gc = Counter(predicted), Counter(gold)
    expected = sum(pc[c] * gc[c] for c in set(pc) | set(gc)) / (n * n)
    kappa = (observed - expected) / (1 - expected) if expected < 1 else 1.0
    return {"n": n, "agreement": observed, "kappa": kappa}
