"""HTML and markdown rendering of a report (the data and plots come from :mod:`clinrl.evaluation.report_data`)."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any, Sequence

from clinrl.evaluation import report_data as rd
from clinrl.evaluation.diagnostics import ADVISED, NEEDS, VIABLE, rlvr_viability
from clinrl.metrics import format_prior

CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;color:#1d2330;
line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 32px 60px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:34px 0 10px;border-bottom:2px solid #dde2ea;padding-bottom:4px}
.sub{color:#5b6475;font-size:14px}
table{border-collapse:collapse;background:#fff;font-size:13.5px;margin:6px 0 10px;box-shadow:0 1px 2px #0001}
th,td{padding:6px 12px;border-bottom:1px solid #e6e9ef;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;background:#fff;border:1px solid #e6e9ef;border-radius:4px;margin:6px 0}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border-radius:6px;padding:12px 16px;min-width:170px;box-shadow:0 1px 2px #0002}
.card .v{font-size:24px;font-weight:650}.card .l{font-size:12.5px;color:#5b6475}
.up{color:#23864f}.down{color:#c0392b}
details{background:#fff;border:1px solid #e6e9ef;border-radius:4px;margin:6px 0;padding:6px 10px}
summary{cursor:pointer;font-weight:600;font-size:14px}
pre{white-space:pre-wrap;word-break:break-word;font-size:12.5px;background:#f3f4f7;padding:8px;border-radius:4px;
max-height:320px;overflow:auto}
.note{font-size:13px;color:#5b6475;max-width:900px}
.tag{display:inline-block;font-size:12px;padding:1px 7px;border-radius:9px;background:#e8ecf3;margin-right:4px}
.verdict-rl-viable{color:#23864f;font-weight:600}.verdict-warm-up{color:#b7791f;font-weight:600}
.verdict-needs{color:#c0392b;font-weight:600}
figure{margin:10px 0}figcaption{margin-top:2px}.card.gain{border-left:4px solid #3b7dd8}
ul.health{background:#fff7e6;border:1px solid #f0d9a8;border-radius:4px;padding:8px 8px 8px 28px;font-size:14px}
"""


VERDICT_CLASSES = {VIABLE: "verdict-rl-viable", ADVISED: "verdict-warm-up", NEEDS: "verdict-needs"}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    def cell(i: int, c: Any) -> str:
        verdict = VERDICT_CLASSES.get(str(c))
        cls = verdict or ("num" if i >= numeric_from else "")
        return f"<td class='{cls}'>{esc(c)}</td>" if cls else f"<td>{esc(c)}</td>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def img(b64: str | None, alt: str) -> str:
    return f"<img alt='{esc(alt)}' src='data:image/png;base64,{b64}'>" if b64 else ""


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _gain_cards(gains: Any) -> list[str]:
    """The paired gain of RL over the warm-up (``metrics.json`` ``paired_gain``: one dict or a list)."""
    cards = []
    for g in gains if isinstance(gains, list) else [gains]:
        if not isinstance(g, dict) or not isinstance(g.get("delta"), (int, float)):
            continue
        ci = g.get("ci") if isinstance(g.get("ci"), (list, tuple)) and len(g.get("ci")) == 2 else None
        cls = ("up" if ci[0] > 0 else "down" if ci[1] < 0 else "") if ci else ""
        interval = f", 95% CI [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ", no interval"
        cards.append(f"<div class='card gain'><div class='v {cls}'>{100 * g['delta']:+.1f} pts</div><div class='l'>"
                     f"{esc(g.get('to_stage', 'grpo'))} − {esc(g.get('from_stage', 'sft'))}: "
                     f"{esc(g.get('metric', 'accuracy'))} on {esc(g.get('task', '–'))}{esc(interval)}<br>"
                     f"paired on {esc(g.get('n', '–'))} held-out samples</div></div>")
    return cards


def gain_line(gains: Any) -> list[str]:
    lines = []
    for g in gains if isinstance(gains, list) else [gains]:
        if isinstance(g, dict) and isinstance(g.get("delta"), (int, float)):
            ci = g.get("ci") if isinstance(g.get("ci"), (list, tuple)) and len(g.get("ci")) == 2 else None
            lines.append(f"Paired gain {g.get('to_stage', 'grpo')} − {g.get('from_stage', 'sft')} on "
                         f"{g.get('task', '–')} {g.get('metric', 'accuracy')}: {100 * g['delta']:+.1f} points"
                         + (f", 95% CI [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")
                         + f" (n={g.get('n', '–')}).")
    return lines


