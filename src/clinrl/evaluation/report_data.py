"""The data side of ``clinrl report``: the stages of a run and what is drawn and tabled from them.

:func:`collect` reads run directories and eval logs into a :class:`ReportData`; the ``*_plot`` functions
turn stages into base64 PNGs and :func:`metric_rows` into table rows. :mod:`clinrl.evaluation.render`
lays them out as HTML and markdown, and :mod:`clinrl.evaluation.report` writes the files.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from clinrl.errors import DataError, require
from clinrl.evaluation.harness import LOG_NAME, read_log
from clinrl.evaluation.metrics import paired_by_group, paired_comparison
from clinrl.metrics import headline_rows

STAGE_ORDER = ("base", "sft", "grpo")
COLOURS = ("#8c96a8", "#3b7dd8", "#e07b39", "#4caf7a", "#a05cc8", "#c8a23c")


@dataclass
class Stage:
    name: str
    log: dict[str, Any]
    path: Path

    @property
    def metrics(self) -> dict[str, Any]:
        return self.log.get("metrics") or {}

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.log.get("records") or []


@dataclass
class ReportData:
    stages: list[Stage] = field(default_factory=list)
    #: stage → trainer_state.json log_history (its own step axis)
    training: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: rows of RUN/heldout_eval.jsonl (stage, step, task, accuracy, headline, final)
    heldout: list[dict[str, Any]] = field(default_factory=list)
    #: RUN/metrics.json of the (first) run directory: paired_gain, health, kept_checkpoint when present
    run_metrics: dict[str, Any] = field(default_factory=dict)
    run_dirs: list[Path] = field(default_factory=list)
    #: ``model.spec`` of the (first) run directory's config.yaml: the model the run started from
    run_model: str | None = None
    skipped: list[str] = field(default_factory=list)


# -- collecting -------------------------------------------------------------------------------------
def _stage_key(name: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER), name)


def collect(paths: Iterable[str | os.PathLike[str]]) -> ReportData:
    data = ReportData()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DataError("no such run directory or eval log", source=str(path))
        if path.is_file() or (path / LOG_NAME).exists():
            log = read_log(path)
            name = str(log["spec"].get("stage") or (path.parent.name if path.is_file() else path.name))
            data.stages.append(Stage(name, log, path))
            continue
        data.run_dirs.append(path)
        eval_root = path / "eval"
        stage_dirs = sorted((d for d in eval_root.iterdir() if (d / LOG_NAME).exists()),
                            key=lambda d: _stage_key(d.name)) if eval_root.is_dir() else []
        for d in stage_dirs:
            data.stages.append(Stage(d.name, read_log(d), d))
        found = _training_logs(path, data)
        if not stage_dirs and not found:
            raise DataError("neither a run directory (eval/<stage>/eval_log.json, sft/, grpo/, heldout_eval.jsonl) "
                            "nor an eval directory", source=str(path))
    names = [s.name for s in data.stages]
    for stage in data.stages:  # the same stage name from two runs: tell them apart
        if names.count(stage.name) > 1:
            stage.name = f"{stage.name} ({stage.path.parent.parent.name if stage.path.is_dir() else stage.path.name})"
    return data


def _training_logs(run: Path, data: ReportData) -> bool:
    """Read a run's trainer logs, held-out log and metrics.json into ``data``; whether any was found."""
    found = False
    for stage in ("sft", "grpo"):
        state = run / stage / "trainer_state.json"
        if not state.exists():  # a run stopped mid-stage (or an older run): its latest checkpoint's log
            checkpoints = sorted(((int(p.parent.name.split("-")[1]), p) for p in
                                  (run / stage).glob("checkpoint-*/trainer_state.json")
                                  if p.parent.name.split("-")[1].isdigit()), key=lambda c: c[0])
            if not checkpoints:
                continue
            state = checkpoints[-1][1]
        try:
            history = json.loads(state.read_text(encoding="utf-8")).get("log_history") or []
        except ValueError as exc:
            raise DataError(f"not valid JSON ({exc})", source=str(state)) from exc
        found = True
        if stage not in data.training:  # the first run directory given wins
            data.training[stage] = [h for h in history if isinstance(h, dict)]
    for heldout in (run / "heldout_eval.jsonl", run / "validation_eval.jsonl"):  # validation: what the run chose on
        if not heldout.exists():
            continue
        found = True
        for i, line in enumerate(heldout.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                data.skipped.append(f"{heldout} line {i}: not JSON")
                continue
            acc = row.get("accuracy") if isinstance(row, dict) else None
            acc = acc.get("value") if isinstance(acc, dict) else acc
            if isinstance(acc, (int, float)) and isinstance(row.get("step"), (int, float)):
                data.heldout.append(row)
            else:
                data.skipped.append(f"{heldout} line {i}: no numeric step/accuracy")
    config = run / "config.yaml"
    if config.exists() and data.run_model is None:
        import yaml

        try:
            spec = ((yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("model") or {}).get("spec")
            data.run_model = str(spec) if spec else None
        except (yaml.YAMLError, AttributeError):
            data.skipped.append(f"{config}: not a run config")
    metrics = run / "metrics.json"
    if metrics.exists() and not data.run_metrics:
        try:
            loaded = json.loads(metrics.read_text(encoding="utf-8"))
            data.run_metrics = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            data.skipped.append(f"{metrics}: not JSON")
    return found


def model_label(data: ReportData) -> str:
    """Which model the report is about, for its header: the run's starting model when the stages were trained from it
    (each stage then evaluates its own checkpoint, listed under Provenance), else the stages' one model."""
    models = list(dict.fromkeys(str(s.log["spec"].get("model", "–")) for s in data.stages))
    if data.run_model and (len(models) > 1 or models != [data.run_model]):
        trained = dict.fromkeys(s.name.split("-")[0] for s in data.stages)  # grpo-real: the grpo model on real rows
        return f"{data.run_model}, trained in this run ({' → '.join(trained) or 'no stage evaluated'})"
    if len(models) > 1:
        return "one per stage (see Provenance)"
    return models[0] if models else "–"


# -- plots ----------------------------------------------------------------------------------------
def _plt() -> Any:
    require("matplotlib", "report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _err(entry: dict[str, Any]) -> tuple[float, float, float]:
    v = entry.get("value")
    if not entry.get("n") or v is None or (isinstance(v, float) and math.isnan(v)):
        return (math.nan, 0.0, 0.0)
    return (100 * v, max(0.0, 100 * (v - entry["ci_low"])), max(0.0, 100 * (entry["ci_high"] - v)))


def category_plot(stages: Sequence[Stage], categories: Sequence[str]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(categories) + 2), 3.6))
    width = 0.8 / max(1, len(stages))
    for i, stage in enumerate(stages):
        groups = stage.metrics.get("accuracy_bootstrap", {}).get("groups", {}).get("category", {})
        vals = [_err(groups.get(c, {})) for c in categories]
        xs = [j + (i - (len(stages) - 1) / 2) * width for j in range(len(categories))]
        ax.bar(xs, [v[0] for v in vals], width, yerr=[[v[1] for v in vals], [v[2] for v in vals]], capsize=3,
               label=stage.name, color=COLOURS[i % len(COLOURS)], error_kw={"elinewidth": 1, "ecolor": "#333"})
    ax.set_xticks(range(len(categories)), categories)
    ax.set_ylabel("accuracy (%) with 95% CI")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, ncols=min(6, len(stages)), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.set_title("Accuracy by category", pad=24)
    return _png(fig)


def training_figures(data: ReportData) -> list[tuple[str, str, list[str]]]:
    """(stage, base64 PNG, panel titles) per trained stage, each on its own step axis."""
    from clinrl.evaluation.curves import stage_figure

    out = []
    for stage in sorted(data.training, key=_stage_key):
        heldout = [r for r in data.heldout if r.get("stage") == stage]
        if stage == "grpo" and heldout and "sft" in data.training:  # GRPO starts from the warm-up's final model
            heldout = [{**r, "step": 0} for r in data.heldout if r.get("stage") == "sft" and r.get("final")] + heldout
        drawn = stage_figure(stage, data.training[stage], heldout, _plt())
        if drawn is not None:
            fig, titles = drawn
            out.append((stage, _png(fig), titles))
    return out


def pass_at_k_plot(stages: Sequence[Stage]) -> str | None:
    series = []
    for i, stage in enumerate(stages):
        pk = stage.metrics.get("pass_at_k") or {}
        pts = sorted((int(k), _err(v["overall"])) for k, v in pk.items() if v["overall"].get("n"))
        if len(pts) > 1:
            series.append((stage.name, pts, COLOURS[i % len(COLOURS)]))
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, pts, colour in series:
        ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts], yerr=[[p[1][1] for p in pts], [p[1][2] for p in pts]],
                    marker="o", ms=4, capsize=3, label=name, color=colour)
    ax.set_xscale("log", base=2)
    ks = sorted({p[0] for _, pts, _ in series for p in pts})
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("k (samples per prompt)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False)
    ax.set_title("pass@k")
    return _png(fig)


def taxonomy_plot(rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    plt = _plt()
    classes = ("correct", "misapplied_knowledge", "missing_knowledge", "format_failure", "unscored")
    colours = ("#4caf7a", "#e0b339", "#e07b39", "#c84c4c", "#b0b0b0")
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(rows) + 1.2))
    for y, (name, tax) in enumerate(rows):
        total = sum(tax["counts"].values()) or 1
        left = 0.0
        for cls, colour in zip(classes, colours):
            share = 100 * tax["counts"].get(cls, 0) / total
            ax.barh(y, share, left=left, color=colour, label=cls.replace("_", " ") if y == 0 else None)
            left += share
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("share of completions (%)")
    ax.set_xlim(0, 100)
    ax.legend(frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(rows) < 3 else -0.2))
    ax.set_title("Failure taxonomy")
    return _png(fig)


