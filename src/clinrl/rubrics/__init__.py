"""Physician rubrics (ProMedical, HealthBench): schema, formats, scoring, criterion judges, RM metrics.

The schema and scoring are pure Python; the reward model needs the ``train`` extra and the LLM judge
the ``judge`` extra (both imported lazily from :mod:`clinrl.rubrics.judges`).
"""

from clinrl.rubrics.schema import (
    DIMENSIONS, EXCELLENCE, PROFICIENCY, SAFETY, Rubric, RubricError, RubricItem, make_rubric,
)
from clinrl.rubrics.formats import from_healthbench, from_rar, read_rubrics, to_healthbench, write_rubrics

__all__ = [
    "DIMENSIONS", "EXCELLENCE", "PROFICIENCY", "SAFETY", "Rubric", "RubricError", "RubricItem", "make_rubric",
    "from_healthbench", "from_rar", "read_rubrics", "to_healthbench", "write_rubrics",
]