def _cards(stages: Sequence[rd.Stage], cmp: dict[str, Any] | None, run_metrics: dict[str, Any]) -> str:
    # first card: the paired gain of RL over the warm-up (from the run), else the first-vs-last comparison
    cards = _gain_cards(run_metrics.get("paired_gain")) if run_metrics.get("paired_gain") else []
    if cmp and not cards:
        d = cmp["difference"]
        cls = "up" if d["ci_low"] > 0 else "down" if d["ci_high"] < 0 else ""
        cards.append(f"<div class='card'><div class='v {cls}'>{100 * d['value']:+.1f} pts</div><div class='l'>"
                     f"{esc(cmp['b'])} − {esc(cmp['a'])}, 95% CI [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]"
                     f"<br>paired on {cmp['n_paired']} samples</div></div>")
    for s in stages:
        cards.append(f"<div class='card'><div class='v'>{esc(rd.pct(s.metrics.get('accuracy'), ci=False))}</div>"
                     f"<div class='l'>accuracy · {esc(s.name)} (n={esc(s.metrics.get('n', '–'))})</div></div>")
    return "<div class='cards'>" + "".join(cards) + "</div>"


def group_change_section(a: str, b: str, records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]],
                         task: str | None = None) -> tuple[str, list[str]]:
    """Where ``b`` improved on ``a`` and where it still fails, one table per grouping of the samples
    (:func:`clinrl.evaluation.report_data.group_changes`): HTML and markdown lines; empty without two groups."""
    changes = rd.group_changes(records_a, records_b)
    if not changes:
        return "", []
    of = f" on {task}" if task else ""
    intro = (f"Each group's held-out accuracy after {a} and after {b}, and {b} − {a} paired on the same samples with "
             f"its bootstrap 95% interval (fixed / broken: samples {b} got right that {a} got wrong, and the "
             f"reverse). Lowest accuracy after {b} first: where the model still fails.")
    parts, md = [f"<h2>By group: what {esc(b)} changed{esc(of)}</h2><p class='note'>{esc(intro)}</p>"], \
        [f"## By group: what {b} changed{of}", "", intro, ""]
    for change in changes:
        header = [change["grouping"], "n", a, b, f"{b} − {a}, points [95% CI]", "fixed / broken"]
        more = (f"{change['omitted']} more {change['grouping']} groups are not shown (RUN/eval/<stage>/eval_log.json "
                "holds every sample)." if change["omitted"] else "")
        parts.append(table(header, change["rows"]) + (f"<p class='note'>{esc(more)}</p>" if more else ""))
        md += [md_table(header, change["rows"]), *([more] if more else []), ""]
    return "".join(parts), md


HEALTH_LABELS = {"heldout_drop": "held-out metric fell", "reward_collapse": "reward collapsed",
                 "constant_answers": "constant answers", "below_prior": "no better than a reader-free guess"}


def health_section(run_metrics: dict[str, Any]) -> tuple[str, list[str]]:
    """The run's health warnings and the checkpoint kept (``metrics.json``), as HTML and markdown lines."""
    health, kept = run_metrics.get("health"), run_metrics.get("kept_checkpoint")
    if health is None and not kept:
        return "", []
    items, md, notes = [], [], []  # markdown: the warnings as a list, then one paragraph per note
    for h in health or []:
        if not isinstance(h, dict):
            continue
        label = HEALTH_LABELS.get(str(h.get("kind")), str(h.get("kind", "warning")).replace("_", " "))
        items.append(f"<li><b>{esc(label)}</b> ({esc(h.get('stage', '–'))}): {esc(h.get('message', ''))}</li>")
        md.append(f"- **{label}** ({h.get('stage', '–')}): {h.get('message', '')}")
    body = (f"<ul class='health'>{''.join(items)}</ul>" if items else
            "<p class='note'>No health warnings: the held-out metric did not fall, the reward did not collapse, "
            "the answers were not constant and every trained model beat the reader-free baseline.</p>"
            if health is not None else "")
    if not items and health is not None:
        notes.append("No health warnings.")
    for prior in run_metrics.get("answer_prior") or []:  # the floor every number above is read against
        if isinstance(prior, dict) and isinstance(prior.get("value"), (int, float)):
            text = format_prior(prior)
            line = text[0].upper() + text[1:] + "."
            body += f"<p class='note'>{esc(line)}</p>"
            notes.append(line)
    if isinstance(kept, dict):
        metric, heldout = kept.get("metric"), kept.get("heldout")
        on = "validation" if kept.get("chosen_on") == "validation" else "held-out"
        why = (f"the best {on} " + (f"score, {100 * metric:.1f}%" if isinstance(metric, (int, float))
                                     else "score") if kept.get("policy") == "best" else "the last one")
        line = (f"Kept checkpoint: {kept.get('stage', '–')} step {kept.get('step', '–')} ({why}), "
                f"{kept.get('path', '–')}")
        if kept.get("policy") == "best" and on == "validation":
            line += (". It was chosen on the validation split, samples held back from training"
                     + (f"; its held-out score, {100 * heldout:.1f}%, comes from a choice that did not see the "
                        "held-out split." if isinstance(heldout, (int, float)) else "."))
        elif kept.get("policy") == "best":  # as the console says: the pick saw the held-out split
            line += ". It was chosen on the held-out split itself, so its held-out score is optimistic."
        body += f"<p class='note'>{esc(line)}</p>"
        notes.append(line)
    for note in notes:  # a blank line first: a line right after a list item would continue that item
        md += ["", note] if md else [note]
    return "<h2>Run health</h2>" + body, md


