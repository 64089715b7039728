"""One GPU, one script, ≤ 8 minutes: generation throughput, the warm-up, and SFT → GRPO vs SFT only.

Phases (each writes ``OUT/bench_gpu.json`` when it ends, so a run cut short still reports):

1. **model**: resolve the model (``smollm2-135m`` or a ``.gguf`` file is dequantized and cached once);
2. **throughput**: greedy generation on held-out prompts with the HF backend batched (``auto``: 256 on a
   GPU) vs one prompt at a time, and with vLLM when it is installed — tokens/s each;
3. **SFT → GRPO** (``recipes/smollm2-gpu.yaml`` unless ``--recipe``): the warm-up, a held-out evaluation
   (its seconds are the stage-evaluation speed), the warm-up's contract rate under sampling at the GRPO
   temperature, then GRPO and its held-out evaluation;
4. **SFT only** at equal compute: the warm-up trained on with SFT for the time GRPO took (capped by
   ``--budget-s``; the cap is reported), and the paired interval of (SFT → GRPO) − (SFT only).

It prints a markdown table for BENCHMARKS.md: steps/s, tokens/s, held-out accuracy with intervals, peak
GPU memory. On a CPU it runs too (``--model tiny --quick``) — that is how it is tested before a GPU run.

    python bench/bench_gpu.py --out runs/bench_gpu
    python bench/bench_gpu.py --model /path/SmolLM2-135M-Instruct.Q4_1.gguf --out runs/bench_gpu
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_two_stage import grpo_diagnostics, records  # noqa: E402

STARTED = time.perf_counter()


def elapsed() -> float:
    return round(time.perf_counter() - STARTED, 1)


def peak_memory_gib(reset: bool = True) -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    value = torch.cuda.max_memory_allocated() / 2**30
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return round(value, 2)


def throughput(backend, prompts, *, max_new_tokens: int) -> dict:
    started = time.perf_counter()
    generations = backend.generate(prompts, max_new_tokens=max_new_tokens)
    seconds = time.perf_counter() - started
    tokens = sum(g[0].n_tokens for g in generations)
    return {"prompts": len(prompts), "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1), "prompts_per_s": round(len(prompts) / seconds, 2)}


def sampled_format_rate(model_dir: str, config, samples) -> dict:
    """The warm-up's contract rate when sampling at the GRPO temperature (what GRPO's first groups see)."""
    from clinrl.evaluation.harness import run_eval
    from clinrl.training.run import stage_backend

    task = config_task(config)
    backend = stage_backend(model_dir, config)
    started = time.perf_counter()
    result = run_eval(task, samples, backend, temperature=config.grpo.temperature, top_p=config.grpo.top_p,
                      max_new_tokens=config.grpo.max_completion_length, progress=False, resume=False)
    fmt = result.metrics.get("format_valid") or {}
    return {"format_valid": fmt.get("value"), "ci": [fmt.get("ci_low"), fmt.get("ci_high")], "n": len(samples),
            "temperature": config.grpo.temperature, "accuracy_sampled": (result.metrics.get("accuracy") or {}).get("value"),
            "truncation_rate": result.metrics.get("truncation_rate"), "seconds": round(time.perf_counter() - started, 1)}


def config_task(config):
    from clinrl.registry import get_task

    settings = config.tasks[0]
    return get_task(settings.name, **settings.options)


def pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def table(summary: dict) -> str:
    rows = ["| phase | what | value |", "|---|---|---|"]
    env = summary.get("env", {})
    rows.append(f"| machine | device | {env.get('device')} ({env.get('accelerator', 'no accelerator')}), torch "
                f"{env.get('torch')}, transformers {env.get('transformers')}, trl {env.get('trl')} |")
    for name, t in (summary.get("throughput") or {}).items():
        if isinstance(t, dict) and "tokens_per_s" in t:
            rows.append(f"| throughput | {name} | {t['tokens_per_s']} tokens/s ({t['prompts']} prompts, "
                        f"{t['seconds']} s) |")
        else:
            rows.append(f"| throughput | {name} | {t} |")
    two = summary.get("two_stage") or {}
    sft, grpo, only = two.get("sft"), two.get("grpo"), two.get("sft_only")
    if sft:
        rows.append(f"| SFT warm-up | {sft['steps']} steps | {sft['steps_per_s']} steps/s, held-out accuracy "
                    f"{pct(sft['accuracy'])} {sft['ci']} (n={sft['n']}), peak {sft.get('peak_gib')} GiB |")
        rows.append(f"| stage evaluation | {sft['n']} samples, greedy ≤ {two.get('max_new_tokens')} tokens | "
                    f"{sft['eval_seconds']} s ({sft['eval_samples_per_s']} samples/s) |")
    fmt = two.get("sampled_format")
    if fmt:
        rows.append(f"| warm-up under sampling | T = {fmt['temperature']} | contract {pct(fmt['format_valid'])} "
                    f"(n={fmt['n']}), truncated {pct(fmt.get('truncation_rate'))} |")
    if grpo:
        rows.append(f"| GRPO | {grpo['steps']} steps × {two.get('completions_per_step')} completions | "
                    f"{grpo['seconds_per_step']} s/step, held-out {pct(grpo['accuracy'])} {grpo['ci']}, peak "
                    f"{grpo.get('peak_gib')} GiB |")
    if only:
        rows.append(f"| SFT only (equal compute) | +{only['steps']} steps{' (capped)' if only.get('capped') else ''} | "
                    f"held-out {pct(only['accuracy'])} {only['ci']} |")
    gain = two.get("paired_vs_sft_only")
    if gain and gain.get("delta") is not None:
        ci = gain.get("ci") or [0, 0]
        rows.append(f"| paired | (SFT → GRPO) − (SFT only) | {100 * gain['delta']:+.1f} points "
                    f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] on {gain['n']} samples |")
    warm = two.get("warmup_gain")
    if warm and warm.get("delta") is not None:
        ci = warm.get("ci") or [0, 0]
        rows.append(f"| paired | (SFT → GRPO) − warm-up | {100 * warm['delta']:+.1f} points "
                    f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] |")
    rows.append(f"| total | wall clock | {summary.get('seconds')} s |")
    return "\n".join(rows)


def stage_row(result, stage: str, run_dir: Path) -> dict:
    rows = result.evals.get(stage) or [{}]
    row = rows[0]
    stage_result = result.stages.get(stage)
    ci = row.get("accuracy_ci") or []
    out = {"accuracy": row.get("accuracy"), "ci": f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if len(ci) == 2 else "",
           "n": row.get("n"), "format_valid": row.get("format_valid"), "eval_seconds": row.get("seconds")}
    if row.get("seconds"):
        out["eval_samples_per_s"] = round(row["n"] / row["seconds"], 2)
    if stage_result is not None:
        out.update(steps=stage_result.global_step, seconds_per_step=round(stage_result.seconds_per_step or 0, 3),
                   steps_per_s=round(1 / stage_result.seconds_per_step, 2) if stage_result.seconds_per_step else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="smollm2-gpu")
    parser.add_argument("--model", default=None, help="default: the recipe's model")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--budget-s", type=float, default=460.0,
                        help="wall-clock budget: the SFT-only arm is capped to finish inside it")
    parser.add_argument("--quick", action="store_true", help="a few steps of everything (CPU check of the script)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_gpu"), help="bench_gpu.json and table.md")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where the arms' run directories go "
                        "(default: --out)")
    ns = parser.parse_args()
    ns.out.mkdir(parents=True, exist_ok=True)
    runs = ns.runs_dir or ns.out

    import torch

    from clinrl.cli.train import build_config
    from clinrl.evaluation.backends import HFBackend, VLLMBackend, vllm_available
    from clinrl.provenance import package_versions
    from clinrl.models import load_model_and_tokenizer, resolve_model
    from clinrl.training.common import placement
    from clinrl.training.health import paired_gain
    from clinrl.training.mixtures import load_mixture
    from clinrl.training.run import run_training

    overrides = list(ns.overrides)
    if ns.quick:
        overrides += ["sft.max_steps=4", "grpo.max_steps=2", "tasks.0.heldout_limit=8", "tasks.0.train_limit=64",
                      "grpo.prompts_per_step=2", "grpo.per_device_completions=16", "sft.save_steps=1000",
                      "grpo.save_steps=1000"]
    config = build_config(ns.recipe, overrides, model=ns.model)
    config.eval.stages = ["sft", "grpo"]
    config.eval.extra = []
    config.grpo.eval_every = 0  # step times are pure training: the SFT-only budget is measured from them
    where = placement(config)
    versions = package_versions()
    summary: dict = {"command": sys.argv, "recipe": ns.recipe, "model": config.model.spec, "overrides": overrides,
                     "env": {**where.describe(), "torch": torch.__version__,
                             **{k: versions.get(k) for k in ("transformers", "trl", "accelerate", "peft")},
                             "vllm": vllm_available()}}

    def save(phase: str) -> None:
        summary["seconds"], summary["last_phase"] = elapsed(), phase
        (ns.out / "bench_gpu.json").write_text(json.dumps(summary, indent=2, default=str))
        print(f"[bench_gpu {elapsed():6.1f} s] {phase} done", file=sys.stderr, flush=True)

    started = time.perf_counter()
    model_dir = resolve_model(config.model.spec)
    summary["model_resolve_seconds"] = round(time.perf_counter() - started, 1)
    config.model.spec = model_dir
    mixture = load_mixture(config.tasks, seed=config.seed)
    data = mixture.tasks[0]
    save("model")

    # -- throughput ---------------------------------------------------------------------------------------
    n_batched, n_single, budget = (8, 2, 16) if ns.quick else (128, 8, 128)
    model, tokenizer = load_model_and_tokenizer(model_dir, dtype=config.model.dtype, device=config.model.device)
    batched = HFBackend(model, tokenizer, batch_size="auto")
    prompts = [batched.render(s) for s in (data.heldout * 4)[:n_batched]]
    batched.generate(prompts[:2], max_new_tokens=4)  # warm the kernels and the allocator
    summary["throughput"] = {"hf_batched": {**throughput(batched, prompts, max_new_tokens=budget),
                                            "batch_size": batched.batch_size},
                             "hf_one_by_one": throughput(HFBackend(model, tokenizer, batch_size=1),
                                                         prompts[:n_single], max_new_tokens=budget)}
    t = summary["throughput"]
    t["batched_over_one_by_one"] = round(t["hf_batched"]["tokens_per_s"] / t["hf_one_by_one"]["tokens_per_s"], 1)
    summary["throughput_peak_gib"] = peak_memory_gib()
    del model, batched
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if vllm_available() and where.device.startswith("cuda"):
        try:
            engine = VLLMBackend(model_dir, gpu_memory_utilization=0.3)
            t["vllm"] = throughput(engine, prompts, max_new_tokens=budget)
            del engine
        except Exception as exc:  # a broken vLLM install is a finding, not a reason to lose the other phases
            t["vllm"] = f"failed: {exc.__class__.__name__}: {str(exc)[:200]}"
    else:
        t["vllm"] = "not installed" if not vllm_available() else "needs a CUDA device"
    save("throughput")

    # -- SFT → GRPO ----------------------------------------------------------------------------------------
    two: dict = {"max_new_tokens": config.eval.max_new_tokens,
                 "completions_per_step": config.grpo.prompts_per_step * config.grpo.num_generations}
    summary["two_stage"] = two
    arm_dir = runs / "sft_grpo"
    both = run_training(config, arm_dir, mixture=mixture, stages=("sft",), command=sys.argv,
                        say=lambda m: print(f"[bench_gpu] {m}", file=sys.stderr, flush=True))
    two["sft"] = {**stage_row(both, "sft", arm_dir), "peak_gib": peak_memory_gib()}
    save("sft")
    two["sampled_format"] = sampled_format_rate(str(both.stages["sft"].model_dir), config, data.heldout)
    save("sampled format")
    both = run_training(config, arm_dir, resume=True, command=sys.argv,
                        say=lambda m: print(f"[bench_gpu] {m}", file=sys.stderr, flush=True))
    two["grpo"] = {**stage_row(both, "grpo", arm_dir), "peak_gib": peak_memory_gib(),
                   "diagnostics": grpo_diagnostics(both.stages["grpo"].log_history)}
    two["warmup_gain"] = both.metrics.get("paired_gain")
    two["health"] = both.metrics.get("health")
    save("grpo")

    # -- SFT only at equal compute -------------------------------------------------------------------------
    sft_sps = two["sft"]["seconds_per_step"] or 1.0
    grpo_sps = two["grpo"]["seconds_per_step"] or 1.0
    ratio = grpo_sps / sft_sps
    wanted = math.ceil(config.grpo.max_steps * ratio)
    left = ns.budget_s - elapsed() - 2 * (two["sft"].get("eval_seconds") or 10) - 15
    affordable = max(1, int(left / sft_sps)) if left > 0 else 1
    steps = min(wanted, affordable)
    two["grpo_over_sft_step_time"] = round(ratio, 2)
    only_config = build_config(ns.recipe, overrides + ["grpo.enabled=false", f"sft.max_steps={steps}"],
                               model=str(both.stages["sft"].model_dir))
    only_config.eval.stages, only_config.eval.extra = ["sft"], []
    only_dir = runs / "sft_only"
    only = run_training(only_config, only_dir, mixture=mixture, command=sys.argv,
                        say=lambda m: print(f"[bench_gpu] {m}", file=sys.stderr, flush=True))
    two["sft_only"] = {**stage_row(only, "sft", only_dir), "wanted_steps": wanted, "capped": steps < wanted}
    two["sft_only"]["steps"] = steps
    two["paired_vs_sft_only"] = paired_gain(data.task, data.heldout, records(only_dir, "sft"),
                                            records(arm_dir, "grpo"), seed=config.seed)
    save("sft only")
    text = table(summary)
    (ns.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
