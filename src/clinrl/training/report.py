"""The run's markdown report: held-out accuracy and format rate after each stage, curves, samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clinrl.run_console import gain_label, gain_short
from clinrl.training.callbacks import VALIDATION, eval_records, headline_text, read_heldout
from clinrl.training.config import RunConfig


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def _ci(row: dict[str, Any]) -> str:
    ci = row.get("accuracy_ci")
    return f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else ""


def _samples(run_dir: Path, stage: str, limit: int = 3) -> list[str]:
    out = []
    for path in sorted((run_dir / "eval" / stage).rglob("eval_log.json"))[:1]:
        log = json.loads(path.read_text())
        for record in log.get("records", [])[:limit]:
            completions = record.get("completions") or []
            first = completions[0] if completions else {}
            text = str(first.get("text", ""))[:400]
            verdict = first.get("correct")
            out.append(f"- `{record.get('id')}` (correct: {verdict}, gold {json.dumps(record.get('target'))[:120]}):"
                       f"\n\n  ```\n  {text.replace(chr(10), chr(10) + '  ')}\n  ```")
    return out


def where_text(placement: dict[str, Any]) -> str:
    """``cuda (NVIDIA H200)`` or ``cpu (AMD EPYC, AVX512 kernels, 2 threads; MKL_CBWR=AVX2)``: on the CPU, what
    decides the run's float results (:func:`clinrl.device.cpu_numerics`), so a reader comparing two runs can see
    whether they ran on the same kind of machine."""
    details = [placement["accelerator"]] if placement.get("accelerator") else []
    if placement.get("cpu"):
        details.append(str(placement["cpu"]))
    if placement.get("kernels"):
        details.append(f"{placement['kernels']} kernels")
    if placement.get("threads"):
        details.append(f"{placement['threads']} thread{'s' if placement['threads'] != 1 else ''}")
    env = "; " + ", ".join(f"{k}={v}" for k, v in placement["env"].items()) if placement.get("env") else ""
    return f"{placement.get('device')}{' (' + ', '.join(details) + env + ')' if details or env else ''}"


def _group_changes(run_dir: Path, config: RunConfig, metrics: dict[str, Any]) -> list[str]:
    """For each task GRPO was paired on (``metrics.json`` ``paired_gains``), what it changed group by group (e.g.
    MedCalc's calculators) and where it still fails."""
    from clinrl.evaluation.render import group_change_section

    gains = metrics.get("paired_gains") or ([metrics["paired_gain"]] if metrics.get("paired_gain") else [])
    lines: list[str] = []
    for gain in gains:
        if not isinstance(gain, dict) or not gain.get("task"):
            continue
        a, b = gain.get("from_stage", "sft"), gain.get("to_stage", "grpo")
        records_a = eval_records(run_dir, a, gain["task"], len(config.tasks))
        records_b = eval_records(run_dir, b, gain["task"], len(config.tasks))
        if records_a and records_b:
            md = group_change_section(a, b, records_a, records_b,
                                      task=gain["task"] if len(config.tasks) > 1 else None)[1]
            lines += ["", *md[:-1]] if md else []
    return lines


def write_report(run_dir: Path, config: RunConfig, result: Any) -> Path:
    run_dir = Path(run_dir)
    info_path = run_dir / "run_info.json"
    placement = (json.loads(info_path.read_text()).get("placement") or {}) if info_path.is_file() else {}
    where = f" on {where_text(placement)} in {placement.get('dtype')}" if placement else ""
    lines = [f"# clinrl run `{config.name}`", "",
             f"Model `{config.model.spec}`{where}, seed {config.seed}, tasks "
             f"{', '.join(f'{t.name} (weight {t.weight:g}, source {t.source})' for t in config.tasks)}.", ""]
    from clinrl.evaluation.render import gain_line, health_section

    metrics = result.metrics or {}
    if metrics.get("paired_gain"):  # the run's first number: what RL added over the warm-up
        lines += [*gain_line(metrics["paired_gain"]), ""]
    health = health_section(metrics)[1]
    if health:
        lines += ["## Run health", "", *health, ""]
    final_rows = [(stage, row) for stage, rows in result.evals.items() for row in rows]
    during = sorted((r for r in read_heldout(run_dir) if not r.get("final")), key=lambda r: (r["stage"], r["step"]))
    order = {"base": 0, "sft": 1, "grpo": 2}  # the validation log: every evaluation a choice read, in run order
    validation = sorted(read_heldout(run_dir, VALIDATION), key=lambda r: (order.get(r["stage"], 3), r["step"]))
    # the task-metric column only where a task has a headline number beside accuracy (EHR, trials, rubric)
    headline = any(row.get("headline") for row in [r for _, r in final_rows] + during + validation)
    extra_head, extra_rule = (" task metric |", "---|") if headline else ("", "")

    def extra(row: dict[str, Any]) -> str:
        return f" {headline_text(row) if row.get('headline') else '—'} |" if headline else ""

    lines += ["## Held-out accuracy after each stage", "",
              "Greedy decoding on held-out samples that never appear in training; accuracy with its Wilson 95% "
              "interval; format = share of completions that follow the `<think>…</think><answer>{json}</answer>` "
              "contract." + (" The task metric is the task's own headline number (EHR: balanced accuracy, which an "
                             "always-majority answer does not raise; trials: macro-F1; rubric: mean reward)."
                             if headline else ""), "",
              "| stage | task | n | accuracy | format valid | unscored |" + extra_head,
              "|---|---|---|---|---|---|" + extra_rule]
    for stage, row in final_rows:
        lines.append(f"| {stage} | {row['task']} | {row.get('n')} | {_pct(row.get('accuracy'))}{_ci(row)} | "
                     f"{_pct(row.get('format_valid'))} | {row.get('n_unscored', 0)} |" + extra(row))
    for entry in config.eval.extra:
        if entry.source and any(s.endswith(f"-{entry.name}") for s in result.evals):
            lines += ["", f"Rows marked `-{entry.name}` are {entry.task or config.tasks[0].name} samples from "
                          f"`{entry.source}` ({entry.split} split), not from the training source: a different "
                          "distribution (e.g. real notes against synthetic ones); they are reported separately and "
                          "may be far lower for a small model."]
    lines += _group_changes(run_dir, config, metrics)
    lines += ["", "## Training", "", "| stage | steps | seconds | s/step | first → last loss | first → last reward |",
              "|---|---|---|---|---|---|"]
    for name, stage in result.metrics.get("stages", {}).items():
        sps = stage.get("seconds_per_step")
        loss = f"{stage['first_loss']:.3f} → {stage['last_loss']:.3f}" if stage.get("first_loss") is not None else "—"
        reward = (f"{stage['first_reward']:.3f} → {stage['last_reward']:.3f}"
                  if stage.get("first_reward") is not None else "—")
        skipped = " (finished earlier)" if stage.get("skipped_finished") else ""
        lines.append(f"| {name}{skipped} | {stage['global_step']} | {stage['seconds']} | "
                     f"{'—' if sps is None else f'{sps:.2f}'} | {loss} | {reward} |")
    from clinrl.evaluation.curves import STAGE_TITLES, summary_rows

    for name, stage in result.stages.items():
        rows = summary_rows(name, stage.log_history)
        if rows:
            lines += ["", f"### {STAGE_TITLES.get(name, name)}: logged signals", "",
                      "| signal | first | last | min | max |", "|---|---|---|---|---|",
                      *[f"| {' | '.join(r)} |" for r in rows]]
    for title, rows in (("### Held-out accuracy during training", during),
                        ("### Validation accuracy: samples held back from training, which `eval_every` and "
                         "`keep: best` read (the held-out split scored only the models chosen without it)",
                         validation)):
        if not rows:
            continue
        # GRPO's evaluations carry their paired gain over the warm-up's final evaluation (same samples)
        paired = next((r["paired_gain"] for r in rows if r.get("paired_gain")), None)
        gain_head, gain_rule = ((f" vs {gain_label(paired)}, points [paired 95% CI] |", "---|") if paired
                                else ("", ""))

        def gain(row: dict[str, Any]) -> str:
            return f" {gain_short(row['paired_gain'], label=False)} |" if row.get("paired_gain") else " — |"

        lines += ["", title, "",
                  "| stage | step | task | accuracy | format valid |" + extra_head + gain_head,
                  "|---|---|---|---|---|" + extra_rule + gain_rule]
        lines += [f"| {r['stage']}{' final' if r.get('final') else ''} | {r['step']} | {r['task']} | "
                  f"{_pct(r.get('accuracy'))} | {_pct(r.get('format_valid'))} |" + extra(r)
                  + (gain(r) if paired else "") for r in rows]
    last_stage = next((s for s in ("grpo", "sft", "base") if s in result.evals), None)
    if last_stage:
        samples = _samples(run_dir, last_stage)
        if samples:
            lines += ["", f"## Sample completions ({last_stage})", "", *samples]
    if result.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in result.notes]]
    lines += ["", f"Total time {result.metrics.get('seconds')} s. Files: `config.yaml`, `run_info.json`, "
                  "`heldout_eval.jsonl` (and `validation_eval.jsonl`, `eval/validation/` with a validation split), "
                  "`metrics.json`, `sft/`, `grpo/`, `eval/<stage>/eval_log.json`, "
                  "`train.log` (library output), `tb/` (TensorBoard); training curves: `report.html` "
                  "(`clinrl report RUN`).", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
