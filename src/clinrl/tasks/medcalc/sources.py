"""Where MedCalc rows come from: hub ids and their short names, column layouts, benchmark test files.

* **Label sources.** ``ncbi/MedCalc-Bench-v1.0`` (the paper's release, default) and
  ``nsk7153/MedCalc-Bench-Verified`` (a corrected release with regenerated notes and labels; train
  10,538 / test 1,100 rows) load with the same task, by hub id, by their short names ``v1.0`` /
  ``verified``, or from a local CSV / parquet / JSONL copy.
* **Column layouts.** Both releases use the same 14 columns (``Row Number`` … ``Ground Truth
  Explanation``). Column names are matched ignoring case, spaces and underscores, and the renamed
  target columns some copies use (``Ground Truth``, ``Lower Bound``, ``Upper Bound``, as in the
  medarc ``medcalc-bench`` environment) map to the official ones. Any other layout is an error that
  names the file, the missing column and the columns found.
* **Benchmark test files.** A single file has no splits. :func:`benchmark_test_file` says when a local
  file holds a benchmark's test rows (its name says ``test``, or its rows are the v1.0 test set), so
  loading it as training rows can be refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from clinrl.errors import DataError

HUB_ID = "ncbi/MedCalc-Bench-v1.0"
VERIFIED_HUB_ID = "nsk7153/MedCalc-Bench-Verified"
#: short names accepted wherever a MedCalc source is (a local path of the same name wins)
SOURCE_ALIASES = {"v1.0": HUB_ID, "verified": VERIFIED_HUB_ID}

REQUIRED_COLUMNS = (
    "Row Number", "Calculator ID", "Category", "Patient Note", "Question",
    "Ground Truth Answer", "Lower Limit", "Upper Limit",
)
OPTIONAL_COLUMNS = (
    "Calculator Name", "Output Type", "Note ID", "Note Type", "Relevant Entities", "Ground Truth Explanation",
)
#: renamed columns seen in copies of the data set -> the official name
COLUMN_ALIASES = {"Ground Truth": "Ground Truth Answer", "Lower Bound": "Lower Limit", "Upper Bound": "Upper Limit"}


def resolve_source(source: str) -> str:
    """A short name (``verified``, ``v1.0``) as its hub id; anything else unchanged."""
    if source in SOURCE_ALIASES and not Path(source).exists():
        return SOURCE_ALIASES[source]
    return source


def _fold(name: str) -> str:
    return re.sub(r"[\s_]+", "", str(name)).casefold()


_OFFICIAL_BY_FOLD = {_fold(c): c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
_OFFICIAL_BY_FOLD.update({_fold(alias): official for alias, official in COLUMN_ALIASES.items()})


def column_mapping(columns: Iterable[str], *, source: str, row: int) -> dict[str, str]:
    """``{column as written: official name}`` for a row's columns; a :class:`DataError` naming the file, the row
    and the first missing column when the layout is not MedCalc-Bench's."""
    columns = list(columns)
    mapping: dict[str, str] = {}
    for column in columns:
        official = _OFFICIAL_BY_FOLD.get(_fold(column))
        if official is not None and official not in mapping.values():
            mapping[column] = official
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
    if missing:
        aliases = ", ".join(f"{a!r} for {o!r}" for a, o in COLUMN_ALIASES.items())
        raise DataError(
            f"missing column: not a MedCalc-Bench layout (v1.0 and MedCalc-Bench-Verified use "
            f"{', '.join(REQUIRED_COLUMNS)}; also accepted: {aliases}; case, spaces and underscores are "
            f"ignored). Columns found: {', '.join(map(repr, columns[:20]))}",
            source=source, row=row, field=missing[0])
    return mapping


def rename_columns(row: Mapping[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """The row under the official column names (columns the mapping does not know are kept as they are)."""
    if all(k == v for k, v in mapping.items()):
        return dict(row)
    return {mapping.get(k, k): v for k, v in row.items()}


def label_source_name(source: str) -> str:
    """A readable name of the labels a source carries, for reports."""
    text = str(source)
    if "verified" in Path(text).name.casefold() or text == VERIFIED_HUB_ID:
        return "MedCalc-Bench-Verified"
    if text == HUB_ID:
        return "MedCalc-Bench v1.0"
    return Path(text).name or text


_TEST_WORD = re.compile(r"(?:^|[^a-z0-9])test(?:$|[^a-z0-9])")


def named_as_test(source: str) -> bool:
    """Whether a file's name marks it as a test split (``test_data.csv``, ``medcalc-test.parquet``)."""
    return bool(_TEST_WORD.search(Path(str(source)).stem.casefold()))


def benchmark_test_file(source: str, samples: list[Any]) -> str | None:
    """Why a local file's rows are a benchmark's test rows (``None`` when nothing says so)."""
    from clinrl.tasks.medcalc.known_defects import is_official_test_set, row_digest

    if named_as_test(source):
        return f"its name says it holds test rows ({Path(source).name})"
    digests = [row_digest(s.target["calculator_id"], s.metadata.get("patient_note") or "", s.target["ground_truth"])
               for s in samples]
    if samples and is_official_test_set(digests):
        return "its rows are the MedCalc-Bench v1.0 test set"
    return None
