"""Extrapolating GRPO's update: θ(α) = θ_warm-up + α · (θ_GRPO − θ_warm-up), α chosen on the validation split.

GRPO at the quickstart's learning rate moves the warm-up a short way in 30 steps, and the held-out curve
wanders by a few points between checkpoints. Moving further along the same direction (α > 1: the model
extrapolation of Zheng et al., 2024, "Weak-to-Strong Extrapolation Expedites Alignment") costs no training; α
between 0 and 1 interpolates back toward the warm-up (WiSE-FT's weight interpolation). Both are only honest when
α is chosen on samples the reported number never saw: this script scores every α on the run's validation split
(``tasks[].validation_limit``; 200 new notes of the training distribution when the run held back none), picks the
best (ties go to the α nearest 1, the model GRPO trained), and reports the held-out numbers of every α with the
paired gain over the warm-up, and, given the SFT-only arm of ``bench_two_stage.py``, over that arm.

    python bench/extrapolate_grpo.py RUN [RUN ...] --alphas 0.5 1 1.5 2 3 [--sft-only BENCH/seed0/sft_only ...]

RUN is a run directory with ``sft/final`` and ``grpo/final`` (a quickstart, or a bench arm ``seedS/sft_grpo``); the
run's own ``config.yaml`` gives its seed, task, held-out and validation samples. The CPU kernels are pinned as the
``clinrl`` command pins them (``CLINRL_CPU_KERNELS=native`` for runs trained unpinned).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

VALIDATION_DEFAULT = 200


def blend(warm: dict, grpo: dict, alpha: float) -> dict:
    """θ_warm + α (θ_grpo − θ_warm), tensor by tensor (integer buffers are kept from GRPO's model)."""
    out = {}
    for name, theta in grpo.items():
        base = warm[name]
        out[name] = base + alpha * (theta - base) if theta.is_floating_point() else theta
    return out


def pick(scores: dict[float, float | None]) -> float:
    """The α with the best validation score; ties go to the α nearest 1."""
    scored = [(value, -abs(alpha - 1.0), alpha) for alpha, value in scores.items() if value is not None]
    if not scored:
        raise SystemExit("no α was scored on the validation split")
    return max(scored)[2]


def run_one(run: Path, alphas: list[float], sft_only: Path | None, out: Path, say) -> dict:
    import yaml

    from clinrl.evaluation.harness import LOG_NAME
    from clinrl.models import load_model_and_tokenizer
    from clinrl.settings import from_dict
    from clinrl.training.callbacks import evaluate_heldout
    from clinrl.training.config import RunConfig
    from clinrl.training.health import mean_headline, paired_gain
    from clinrl.training.mixtures import load_mixture

    config = from_dict(RunConfig, yaml.safe_load((run / "config.yaml").read_text()), "config")
    for task in config.tasks:
        task.validation_limit = task.validation_limit or VALIDATION_DEFAULT
    mixture = load_mixture(config.tasks, seed=config.seed)
    data = mixture.tasks[0]
    warm_model, tokenizer = load_model_and_tokenizer(str(run / "sft" / "final"), dtype="float32", device="cpu")
    grpo_model, _ = load_model_and_tokenizer(str(run / "grpo" / "final"), dtype="float32", device="cpu")
    warm = {k: v.detach().clone() for k, v in warm_model.state_dict().items()}
    grpo = {k: v.detach().clone() for k, v in grpo_model.state_dict().items()}
    model = grpo_model
    tokens = config.eval.max_new_tokens

    def evaluate(label: str, split: str) -> tuple[list[dict], list[dict]]:
        where = out / "_".join(run.resolve().parts[-3:]) / f"{label}-{split}"  # bench arms share a name
        samples = data.validation if split == "validation" else data.heldout
        rows = evaluate_heldout(model, tokenizer, [(data.task, samples)], stage=label, step=0, max_new_tokens=tokens,
                                out_dir=where, split="validation" if split == "validation" else "held-out")
        return rows, json.loads((where / LOG_NAME).read_text())["records"]

    results: dict[float, dict] = {}
    for alpha in sorted({0.0, 1.0, *alphas}):  # α 0: the warm-up; α 1: GRPO's final model
        model.load_state_dict(blend(warm, grpo, alpha))
        label = f"alpha{alpha:g}"
        val_rows, _ = evaluate(label, "validation")
        held_rows, held_records = evaluate(label, "heldout")
        results[alpha] = {"validation": mean_headline(val_rows), "heldout": mean_headline(held_rows),
                          "records": held_records}
        say(f"{run}: α {alpha:g}: validation {100 * results[alpha]['validation']:.1f} %, held-out "
            f"{100 * results[alpha]['heldout']:.1f} %")
    chosen = pick({a: r["validation"] for a, r in results.items()})
    base = results[0.0]["records"]
    rows = []
    for alpha, r in sorted(results.items()):
        gain = paired_gain(data.task, data.heldout, base, r["records"], seed=config.seed)
        rows.append({"alpha": alpha, "validation": r["validation"], "heldout": r["heldout"],
                     "vs_warmup": {k: gain[k] for k in ("delta", "ci", "n")}})
    summary = {"run": str(run), "seed": config.seed, "n_validation": len(data.validation),
               "n_heldout": len(data.heldout), "chosen_alpha": chosen, "rows": rows}
    if sft_only is not None:
        only = sft_only / "eval" / "sft" / LOG_NAME
        if not only.is_file():
            raise SystemExit(f"--sft-only {sft_only}: no {only}")
        only_records = json.loads(only.read_text())["records"]
        for alpha in (1.0, chosen):
            gain = paired_gain(data.task, data.heldout, only_records, results[alpha]["records"], seed=config.seed)
            summary[f"vs_sft_only_alpha{alpha:g}"] = {k: gain[k] for k in ("value_a", "delta", "ci", "n")}
    return summary


def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def interval(gain: dict) -> str:
    ci = gain.get("ci") or [None, None]
    text = f"{100 * gain['delta']:+.1f}" if gain.get("delta") is not None else "–"
    return text + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if None not in ci else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories with sft/final and grpo/final")
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.5, 1.5, 2.0, 3.0],
                        help="extrapolation factors besides 0 (the warm-up) and 1 (GRPO's model)")
    parser.add_argument("--sft-only", nargs="*", type=Path, default=[],
                        help="for each run, the SFT-only arm of bench_two_stage.py (compared at α 1 and the chosen α)")
    parser.add_argument("--out", type=Path, default=Path("bench_out/extrapolate"), help="evaluation logs and summary")
    ns = parser.parse_args(argv)
    if ns.sft_only and len(ns.sft_only) != len(ns.runs):
        parser.error(f"--sft-only takes one directory per run ({len(ns.runs)}), got {len(ns.sft_only)}")
    for run in ns.runs:
        for stage in ("sft", "grpo"):
            if not (run / stage / "final").is_dir() or not (run / "config.yaml").is_file():
                parser.error(f"{run}: not a run directory with config.yaml, sft/final and grpo/final")
    from clinrl.device import pin_cpu_kernels

    pin_cpu_kernels()
    say = lambda m: print(f"[extrapolate] {m}", file=sys.stderr, flush=True)  # noqa: E731
    ns.out.mkdir(parents=True, exist_ok=True)
    summaries = [run_one(run, ns.alphas, (ns.sft_only or [None] * len(ns.runs))[i], ns.out, say)
                 for i, run in enumerate(ns.runs)]
    (ns.out / "summary.json").write_text(json.dumps(summaries, indent=2))
    print("| run | seed | α | validation | held-out | held-out − warm-up [95 % CI] |")
    print("|---|---|---|---|---|---|")
    for s in summaries:
        for row in s["rows"]:
            mark = " **(chosen)**" if row["alpha"] == s["chosen_alpha"] else ""
            print(f"| {s['run']} | {s['seed']} | {row['alpha']:g}{mark} | {pct(row['validation'])} | "
                  f"{pct(row['heldout'])} | {interval(row['vs_warmup'])} |")
    for s in summaries:
        for key in (k for k in s if k.startswith("vs_sft_only")):
            print(f"{s['run']}: {key.replace('_', ' ')}: SFT only {pct(s[key]['value_a'])} %, "
                  f"difference {interval(s[key])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
