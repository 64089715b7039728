"""Label schemes for patient–trial matching.

clinrl uses the TREC Clinical Trials scheme: ``0 = not relevant``, ``1 = excluded``, ``2 = eligible``
(gold labels are always stored in this meaning, as ``trial_label``).

``ehrmind_swapped`` reproduces, for comparison only, a known defect of EHRMIND's public code: its reward and
SFT data call index 0 "excluded" and index 1 "not relevant" while keeping TREC's numbers as gold. Under that
scheme a pair that TREC judged *not relevant* (0) is expected to be answered ``{"prediction": "excluded",
"idx": 0}``. It is off by default and must be asked for explicitly (``label_scheme="ehrmind_swapped"``).
"""

from __future__ import annotations

from typing import Any

from clinrl.errors import ConfigError

#: TREC meaning of each gold label (index = TREC qrel score).
TREC_NAMES = ("not relevant", "excluded", "eligible")

#: answer names per index, per scheme
SCHEMES: dict[str, tuple[str, str, str]] = {
    "trec": TREC_NAMES,
    "ehrmind_swapped": ("excluded", "not relevant", "eligible"),
}
DEFAULT_SCHEME = "trec"

LABEL_DESCRIPTIONS = {
    "not relevant": "the patient does not have the condition the trial studies, or the trial is otherwise "
                    "not relevant to the patient",
    "excluded": "the patient has the condition the trial targets but fails an inclusion criterion or meets "
                "an exclusion criterion",
    "eligible": "the patient meets every inclusion criterion and no exclusion criterion",
}


def check_scheme(scheme: str) -> tuple[str, str, str]:
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown label_scheme {scheme!r}; choose one of {', '.join(SCHEMES)} "
                          f"(default {DEFAULT_SCHEME!r}: TREC 0 = not relevant, 1 = excluded, 2 = eligible)")
    return SCHEMES[scheme]


def normalise_name(value: Any) -> str | None:
    """A label name in canonical spelling, or ``None`` when it is not one of the three names.

    Case, surrounding whitespace, and ``_`` / ``-`` between words are forgiven ("Not_Relevant" is
    "not relevant"); nothing else is (no synonyms such as "irrelevant", no partial matches).
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = " ".join(value.replace("_", " ").replace("-", " ").lower().split())
    return text if text in TREC_NAMES else None


def parse_gold_label(value: Any) -> int | None:
    """A gold TREC label from a data file: the integers 0/1/2 (or their strings), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in (0, 1, 2) else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if int(value) in (0, 1, 2) else None
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        return int(value.strip())
    return None
