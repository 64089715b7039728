"""What GRPO has to learn from: pass@k curves, group statistics and lucky answers, from ``clinrl eval -k`` logs.

GRPO moves a policy only through prompts whose sampled group holds both right and wrong completions, and the
reward only says *which* completion to reinforce. For each multi-sample eval log given (run on the training
split, ``-k N --temperature T``), this prints one row per log:

* pass@k for k = 1, 2, 4, … N (unbiased estimator) and Reliable pass@k (lucky guesses in a small answer space
  discounted, :func:`clinrl.evaluation.metrics.reliable_pass_at_k`);
* maj@k, the accuracy of the most common answer among k draws (:func:`clinrl.evaluation.metrics.majority_at_k`):
  what a policy sharpened onto its own modal answer would score, the most that RL which only sharpens can buy;
* the chance that a GRPO group of ``--group`` completions drawn from these N is *mixed* (has a non-zero
  advantage), and the mean within-group reward std such a group would see;
* distinct answers per prompt (how much the sampler explores);
* for point scores written as a worked tally (``think: steps``: one ``+p = total`` line per criterion), the share
  of correct completions whose tally differs from the calculator's own at some step — a right answer for a
  wrong reason, which the outcome reward reinforces all the same.

    clinrl eval --task medcalc --model RUN/sft/final --source SRC --split train -k 16 --temperature 1.0 \\
        --limit 192 -O prompt_style=compact --out EVAL_SFT
    python bench/passk_profile.py EVAL_SFT EVAL_GRPO --source SRC -O prompt_style=compact
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

from clinrl.data.sft import TALLY_VALUES

TALLY = re.compile(r"^\s*" + TALLY_VALUES + r"([+-]\s*\d+)\s*=\s*-?\d+\s*$", re.MULTILINE)


def tally(text: str) -> list[int]:
    """The per-criterion points of a worked tally (``+1 = 1`` / ``-1 = 0`` lines), in order."""
    return [int(points.replace(" ", "")) for points in TALLY.findall(text or "")]


def mixed_group_chance(n: int, c: int, g: int) -> float:
    """P(a group of g completions drawn without replacement from n, c of them correct, has both kinds)."""
    if g > n:
        raise ValueError(f"group size {g} > {n} samples")
    all_right = math.comb(c, g) / math.comb(n, g)
    all_wrong = math.comb(n - c, g) / math.comb(n, g)
    return 1.0 - all_right - all_wrong


def profile(log: dict, gold_steps: dict[str, list[int]] | None, group: int) -> dict:
    from clinrl.evaluation.metrics import majority_at_k, pass_at_k, reliable_pass_at_k, scored

    records = [r for r in log["records"] if len(scored(r.get("completions") or [])) >= 2]
    n = min(len(scored(r["completions"])) for r in records)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= n]
    n_choices = (log.get("metrics") or {}).get("n_choices")
    out: dict = {"model": log["spec"]["model"], "temperature": log["spec"]["decoding"]["temperature"],
                 "n_prompts": len(records), "samples_per_prompt": n, "pass_at_k": {}, "reliable_pass_at_k": {},
                 "majority_at_k": {}}
    mixed, stds, distinct = [], [], []
    lucky = right = 0
    for r in records:
        comps = scored(r["completions"])[:n]
        flags = [bool(c["correct"]) for c in comps]
        answers = [c.get("answer") for c in comps]
        for k in ks:
            out["pass_at_k"].setdefault(k, []).append(pass_at_k(n, sum(flags), k))
            if k > 1:
                out["reliable_pass_at_k"].setdefault(k, []).append(
                    reliable_pass_at_k(flags, answers, k, n_choices, seed=0))
                out["majority_at_k"].setdefault(k, []).append(majority_at_k(flags, answers, k, seed=0))
        if group <= n:
            mixed.append(mixed_group_chance(n, sum(flags), group))
        p = sum(flags) / n
        stds.append(math.sqrt(p * (1 - p)))
        distinct.append(len({json.dumps(a, sort_keys=True, default=str) for a in answers}))
        if gold_steps is not None and r["id"] in gold_steps:
            for c, ok in zip(comps, flags):
                if ok:
                    right += 1
                    lucky += tally(c.get("text", "")) != gold_steps[r["id"]]
    out["pass_at_k"] = {k: statistics.fmean(v) for k, v in out["pass_at_k"].items()}
    out["reliable_pass_at_k"] = {k: statistics.fmean(v) for k, v in out["reliable_pass_at_k"].items()}
    out["majority_at_k"] = {k: statistics.fmean(v) for k, v in out["majority_at_k"].items()}
    out[f"mixed_group_chance_g{group}"] = statistics.fmean(mixed) if mixed else None
    out["mean_outcome_std"] = statistics.fmean(stds)
    out["mean_distinct_answers"] = statistics.fmean(distinct)
    if gold_steps is not None:
        out["correct_completions"] = right
        out["correct_with_a_wrong_step"] = lucky / right if right else None
    return out


def gold_tallies(log: dict, source: str, options: list[str]) -> dict[str, list[int]]:
    """The calculator's own tally for every prompt of the log (same source, split and seed as the eval)."""
    from clinrl.cli.app import parse_task_options
    from clinrl.registry import get_task

    task = get_task(log["spec"]["task"], **parse_task_options(options))
    split = next(iter({r["id"].rsplit("-", 1)[0] for r in log["records"]}))
    wanted = {r["id"] for r in log["records"]}
    samples = [s for s in task.load(source, split, seed=log["spec"]["seed"]) if s.id in wanted]
    return {s.id: tally(task.sft_completion(s, "steps")) for s in samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evals", nargs="+", type=Path, help="clinrl eval --out directories (or eval_log.json files)")
    parser.add_argument("--source", default=None, help="the eval's source: compare tallies with the calculator's")
    parser.add_argument("-O", "--option", action="append", default=[], help="task option, as for clinrl eval")
    parser.add_argument("--group", type=int, default=8, help="GRPO group size (num_generations)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ns = parser.parse_args()

    rows = []
    for path in ns.evals:
        log = json.loads((path / "eval_log.json" if path.is_dir() else path).read_text())
        gold = gold_tallies(log, ns.source, ns.option) if ns.source else None
        rows.append({"eval": str(path), **profile(log, gold, ns.group)})
        print(f"[passk] {path}: done", file=sys.stderr, flush=True)
    ks = sorted({k for r in rows for k in r["pass_at_k"]})
    head = ["eval", "T"] + [f"pass@{k}" for k in ks] + [f"reliable@{k}" for k in ks if k > 1] + [
        f"maj@{k}" for k in ks if k > 1] + [
        f"mixed g={ns.group}", "distinct answers", "right, wrong step"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        cells = [Path(r["eval"]).name, f"{r['temperature']:g}"]
        cells += [f"{100 * r['pass_at_k'][k]:.1f}" for k in ks]
        cells += [f"{100 * r['reliable_pass_at_k'][k]:.1f}" for k in ks if k > 1]
        cells += [f"{100 * r['majority_at_k'][k]:.1f}" for k in ks if k > 1]
        mixed = r[f"mixed_group_chance_g{ns.group}"]
        cells += ["—" if mixed is None else f"{100 * mixed:.0f} %", f"{r['mean_distinct_answers']:.2f}",
                  "—" if r.get("correct_with_a_wrong_step") is None else
                  f"{100 * r['correct_with_a_wrong_step']:.0f} % of {r['correct_completions']}"]
        print("| " + " | ".join(cells) + " |")
    if ns.json:
        ns.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
