"""Reading and writing MEDS (Medical Event Data Standard) datasets.

Two layouts are read:

* a **MEDS dataset directory**: ``data/**/*.parquet`` event shards, ``metadata/dataset.json``,
  ``metadata/codes.parquet`` (code descriptions and ontology parents) and
  ``metadata/subject_splits.parquet`` (``train`` / ``tuning`` / ``held_out``);
* a **near-MEDS single parquet file** such as the MIMIC-IV demo export, whose value column is
  called ``value`` instead of ``numeric_value`` and which carries an extra ``table`` column (dropped).

Every event table is checked against the ``meds`` package's ``DataSchema`` after a small set of
lossless normalisations (``int32`` ids → ``int64``, any timestamp unit → microseconds, ``float64``
values → ``float32``, ``large_string`` codes → ``string``). Anything else is an error that names the
file, the 1-based row and the field: missing columns, wrong types, null ids or codes, times that go
backwards inside a subject, a subject whose rows are not contiguous, a subject split across shards.

Rows with a null ``time`` are *static* events (sex, say). MEDS writers differ on where they put them
(first or last inside a subject), so both are accepted; only the non-null times must be sorted. A null time
*between* two timed events of a subject is neither, and is refused with its row.

Subjects without a split (the single-file layout) get a deterministic one from a hash of their id
(80 % train, 10 % tuning, 10 % held_out), so the same subject always lands in the same split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from clinrl.errors import ConfigError, DataError, require

SPLITS = ("train", "tuning", "held_out")
#: aliases users type for the MEDS split names
SPLIT_ALIASES = {"test": "held_out", "validation": "tuning", "valid": "tuning", "dev": "tuning", "val": "tuning"}
#: near-MEDS column renames (MIMIC-IV demo export): source name -> MEDS name
COLUMN_RENAMES = {"value": "numeric_value"}
#: near-MEDS columns that carry no information and are dropped
IGNORED_COLUMNS = ("table",)
REQUIRED_COLUMNS = ("subject_id", "time", "code")
#: fractions of the hash-derived split for datasets that ship none (train, tuning; rest held_out)
HASH_SPLIT_FRACTIONS = (0.8, 0.1)
#: suffixes that name a file, refused for a dataset *directory* (``-o x.parquet`` would make a folder x.parquet)
FILE_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather", ".csv", ".tsv", ".json", ".jsonl", ".txt", ".gz", ".zip")


def _pa():
    return require("pyarrow", "meds")


def _pq():
    return require("pyarrow.parquet", "meds")


def _pl():
    return require("polars", "meds")


def _meds():
    return require("meds", "meds")


def normalise_split(split: str) -> str:
    """``test`` → ``held_out`` etc.; unknown names are returned unchanged (MEDS allows any)."""
    return SPLIT_ALIASES.get(split, split)


def hash_split(subject_id: int, seed: int = 0) -> str:
    """A split that depends only on the subject id (and a seed): stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{int(subject_id)}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    train, tuning = HASH_SPLIT_FRACTIONS
    return "train" if u < train else ("tuning" if u < train + tuning else "held_out")


