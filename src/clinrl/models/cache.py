"""The local model cache: ``~/.cache/clinrl/models`` (override with ``CLINRL_CACHE_DIR``).

Built and converted models are written to a temporary folder and renamed into place, under a file
lock, so two processes that ask for the same model at once (a 2-process ``torchrun``, parallel
tests) build it once and never see a half-written directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

#: a file in a finished cache entry; its absence means the entry is incomplete
DONE_MARKER = "clinrl_model.json"


def cache_root() -> Path:
    base = os.environ.get("CLINRL_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "clinrl")
    return Path(base) / "models"


def config_hash(payload: Any) -> str:
    """A short stable hash of a JSON-serialisable description of what is built."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_complete(directory: Path) -> bool:
    return (directory / DONE_MARKER).is_file()


def cached_build(name: str, payload: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """Return the cache directory for ``(name, payload)``, calling ``build(tmp_dir)`` if it is missing."""
    target = cache_root() / f"{name}-{config_hash(payload)}"
    if is_complete(target):
        return target
    with _locked(target.with_suffix(".lock")):
        if is_complete(target):  # another process finished it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            build(tmp)
            (tmp / DONE_MARKER).write_text(json.dumps({"name": name, "spec": payload}, indent=2, default=str))
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target