# -- tables ---------------------------------------------------------------------------------------
def pct(entry: Any, ci: bool = True) -> str:
    """A proportion as "12.3%" (with its "[lo, hi]" interval when ``entry`` is a metric dict and ``ci``); "–" when
    there is none."""
    if isinstance(entry, dict):
        v = entry.get("value")
        if not entry.get("n") or v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        text = f"{100 * v:.1f}%"
        return text + (f" [{100 * entry['ci_low']:.1f}, {100 * entry['ci_high']:.1f}]" if ci else "")
    if isinstance(entry, (int, float)) and not (isinstance(entry, float) and math.isnan(entry)):
        return f"{100 * entry:.1f}%"
    return "–"


def metric_rows(stages: Sequence[Stage]) -> list[tuple[str, list[str]]]:
    def best(stage: Stage, key: str) -> str:
        entries = stage.metrics.get(key) or {}
        if not entries:
            return "–"
        k = max(entries, key=int)
        return f"@{k}: {pct(entries[k]['overall'])}"

    def num(value: Any, fmt: str) -> str:
        return "–" if value is None else fmt.format(value)

    rows = [
        ("samples", [str(s.metrics.get("n", len(s.records))) for s in stages]),
        ("accuracy (Wilson 95% CI)", [pct(s.metrics.get("accuracy")) for s in stages]),
        ("accuracy (bootstrap 95% CI)", [pct(s.metrics.get("accuracy_bootstrap", {}).get("overall")) for s in stages]),
        ("format valid", [pct(s.metrics.get("format_valid_rate"), ci=False) for s in stages]),
        ("truncated", [pct(s.metrics.get("truncation_rate"), ci=False) for s in stages]),
        ("mean completion tokens", [num(s.metrics.get("mean_completion_tokens"), "{:.1f}") for s in stages]),
        ("unscored samples", [str(s.metrics.get("n_unscored", "–")) for s in stages]),
        ("pass@k (largest k)", [best(s, "pass_at_k") for s in stages]),
        ("Reliable pass@k", [best(s, "reliable_pass_at_k") for s in stages]),
    ]
    return rows + task_rows(stages)


