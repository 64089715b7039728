"""``clinrl report``: one self-contained HTML file (plots embedded as base64 PNG) plus a markdown summary.

This module writes the files; :mod:`clinrl.evaluation.report_data` collects the data and draws the plots,
and :mod:`clinrl.evaluation.render` lays them out.

Inputs are run directories and/or eval logs. A run directory contributes its stages from
``RUN/eval/<stage>/eval_log.json`` (base → sft → grpo first), its training curves from
``RUN/sft|grpo/trainer_state.json`` and its held-out accuracy from ``RUN/heldout_eval.jsonl``; an eval
directory or ``eval_log.json`` contributes one stage named by its spec's ``stage`` or its folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from clinrl.evaluation.render import render
from clinrl.evaluation.report_data import collect


def write_report(paths: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                 title: str | None = None, markdown: bool = True) -> tuple[Path, Path | None]:
    """Write ``out`` (HTML, self-contained) and, with ``markdown``, ``out`` with ``.md`` (summary); returns
    both paths (the second None without markdown)."""
    data = collect(paths)
    page, summary = render(data, title=title)
    html_path = Path(out)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(page, encoding="utf-8")
    if not markdown:
        return html_path, None
    md_path = html_path.with_suffix(".md")
    if any(md_path.resolve() == (run / "report.md").resolve() for run in data.run_dirs):
        md_path = html_path.with_name(html_path.stem + "-summary.md")  # RUN/report.md is the run's own summary
    md_path.write_text(summary, encoding="utf-8")
    return html_path, md_path
