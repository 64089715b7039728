"""Reading tabular sources: a local CSV / parquet / JSONL file, or a Hugging Face hub dataset.

Rows come back as ``(row_number, dict)`` with 1-based row numbers as a user would count them in
the file (header excluded), so errors can name the row.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from clinrl.errors import DataError, require

LOCAL_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json")


def is_local(source: str) -> bool:
    return os.path.exists(source) or Path(source).suffix.lower() in LOCAL_SUFFIXES


def read_rows(source: str, *, split: str = "test") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_number, row)`` from a local file or a hub dataset id."""
    if is_local(source):
        yield from read_local(source)
    else:
        yield from read_hub(source, split=split)


def read_local(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    p = Path(path)
    if not p.exists():
        raise DataError("no such file", source=path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with p.open(newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=1):
                yield i, row
    elif suffix in (".jsonl", ".json"):
        yield from read_jsonl(p)
    elif suffix == ".parquet":
        pq = require("pyarrow.parquet", "data")
        table = pq.read_table(p)
        for i, row in enumerate(table.to_pylist(), start=1):
            yield i, row
    else:
        raise DataError(f"unsupported file type {suffix!r}; use .csv, .parquet or .jsonl", source=path)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, object)`` for each non-blank line of a JSONL file; a bad line names its number."""
    with Path(path).open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg})", source=str(path), row=i) from exc
            if not isinstance(row, dict):
                raise DataError("a line is not a JSON object", source=str(path), row=i)
            yield i, row


def read_hub(dataset_id: str, *, split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a Hugging Face hub dataset (the real path users take; needs network or a cache)."""
    from clinrl.hub import offline_if_unreachable

    offline = offline_if_unreachable()  # before importing datasets, so an offline machine fails in ~1 s
    datasets = require("datasets", "train")
    try:
        ds = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:
        hint = ("this machine cannot reach the hub and the dataset is not in the local cache"
                if offline else f"{exc.__class__.__name__}: {exc}")
        raise DataError(
            f"could not load hub dataset {dataset_id!r} split {split!r} ({hint}). "
            "Pass a local CSV / parquet / JSONL path instead.",
            source=dataset_id, kind="dataset",
        ) from exc
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)