@dataclass
class MedsDataset:
    """A MEDS dataset in memory.

    Attributes:
        events: polars DataFrame with ``subject_id`` (Int64), ``time`` (Datetime[us], null = static),
            ``code`` (String), ``numeric_value`` (Float32) and ``text_value`` (String), in file order
            (each subject contiguous and time-sorted).
        codes: ``metadata/codes.parquet`` as a DataFrame (``code``, ``description``, ``parent_codes``),
            or ``None`` when absent.
        splits: subject id → split name.
        metadata: ``metadata/dataset.json`` (empty for the single-file layout).
        source: the path that was read.
        split_origin: ``"file"`` when splits came from ``subject_splits.parquet``, else ``"hash"``.
    """

    events: Any
    codes: Any = None
    splits: dict[int, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    split_origin: str = "file"

    @property
    def subject_ids(self) -> list[int]:
        return self.events.get_column("subject_id").unique(maintain_order=True).to_list()

    def subjects_in(self, split: str) -> list[int]:
        wanted = normalise_split(split)
        return [s for s in self.subject_ids if self.splits.get(s) == wanted]

    def descriptions(self) -> dict[str, str]:
        """code → description from ``codes.parquet`` (non-empty descriptions only)."""
        if self.codes is None or "description" not in self.codes.columns:
            return {}
        out = {}
        for code, desc in self.codes.select("code", "description").iter_rows():
            if code is not None and desc:
                out[code] = desc
        return out


# -- validation -----------------------------------------------------------------------------------
def validate_with(schema: Any, obj: Any, source: Any) -> None:
    """Run one of the ``meds`` package's schema checks; its verdict becomes a ``DataError``."""
    try:
        schema.validate(obj)
    except Exception as exc:  # the meds package's own message says which columns are wrong
        raise DataError(f"does not match the meds {schema.__name__}: {exc}", source=str(source)) from exc


def _read_validated(path: Path, schema: Any) -> Any:
    try:
        table = _pq().read_table(path)
    except Exception as exc:
        raise DataError(f"not a readable parquet file ({exc.__class__.__name__}: {exc})", source=str(path)) from exc
    validate_with(schema, table, path)
    return table


def _first_true(mask: Any) -> int:
    """Index of the first True in a pyarrow boolean array (callers know there is one)."""
    pa = _pa()
    return int(pa.compute.index(mask, pa.scalar(True)).as_py())


def normalise_event_table(table: Any, source: str) -> Any:
    """Rename near-MEDS columns, check types and cast losslessly to the MEDS ``DataSchema``.

    Raises:
        DataError: naming the file and field for a missing column or a wrong type, and the row for
            a null subject id or code.
    """
    pa = _pa()
    names = list(table.column_names)
    for old, new in COLUMN_RENAMES.items():
        if old in names and new not in names:
            table = table.rename_columns([new if n == old else n for n in names])
            names = list(table.column_names)
    keep = [n for n in names if n not in IGNORED_COLUMNS]
    table = table.select(keep)
    for column in REQUIRED_COLUMNS:
        if column not in table.column_names:
            raise DataError(
                f"missing column (a MEDS event table needs {', '.join(REQUIRED_COLUMNS)}; found "
                f"{', '.join(table.column_names) or 'none'})", source=source, field=column)

    want = {
        "subject_id": (pa.int64(), pa.types.is_integer, "an integer type (MEDS: int64)"),
        "time": (pa.timestamp("us"), pa.types.is_timestamp, "a timestamp (MEDS: timestamp[us])"),
        "code": (pa.string(), lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
                 "a string (MEDS: string)"),
        "numeric_value": (pa.float32(), lambda t: pa.types.is_floating(t) or pa.types.is_integer(t)
                          or pa.types.is_null(t), "a number (MEDS: float32)"),
        "text_value": (pa.large_string(), lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
                       or pa.types.is_null(t), "a string (MEDS: large_string)"),
    }
    for column, (target, accepts, described) in want.items():
        if column not in table.column_names:
            continue
        current = table.schema.field(column).type
        if current == target:
            continue
        if not accepts(current):
            raise DataError(f"wrong type {current}; expected {described}", source=source, field=column)
        if pa.types.is_timestamp(current) and current.tz is not None:
            raise DataError(f"time zone-aware timestamps ({current}) are not MEDS; store naive UTC times",
                            source=source, field=column)
        try:
            casted = table.column(column).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(f"cannot convert {current} to {target}: {exc}", source=source, field=column) from exc
        table = table.set_column(table.column_names.index(column), column, casted)
    if "numeric_value" not in table.column_names:
        table = table.append_column("numeric_value", pa.nulls(table.num_rows, pa.float32()))
    for column in ("subject_id", "code"):
        nulls = table.column(column).is_null()
        if pa.compute.any(nulls).as_py():
            row = _first_true(nulls)
            raise DataError("null value (MEDS requires every event to have one)", source=source,
                            row=row + 1, field=column)
    validate_with(_meds().DataSchema, table, source)
    return table


def check_event_order(df: Any, source: str) -> None:
    """Each subject's rows contiguous and its non-null times non-decreasing (polars DataFrame)."""
    pl = _pl()
    if df.height == 0:
        return
    ids = df.get_column("subject_id")
    checks = df.select(
        new_block=(pl.col("subject_id") != pl.col("subject_id").shift(1)).fill_null(True),
    ).with_row_index("row")
    starts = checks.filter(pl.col("new_block"))
    seen_ids = ids.gather(starts.get_column("row"))
    if seen_ids.n_unique() != seen_ids.len():
        dup = seen_ids.filter(seen_ids.is_duplicated()).item(0)
        rows = starts.filter(seen_ids.is_duplicated() & (seen_ids == dup)).get_column("row").to_list()
        raise DataError(
            f"subject {dup} is not contiguous (its rows restart at row {rows[1] + 1}); MEDS needs each "
            "subject's events in one block", source=source, row=rows[1] + 1, field="subject_id")
    # A static (null-time) row sits before the subject's first timed event or after its last one.
    timed = pl.col("time").is_not_null().cast(pl.Int64)
    placed = df.select("subject_id", "time").with_row_index("row").with_columns(
        before=(timed.cum_sum().over("subject_id") - timed),
        total=timed.sum().over("subject_id"))
    stray = placed.filter(pl.col("time").is_null() & (pl.col("before") > 0) & (pl.col("before") < pl.col("total")))
    if stray.height:
        row, subject = stray.select("row", "subject_id").row(0)
        raise DataError(f"a null time (a static event) between timed events of subject {subject}; MEDS static "
                        "events come before or after a subject's timed events", source=source, row=row + 1,
                        field="time")
    # Forward-fill the last non-null time inside each subject and compare: a drop is a violation.
    ordered = df.select("subject_id", "time").with_row_index("row").with_columns(
        prev=pl.col("time").forward_fill().shift(1).over("subject_id"))
    bad = ordered.filter(pl.col("time").is_not_null() & pl.col("prev").is_not_null()
                         & (pl.col("time") < pl.col("prev")))
    if bad.height:
        row, subject, time, prev = bad.select("row", "subject_id", "time", "prev").row(0)
        raise DataError(f"times not sorted within subject {subject}: {time} comes after {prev}",
                        source=source, row=row + 1, field="time")


def _read_event_file(path: Path, columns: Iterable[str] | None = None) -> Any:
    pl, pq = _pl(), _pq()
    try:
        table = pq.read_table(path, columns=list(columns) if columns else None)
    except Exception as exc:
        raise DataError(f"not a readable parquet file ({exc.__class__.__name__}: {exc})", source=str(path)) from exc
    table = normalise_event_table(table, str(path))
    df = pl.from_arrow(table)
    if "text_value" in df.columns:
        df = df.with_columns(pl.col("text_value").cast(pl.String))
    else:
        df = df.with_columns(text_value=pl.lit(None, dtype=pl.String))
    check_event_order(df, str(path))
    return df


def _no_shards_message(root: Path, option: str | None) -> str:
    """Why a folder is not a MEDS dataset, naming the near-MEDS file(s) it holds and the value to pass."""
    import shlex

    message = "no event shards: a MEDS dataset keeps its events in data/*.parquet"
    files = sorted(p for p in root.glob("*.parquet") if p.is_file())
    if not files:
        return message
    flag = f"{option} " if option else ""
    if len(files) == 1:
        return (f"{message}. This folder holds one parquet file, {files[0].name}, which may be a near-MEDS "
                f"single-file export (like the MIMIC-IV demo): pass the file itself: "
                f"{flag}{shlex.quote(str(files[0]))}")
    listed = ", ".join(p.name for p in files[:5]) + (f" (+{len(files) - 5} more)" if len(files) > 5 else "")
    return (f"{message}. This folder holds {len(files)} parquet files ({listed}): pass one near-MEDS file "
            f"itself ({flag}{shlex.quote(str(files[0]))}), or move the shards into {root / 'data'}")


def check_dataset_dir(root: str | Path) -> Path:
    """Refuse a dataset *directory* path that names a file (a file-like suffix, or an existing file)."""
    root = Path(root)
    if root.suffix.lower() in FILE_SUFFIXES:
        raise ConfigError(f"{root} looks like a file name, but a MEDS dataset is a directory (data/*.parquet + "
                          f"metadata/); give a directory such as {root.with_suffix('')}")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is an existing file; a MEDS dataset is written into a directory")
    from clinrl.data.atomic import PARTIAL

    if root.name.endswith(PARTIAL):
        raise ConfigError(f"{root}: names ending in {PARTIAL} are kept for unfinished writes; choose another name")
    return root


def read_meds(path: str | Path, *, split_seed: int = 0, option: str | None = None) -> MedsDataset:
    """Read a MEDS dataset directory or a near-MEDS single parquet file.

    Args:
        path: a directory with ``data/`` (and optionally ``metadata/``), or one ``.parquet`` file.
        split_seed: seed of the hash split used when the dataset ships no ``subject_splits.parquet``.
        option: the command-line flag the path came from (``--meds``, ``--source``); a folder that is
            not a MEDS dataset but holds a single parquet file gets an error naming ``option FILE``.
    """
    pl = _pl()
    root = Path(path)
    if not root.exists():
        raise DataError("no such file or directory", source=str(root))
    if root.is_file():
        events = _read_event_file(root)
        splits = {int(s): hash_split(s, split_seed) for s in events.get_column("subject_id").unique().to_list()}
        return MedsDataset(events=events, splits=splits, source=str(root), split_origin="hash")

    from clinrl.data.atomic import check_complete

    check_complete(root)  # an interrupted or mixed clinrl write is refused, never read as a smaller cohort
    data_dir = root / "data"
    shards = sorted(data_dir.rglob("*.parquet")) if data_dir.is_dir() else []
    if not shards:
        raise DataError(_no_shards_message(root, option), source=str(root), kind="folder")
    frames, owner = [], {}
    for shard in shards:
        df = _read_event_file(shard)
        for subject in df.get_column("subject_id").unique().to_list():
            if subject in owner:
                raise DataError(f"subject {subject} is split across shards {owner[subject]} and {shard}; "
                                "MEDS keeps each subject in one shard", source=str(shard), field="subject_id")
            owner[subject] = shard
        frames.append(df.select("subject_id", "time", "code", "numeric_value", "text_value"))
    events = pl.concat(frames, how="vertical")

    metadata: dict[str, Any] = {}
    meta_path = root / "metadata" / "dataset.json"
    if meta_path.exists():
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg})", source=str(meta_path), row=exc.lineno) from exc
        if not isinstance(metadata, dict):
            raise DataError("not a JSON object", source=str(meta_path))
        validate_with(_meds().DatasetMetadataSchema, metadata, meta_path)

    codes = None
    codes_path = root / "metadata" / "codes.parquet"
    if codes_path.exists():
        codes = pl.from_arrow(_read_validated(codes_path, _meds().CodeMetadataSchema))

    splits_path = root / "metadata" / "subject_splits.parquet"
    if splits_path.exists():
        table = _read_validated(splits_path, _meds().SubjectSplitSchema)
        splits, first_row = {}, {}
        for row, (s, v) in enumerate(zip(table.column("subject_id").to_pylist(), table.column("split").to_pylist()),
                                     start=1):
            if s in first_row:  # keeping the last listing silently moved a subject between splits
                raise DataError(f"subject {s} is listed twice (row {first_row[s]}: {splits[int(s)]!r}, here: "
                                f"{v!r}); a subject belongs to one split", source=str(splits_path), row=row,
                                field="subject_id")
            first_row[s] = row
            splits[int(s)] = str(v)
        origin = "file"
        for subject in owner:  # subjects the split file forgot still get a stable split
            if subject not in splits:
                splits[subject] = hash_split(subject, split_seed)
                origin = "file+hash"
    else:
        splits = {int(s): hash_split(s, split_seed) for s in owner}
        origin = "hash"
    return MedsDataset(events=events, codes=codes, splits=splits, metadata=metadata, source=str(root),
                       split_origin=origin)


