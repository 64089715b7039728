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
from typing import Any, Iterable, Iterator

from clinrl.errors import DataError, require

LOCAL_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json")
#: suffix of a file still being written (``data synth`` renames it to its final name when complete)
PARTIAL_SUFFIX = ".partial"


def not_utf8(path: str | os.PathLike[str], exc: UnicodeDecodeError) -> DataError:
    """The error for a file that is not UTF-8 text: names the file, the line and the first bad byte.

    The decoder's own position is relative to the chunk it was reading, so the whole file is decoded
    once more to find the real offset (only on this error path)."""
    offset, line, byte = exc.start, None, None
    try:
        data = Path(path).read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as whole:
        start = whole.start
        offset, line, byte = start, data.count(b"\n", 0, start) + 1, data[start]
    except OSError:
        pass
    where = f"line {line}, byte offset {offset}" if line is not None else f"byte offset {offset}"
    shown = f" 0x{byte:02x}" if byte is not None else ""
    hint = " (in Excel: 'CSV UTF-8')" if Path(path).suffix.lower() in (".csv", ".tsv") else ""
    return DataError(f"not UTF-8 text (byte{shown} at {where}); save the file as UTF-8{hint}", source=str(path))


def check_not_partial(path: str | os.PathLike[str]) -> None:
    """Refuse a file that a writer left unfinished (an interrupted ``clinrl data synth``)."""
    if str(path).endswith(PARTIAL_SUFFIX):
        raise DataError("an incomplete file: its writer was interrupted before it finished (the complete file "
                        f"gets its name without {PARTIAL_SUFFIX}); write it again", source=str(path))


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
    check_not_partial(p)
    if not p.exists():
        raise DataError("no such file", source=path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        yield from read_csv(p)
    elif suffix in (".jsonl", ".json"):
        yield from read_jsonl(p)
    elif suffix == ".parquet":
        yield from enumerate(read_parquet(p).to_pylist(), start=1)
    else:
        raise DataError(f"unsupported file type {suffix!r}; use .csv, .parquet or .jsonl", source=path)


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV with a header. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is read as such; a row
    with more fields than the header is an error (its extra values would be lost)."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for i, row in enumerate(reader, start=1):
                if None in row:  # DictReader's key for values beyond the header
                    extra = row[None]
                    raise DataError(f"{len(extra)} more field(s) than the header's {len(reader.fieldnames or [])} "
                                    f"({', '.join(repr(v[:30]) for v in extra[:3])}); quote fields that contain "
                                    "commas", source=str(path), row=i)
                yield i, row
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except csv.Error as exc:
        raise DataError(f"not a readable CSV ({exc})", source=str(path)) from None


def read_parquet(path: Path, **kwargs: Any) -> Any:
    """A parquet file as a pyarrow table; a truncated or non-parquet file is an error naming it."""
    pq = require("pyarrow.parquet", "data")
    try:
        return pq.read_table(path, **kwargs)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid / ArrowIOError derive from these
        raise DataError(f"not a readable parquet file ({exc.__class__.__name__}: {exc})", source=str(path)) from None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, object)`` for each non-blank line of a JSONL file; a bad line names its number.
    A UTF-8 byte-order mark at the start of the file is skipped."""
    try:
        with Path(path).open(encoding="utf-8-sig") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"invalid JSON ({exc.msg})", source=str(path), row=i) from exc
                except RecursionError:
                    raise DataError("JSON nested too deeply", source=str(path), row=i) from None
                if not isinstance(row, dict):
                    raise DataError("a line is not a JSON object", source=str(path), row=i)
                yield i, row
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]], *, default: Any = None,
                append: bool = False) -> int:
    """Write ``rows`` to ``path`` as JSONL (UTF-8, one object a line, non-ASCII kept), creating its folder;
    returns the number of rows. ``default`` is json's fallback for other types (e.g. ``str``); ``append`` adds
    to an existing file. The inverse of :func:`read_jsonl`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=default) + "\n")
            n += 1
    return n


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
