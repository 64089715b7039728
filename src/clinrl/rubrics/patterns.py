"""Rubric ``match:`` patterns: checked when a rubric is loaded, run with a time bound when a response is judged.

Rubric files are user input (review uploads, LLM drafts, imports), and a regular expression with nested
unbounded repetition such as ``^(a+)+$`` backtracks exponentially on a near-miss: one tag could stall a GRPO
reward call for ever. So:

* at load, a pattern that does not compile, or that repeats a group which itself contains an unbounded
  repetition (star height 2: ``(a+)+``, ``(a*)*``, ``(\\w+\\s?)+``, ``(.*x){2,}``), is refused with the
  rubric, item and field (:func:`pattern_problem`);
* every search runs on the ``regex`` package's engine with a time limit (:data:`MATCH_TIMEOUT_S`); a search
  that runs out of time gives no verdict (``None``: unscored), never "not met". This also bounds patterns
  that the static check cannot see, such as overlapping alternatives ``(a|aa)+``.

Patterns are case-insensitive, in the ``re``-compatible (``V0``) dialect of the ``regex`` package.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex

#: seconds one ``match:`` search may take before the item is left unjudged
MATCH_TIMEOUT_S = 0.5


def _quantifier_at(pattern: str, i: int) -> tuple[int, bool] | None:
    """``(length, unbounded)`` of a repetition operator starting at ``pattern[i]``, else None."""
    char = pattern[i]
    if char in "*+":
        return 1, True
    if char == "?":
        return 1, False
    if char == "{":
        end = pattern.find("}", i)
        if end == -1:
            return None
        body = pattern[i + 1:end]
        low, comma, high = body.partition(",")
        if not low.strip().isdigit() and not (comma and low.strip() == ""):
            return None
        if comma and high.strip() and not high.strip().isdigit():
            return None
        return end - i + 1, bool(comma) and not high.strip()
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a ``match:`` tag (does not compile; nested unbounded repetition), or None."""
    try:
        regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except (regex.error, OverflowError, RecursionError) as exc:
        return f"not a valid regular expression ({exc})"
    # One frame per open group: whether its body holds an unbounded repetition.
    frames: list[bool] = [False]
    last_group_unbounded_inside: bool | None = None  # set right after a ")" closes a group
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            last_group_unbounded_inside = None
            continue
        if char == "[":  # a character class is one atom; skip to its closing bracket
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            last_group_unbounded_inside = None
            continue
        if char == "(":
            frames.append(False)
            i += 1
            if i < n and pattern[i] == "?":  # (?:  (?P<name>  (?=  ... : the marker is not an atom
                i += 1
            last_group_unbounded_inside = None
            continue
        if char == ")":
            inner = frames.pop() if len(frames) > 1 else False
            last_group_unbounded_inside = inner
            i += 1
            continue
        quantifier = _quantifier_at(pattern, i)
        if quantifier is not None:
            length, unbounded = quantifier
            if unbounded and last_group_unbounded_inside:
                return ("nested unbounded repetition (a repeated group that itself repeats without bound, e.g. "
                        "(a+)+) can take exponential time; rewrite it without the nesting")
            if unbounded:
                frames[-1] = True
            if last_group_unbounded_inside:  # a bounded repeat of such a group still holds the repetition
                frames[-1] = True
            i += length
            if i < n and pattern[i] in "?+":  # lazy / possessive marker
                i += 1
            last_group_unbounded_inside = None
            continue
        last_group_unbounded_inside = None
        i += 1
    return None


class PatternError(ValueError):
    """A ``match:`` pattern refused by :func:`pattern_problem`."""


@lru_cache(maxsize=4096)
def compile_match(pattern: str) -> Any:
    """The compiled, case-insensitive pattern; :class:`PatternError` when it is refused."""
    problem = pattern_problem(pattern)
    if problem:
        raise PatternError(f"match: pattern {pattern!r}: {problem}")
    return regex.compile(pattern, regex.IGNORECASE | regex.V0)


def search(pattern: str, text: str, *, timeout: float = MATCH_TIMEOUT_S) -> bool | None:
    """Whether ``pattern`` occurs in ``text``; ``None`` when the search ran out of time (no verdict)."""
    try:
        return compile_match(pattern).search(text, timeout=timeout) is not None
    except TimeoutError:
        return None