# -- writing --------------------------------------------------------------------------------------
def events_to_arrow(events: Any) -> Any:
    """A polars events frame → a pyarrow table in the exact MEDS ``DataSchema`` column types."""
    pa = _pa()
    table = events.select("subject_id", "time", "code", "numeric_value", "text_value").to_arrow()
    schema = pa.schema([("subject_id", pa.int64()), ("time", pa.timestamp("us")), ("code", pa.string()),
                        ("numeric_value", pa.float32()), ("text_value", pa.large_string())])
    return table.cast(schema)


def write_meds(root: str | Path, events: Any, *, splits: dict[int, str], codes: Any = None,
               metadata: dict[str, Any] | None = None, subjects_per_shard: int = 1000,
               overwrite: bool = False) -> Path:
    """Write a MEDS dataset directory (events must be subject-contiguous and time-sorted).

    Output is deterministic: the same inputs give byte-identical files (no timestamps are written
    unless ``metadata`` carries one). The write is atomic (:func:`clinrl.data.atomic.atomic_dir`): the data
    set appears at ``root`` complete, with its completion manifest, or not at all. An existing data set there is
    refused unless ``overwrite``, which replaces all of it.
    """
    from clinrl.data.atomic import atomic_dir

    root = check_dataset_dir(root)
    n_subjects = events.get_column("subject_id").n_unique()
    with atomic_dir(root, overwrite=overwrite, info={"written_by": "clinrl", "n_subjects": n_subjects}) as partial:
        _write_meds_files(partial, events, splits=splits, codes=codes, metadata=metadata,
                          subjects_per_shard=subjects_per_shard)
    return root