def _taxonomies(stages: Sequence[rd.Stage]) -> list[tuple[str, dict[str, Any]]]:
    """Each stage's failure taxonomy, from its task's ``failure_taxonomy`` hook (None: the task has none)."""
    out = []
    for s in stages:
        task = _task_for(s) if s.records else None
        taxonomy = task.failure_taxonomy(s.records) if task is not None else None
        if taxonomy is not None:
            out.append((s.name, taxonomy))
    return out


def _viability(stages: Sequence[rd.Stage]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for s in stages:
        if (s.log["spec"].get("decoding") or {}).get("n_samples", 1) >= 2:
            try:
                out.append((s.name, rlvr_viability(s.records, n_choices=s.metrics.get("n_choices"))))
            except ValueError:
                continue
    return out


def _task_for(stage: rd.Stage) -> Any:
    """The stage's task (for answer formatting); None when it is not registered here."""
    from clinrl.registry import get_task

    try:
        return get_task(str(stage.log["spec"].get("task")))
    except Exception:  # a task from a package that is not installed: plain formatting
        return None


def answer_text(task: Any, answer: Any, target: Any) -> str:
    from clinrl.tasks.base import display_value

    if task is not None and isinstance(target, dict):
        try:
            return task.display_answer(answer, target)
        except Exception:  # formatting must never break the report
            pass
    return display_value(answer)


def target_text(task: Any, target: Any) -> str:
    if task is not None and isinstance(target, dict):
        try:
            return task.display_target(target)
        except Exception:
            pass
    return json.dumps(target, default=str)


def _examples(stage: rd.Stage, taxonomy: dict[str, Any] | None, limit: int = 6) -> str:
    task = _task_for(stage)
    items = []
    if taxonomy:
        for cls, examples in taxonomy["examples"].items():
            for ex in examples:
                items.append((cls.replace("_", " "), ex["id"], ex["category"], ex["reason"],
                              None if ex["answer"] is None else answer_text(task, ex["answer"], ex["target"]),
                              target_text(task, ex["target"]), ex["text"]))
    else:
        for r in stage.records:
            comp = (r.get("completions") or [{}])[0]
            if comp.get("correct") is False:
                answer = comp.get("answer")
                items.append(("wrong", r["id"], r.get("category"), comp.get("explanation", ""),
                              None if answer is None else answer_text(task, answer, r.get("target")),
                              target_text(task, r.get("target")), comp.get("text", "")[:1500]))
            if len(items) >= limit:
                break
    out = []
    for cls, sid, cat, reason, answer, truth, text in items[:limit * 2]:
        shown = "no readable answer" if answer is None else f"answer {answer}"
        out.append(f"<details><summary><span class='tag'>{esc(cls)}</span> sample {esc(sid)} · {esc(cat)} · "
                   f"{esc(shown)} · truth {esc(truth)}</summary><div class='note'>{esc(reason)}</div>"
                   f"<pre>{esc(text) or '(empty completion)'}</pre></details>")
    return "".join(out) or "<p class='note'>No failures to show.</p>"


def _placement(spec: dict) -> str:
    """Where the evaluated model ran (the HF backend records its device and dtype), else "–"."""
    options = spec.get("backend_options") or {}
    device, dtype = options.get("device"), str(options.get("dtype") or "").replace("torch.", "")
    return f"{device} / {dtype}" if device else "–"


def _decoding(d: dict[str, Any]) -> str:
    return (f"n={d.get('n_samples')}, temperature={d.get('temperature')}, top-p={d.get('top_p')}, "
            f"max {d.get('max_new_tokens')} tokens")


def render(data: rd.ReportData, title: str | None = None) -> tuple[str, str]:
    """``(html, markdown)`` for the collected report data."""
    stages = data.stages
    names = [s.name for s in stages]
    first = stages[0].log["spec"] if stages else {}
    title = title or f"clinrl report — {first.get('task', 'training run')}"
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmp = rd.comparison(stages)
    parts = [f"<h1>{esc(title)}</h1><div class='sub'>{esc(created)} · stages: {esc(', '.join(names) or 'none')}"
             f" · model: {esc(rd.model_label(data))} · task: {esc(first.get('task', '–'))} "
             f"v{esc(first.get('task_version', ''))}</div>"]
    md = [f"# {title}", "",
          f"Generated {created}. Stages: {', '.join(names) or 'none'}. Model: {rd.model_label(data)}.", ""]
    gains = gain_line(data.run_metrics.get("paired_gain")) if data.run_metrics.get("paired_gain") else []
    md += [*gains, ""] if gains else []
    if stages or gains:
        parts.append(_cards(stages, cmp, data.run_metrics))
    health_html, health_md = health_section(data.run_metrics)
    if health_html:
        parts.append(health_html)
        md += ["## Run health", "", *health_md, ""]
    if stages:
        rows = rd.metric_rows(stages)
        parts.append("<h2>Metrics by stage</h2>" + table(["metric", *names], [[m, *v] for m, v in rows]))
        md += ["## Metrics by stage", "", md_table(["metric", *names], [[m, *v] for m, v in rows]), ""]
        if cmp:
            d = cmp["difference"]
            line = (f"Paired on {cmp['n_paired']} samples: {cmp['b']} − {cmp['a']} = {100 * d['value']:+.1f} points, "
                    f"95% CI [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]; fixed {cmp['b_only']}, "
                    f"broken {cmp['a_only']}, unscored pairs left out: {cmp['n_dropped_unscored']}.")
            parts.append(f"<p class='note'>{esc(line)}</p>")
            md += [line, ""]
        cats = rd.category_names(stages)
        if cats:
            cat_rows = [[c, *[rd.pct(((s.metrics.get("accuracy_bootstrap") or {}).get("groups") or {})
                                      .get("category", {}).get(c)) for s in stages]] for c in cats]
            parts.append("<h2>Accuracy by category</h2>" + img(rd.category_plot(stages, cats), "accuracy by category")
                         + table(["category", *names], cat_rows)
                         + "<p class='note'>Bootstrap 95% intervals over the samples of each category.</p>")
            md += ["## Accuracy by category (bootstrap 95% CI)", "", md_table(["category", *names], cat_rows), ""]
        by_name = {s.name: s for s in stages}
        changed = group_change_section(cmp["a"], cmp["b"], by_name[cmp["a"]].records,
                                       by_name[cmp["b"]].records) if cmp else ("", [])
        parts.append(changed[0])
        md += changed[1]
        calc = ((stages[-1].metrics.get("accuracy_bootstrap") or {}).get("groups") or {}).get("calculator")
        if calc and not (changed[0] and stages[-1].name in (cmp["a"], cmp["b"])):  # e.g. grpo-real's own rows
            rows_c = [[k, rd.pct(v), v["n"]] for k, v in calc.items()]
            parts.append(f"<details><summary>Accuracy by calculator ({esc(stages[-1].name)}, {len(rows_c)} "
                         f"calculators)</summary>{table(['calculator', 'accuracy [95% CI]', 'n'], rows_c)}</details>")
    figures = rd.training_figures(data) if data.training else []
    if figures:
        from clinrl.evaluation.curves import STAGE_TITLES, summary_rows

        parts.append("<h2>Training</h2><p class='note'>Each stage on its own step axis, from "
                     "<code>RUN/&lt;stage&gt;/trainer_state.json</code> (the values TRL logs every logging step); "
                     "held-out points (diamonds, right axis: the task's headline metric, else accuracy, greedy) "
                     "from <code>RUN/heldout_eval.jsonl</code> (validation points, where the run held a validation "
                     "split back to choose on, from <code>RUN/validation_eval.jsonl</code>). Tied groups: share of "
                     "GRPO groups whose completions all got the same reward, which carry no learning signal.</p>")
        md += ["## Training", ""]
        for stage, png, titles in figures:
            label = STAGE_TITLES.get(stage, stage)
            rows_s = summary_rows(stage, data.training.get(stage, []))
            caption = f"{label}: " + "; ".join(titles)
            parts.append(f"<figure id='curves-{esc(stage)}'>{img(png, caption)}<figcaption class='note'>"
                         f"{esc(caption)}.</figcaption></figure>"
                         + (table(["signal", "first", "last", "min", "max"], rows_s) if rows_s else ""))
            md += [f"**{label}**: {'; '.join(titles)}", ""]
            if rows_s:
                md += [md_table(["signal", "first", "last", "min", "max"], rows_s), ""]
    pk = rd.pass_at_k_plot(stages)
    if pk:
        parts.append("<h2>pass@k</h2>" + img(pk, "pass@k"))
    viab = _viability(stages)
    if viab:
        parts.append("<h2>RLVR viability</h2><p class='note'>EHRMIND's diagnostic: pass@k of the model on the "
                     "<b>training</b> split per category. Where pass@k is low, GRPO sees no correct samples and "
                     "RL alone cannot add the missing knowledge: run the SFT warm-up first. maj@k is the accuracy of "
                     "the most common sampled answer: where RL that only sharpens the policy onto its own modal "
                     "answer would land.</p>")
        md += ["## RLVR viability", ""]
        for name, v in viab:
            split = next((s.log["spec"].get("split") for s in stages if s.name == name), None)
            rows_v = [[g, r["n"], rd.pct(r["pass_at_1"]), rd.pct(r["pass_at_k"]),
                       rd.pct(r["majority_at_k"]) if r.get("majority_at_k") else "–",
                       f"{100 * r['mixed_groups']:.0f}%", r["verdict"]] for g, r in v["groups"].items()]
            header = ["category", "prompts", "pass@1", f"{'Reliable ' if v['reliable'] else ''}pass@{v['k']}",
                      f"maj@{v['k']}", "mixed groups", "verdict"]
            warn = "" if split in (None, "train") else f" (split '{split}': the reading assumes the training split)"
            parts.append(f"<p><b>{esc(name)}</b>{esc(warn)}</p>" + table(header, rows_v))
            md += [f"**{name}**{warn}", "", md_table(header, rows_v), ""]
    taxes = _taxonomies(stages)
    if taxes:
        classes = ("correct", "misapplied_knowledge", "missing_knowledge", "format_failure", "unscored")
        rows_t = [[name, *[t["counts"][c] for c in classes]] for name, t in taxes]
        header = ["stage", *[c.replace("_", " ") for c in classes]]
        parts.append("<h2>Failure taxonomy</h2>" + img(rd.taxonomy_plot(taxes), "failure taxonomy") + table(header, rows_t)
                     + "<p class='note'>Rules (docs/evaluation.md): format failure = contract broken or unreadable "
                       "answer; misapplied knowledge = an arithmetic slip, or the calculator reproduces the answer "
                       "from the values the completion states, or the rule is named; missing knowledge = no or wrong "
                       "formula / criteria.</p>")
        md += ["## Failure taxonomy", "", md_table(header, rows_t), ""]
    if stages:
        last_tax = dict(taxes).get(stages[-1].name)
        parts.append(f"<h2>Example failures ({esc(stages[-1].name)})</h2>" + _examples(stages[-1], last_tax))
        prov = [[s.name, s.log["spec"].get("model"), s.log["spec"].get("backend"), _placement(s.log["spec"]),
                 _decoding(s.log["spec"].get("decoding") or {}), s.log["spec"].get("seed"),
                 s.log["spec"].get("git_revision") or "–", s.log.get("status")] for s in stages]
        parts.append("<h2>Provenance</h2>" + table(["stage", "model", "backend", "device / dtype", "decoding", "seed",
                                                    "git", "status"], prov, numeric_from=99))
    if data.skipped:
        parts.append("<p class='note'>Skipped: " + esc("; ".join(data.skipped[:10])) + "</p>")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")
    return page, "\n".join(md) + "\n"
