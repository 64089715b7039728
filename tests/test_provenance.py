"""clinrl.provenance: a leaf module every layer may use (versions, git revision, repo root, jsonable)."""

from __future__ import annotations

import ast
import datetime as dt
import math
from pathlib import Path

from clinrl import provenance


def test_provenance_is_a_leaf_module():
    tree = ast.parse(Path(provenance.__file__).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert not [m for m in imported if m and m.startswith("clinrl")]


def test_repo_root_holds_the_recipes_and_versions_name_python():
    assert (provenance.repo_root() / "recipes" / "quickstart.yaml").is_file()
    assert "python" in provenance.package_versions()
    rev = provenance.git_revision()
    assert rev is None or len(rev.split("+")[0]) == 40


def test_jsonable():
    out = provenance.jsonable({"d": dt.date(2020, 1, 2), "t": (1, 2), "nan": math.nan, 3: {"x": object}})
    assert out["d"] == "2020-01-02" and out["t"] == [1, 2] and out["nan"] is None
    assert out["3"]["x"].startswith("<class")