def _write_meds_files(root: Path, events: Any, *, splits: dict[int, str], codes: Any,
                      metadata: dict[str, Any] | None, subjects_per_shard: int) -> None:
    pa, pq, pl = _pa(), _pq(), _pl()
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    subjects = events.get_column("subject_id").unique(maintain_order=True).to_list()
    for shard_index, start in enumerate(range(0, max(len(subjects), 1), subjects_per_shard)):
        chunk = set(subjects[start:start + subjects_per_shard])
        table = events_to_arrow(events.filter(pl.col("subject_id").is_in(list(chunk))))
        _meds().DataSchema.validate(table)
        pq.write_table(table, root / "data" / f"{shard_index}.parquet")
    split_table = pa.table({"subject_id": pa.array(list(splits), pa.int64()),
                            "split": pa.array(list(splits.values()), pa.string())})
    _meds().SubjectSplitSchema.validate(split_table)
    pq.write_table(split_table, root / "metadata" / "subject_splits.parquet")
    if codes is not None:
        code_table = codes.to_arrow() if hasattr(codes, "to_arrow") else codes
        code_table = code_table.cast(pa.schema([("code", pa.string()), ("description", pa.string()),
                                                ("parent_codes", pa.list_(pa.string()))]))
        _meds().CodeMetadataSchema.validate(code_table)
        pq.write_table(code_table, root / "metadata" / "codes.parquet")
    meta = dict(metadata or {})
    meta.setdefault("meds_version", _meds().__version__)
    _meds().DatasetMetadataSchema.validate(meta)
    (root / "metadata" / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n",
                                                    encoding="utf-8")
