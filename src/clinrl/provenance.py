"""Provenance of a result: package versions, the source tree's git revision, the repository root, and
``jsonable`` (what eval logs, run directories and score files are written through).

A leaf module: it imports nothing from clinrl, so every layer may use it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

#: packages whose versions a run or an evaluation records
PACKAGES = ("clinrl", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm", "httpx")


def repo_root() -> Path:
    """The directory above ``src/`` in a clinrl checkout (where ``recipes/`` and ``.git`` live); in an
    installed package, the directory above the package's parent."""
    return Path(__file__).resolve().parents[2]


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_revision() -> str | None:
    """The clinrl source tree's commit (``+dirty`` when it has changes); None outside a checkout."""
    root = repo_root()
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def jsonable(value: Any) -> Any:
    """Dates → ISO text, tuples → lists, NaN → None (strict JSON: an undefined metric is null), anything else
    unknown → str (answers may be dates / tuples)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
