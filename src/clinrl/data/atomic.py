"""Writing data sets so that no reader ever sees half of one.

* A **file** is written as ``NAME.partial`` next to its final path and renamed when complete: the rename is
  its completion mark. An interrupted write leaves only the ``.partial`` file, which readers refuse
  (:func:`clinrl.data.tables.check_not_partial`).
* A **directory** data set (MEDS) is written into ``NAME.partial/`` holding a ``.clinrl-writing`` marker.
  When every file is written, the marker is replaced by a completion manifest (``.clinrl-complete.json``:
  the files written, with their sizes) and the directory is renamed into place. Readers refuse a directory
  with the writing marker, and one whose data files differ from its manifest (a stale shard from another
  write, a missing one); metadata files may be edited by hand.
* An existing, non-empty output is refused unless ``overwrite`` is given; with it, the old output is
  replaced as a whole (no stale shard of a larger earlier write survives). A directory that holds anything
  besides a data set's own parts is never deleted.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from clinrl.errors import ConfigError, DataError

PARTIAL = ".partial"
WRITING_MARKER = ".clinrl-writing"
COMPLETE_MANIFEST = ".clinrl-complete.json"
#: what a directory data set may hold; ``overwrite`` deletes nothing else
DATASET_ENTRIES = frozenset({"data", "metadata", WRITING_MARKER, COMPLETE_MANIFEST})


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse an existing output file unless ``overwrite`` (call it before minutes of generation)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--out {path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise ConfigError(f"--out {path} already exists; pass --overwrite to replace it")
    return path


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield ``PATH.partial`` to write; rename it to ``PATH`` when the block completes, delete it if it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def _foreign_entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name not in DATASET_ENTRIES)


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse a non-empty output directory unless ``overwrite``, and never one holding other things."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is an existing file; a data set directory is written there")
    if path.is_dir() and any(path.iterdir()):
        foreign = _foreign_entries(path)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" (+{len(foreign) - 5} more)" if len(foreign) > 5 else "")
            raise ConfigError(f"--out {path} is not empty and holds more than a data set ({shown}); choose an "
                              "empty or new directory (clinrl deletes nothing it did not write)")
        if not overwrite:
            raise ConfigError(f"--out {path} already holds a data set; pass --overwrite to replace it (all of it: "
                              "no shard of the earlier one is kept)")
    return path


@contextmanager
def atomic_dir(path: str | os.PathLike[str], *, overwrite: bool = False,
               info: Mapping[str, Any] | None = None) -> Iterator[Path]:
    """Yield ``PATH.partial/`` to write a data set into; on success write the manifest and rename it to
    ``PATH`` (replacing an earlier data set there when ``overwrite``)."""
    path = check_output_dir(path, overwrite=overwrite)
    partial = path.with_name(path.name + PARTIAL)
    if partial.exists():  # left by an interrupted write: only ever delete one of ours
        if not (partial / WRITING_MARKER).exists():
            raise ConfigError(f"{partial} exists and was not left by clinrl; move it away first")
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    (partial / WRITING_MARKER).write_text("an interrupted write leaves this file; the data set is incomplete\n",
                                          encoding="utf-8")
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    files = sorted(str(p.relative_to(partial)) for p in partial.rglob("*") if p.is_file() and p.name not in
                   (WRITING_MARKER, COMPLETE_MANIFEST))
    manifest = {"files": {name: (partial / name).stat().st_size for name in files}, **dict(info or {})}
    (partial / COMPLETE_MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                             encoding="utf-8")
    (partial / WRITING_MARKER).unlink()
    old = None
    if path.exists():
        old = path.with_name(f"{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(partial, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_complete(root: str | os.PathLike[str]) -> None:
    """Refuse a directory data set whose write was interrupted or whose files are not the ones its writer
    listed. A directory with neither mark (written by another tool) is accepted as it is."""
    root = Path(root)
    if (root / WRITING_MARKER).exists():
        raise DataError(f"an incomplete data set: its write was interrupted ({WRITING_MARKER} is still there); "
                        "write it again", source=str(root), kind="folder")
    manifest_path = root / COMPLETE_MANIFEST
    if not manifest_path.exists():
        return
    try:
        listed = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"unreadable completion manifest ({exc.__class__.__name__})", source=str(manifest_path)) from exc
    # The data files decide what a reader sees (a stale shard adds subjects); metadata may be edited by hand.
    present = {str(p.relative_to(root)) for p in (root / "data").rglob("*") if p.is_file()} \
        if (root / "data").is_dir() else set()
    wanted = {name for name in listed if name.startswith("data" + os.sep) or name.startswith("data/")}
    extra, missing = sorted(present - wanted), sorted(wanted - present)
    if extra or missing:
        parts = [f"{label}: {', '.join(names[:3])}" + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
                 for label, names in (("data files not written with it", extra), ("missing data files", missing))
                 if names]
        raise DataError(f"the files differ from what its writer listed in {COMPLETE_MANIFEST} ({'; '.join(parts)}); "
                        "rewrite it with --overwrite, or delete the manifest if you changed it on purpose",
                        source=str(root), kind="folder")