def task_rows(stages: Sequence[Stage]) -> list[tuple[str, list[str]]]:
    """Each task's own headline numbers (macro-F1, balanced accuracy, NDCG@10, mean reward, ...) per stage;
    "–" where a stage lacks one or it is undefined (e.g. balanced accuracy with one class present)."""
    per_stage = [dict(headline_rows(s.metrics)) for s in stages]
    names: list[str] = []
    for values in per_stage:
        names += [n for n in values if n not in names]
    return [(name, [values.get(name, "–") for values in per_stage]) for name in names]


def category_names(stages: Sequence[Stage]) -> list[str]:
    names: set[str] = set()
    for s in stages:
        names.update((s.metrics.get("groups") or {}).get("category", {}))
    return sorted(names)


GROUP_ROWS = 20  # groups shown per grouping (MedCalc-Bench has 55 calculators); the rest are counted


def group_changes(records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]], *,
                  limit: int = GROUP_ROWS) -> list[dict[str, Any]]:
    """Where a stage (B) improved on another (A) and where it still fails: for each grouping of the samples with at
    least two groups, one row per group — ``[group, n, accuracy A, accuracy B, B − A in points with its paired
    95% interval, "fixed / broken"]`` — lowest accuracy B first, at most ``limit`` rows (``omitted`` counts the rest)."""
    out = []
    by_grouping = paired_by_group(records_a, records_b)  # coarser groupings first (MedCalc: category, calculator)
    for grouping, groups in sorted(by_grouping.items(), key=lambda kv: (len(kv[1]), kv[0])):
        paired = {key: c for key, c in groups.items() if c["n_paired"]}
        if len(paired) < 2:  # one group: the overall numbers say it all
            continue
        order = sorted(paired.items(), key=lambda kv: (kv[1]["accuracy_b"], kv[0]))
        rows = []
        for key, c in order[:limit]:
            d = c["difference"]
            rows.append([key, c["n_paired"], pct(c["accuracy_a"]), pct(c["accuracy_b"]),
                         f"{100 * d['value']:+.1f} [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]",
                         f"{c['b_only']} / {c['a_only']}"])
        out.append({"grouping": grouping, "rows": rows, "omitted": len(order) - len(rows)})
    return out


def comparison(stages: Sequence[Stage]) -> dict[str, Any] | None:
    """Paired accuracy difference: GRPO over the SFT warm-up when a run has both (what RL added), otherwise
    the last stage over the first; a later stage on other samples (``grpo-real``) is passed over."""
    if len(stages) < 2:
        return None
    by_name = {s.name: s for s in stages}
    pairs = [(by_name["sft"], by_name["grpo"])] if {"sft", "grpo"} <= set(by_name) else []
    pairs += [(stages[0], later) for later in reversed(stages[1:])]
    for first, last in pairs:
        result = paired_comparison(first.records, last.records)
        if result["n_paired"]:
            return {**result, "a": first.name, "b": last.name}
    return None
