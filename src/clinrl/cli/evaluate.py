"""``clinrl eval`` (evaluate a model on a task), ``clinrl eval compare`` and ``clinrl report``."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console

from clinrl.cli.app import TASK_OPTION_HELP, app, eval_app, parse_task_options
from clinrl.errors import ConfigError
from clinrl.types import Sample

console = Console()
BACKENDS = ("hf", "vllm", "openai")


def stratified_subset(samples: Sequence[Sample], limit: int, *, key: str = "category", seed: int = 0) -> list[Sample]:
    """``limit`` samples taken round-robin over the values of ``metadata[key]`` (seeded shuffle inside
    each group), so a small evaluation still covers every category. Input order is kept."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[str(s.metadata.get(key))].append(i)
    rng = random.Random(seed)
    for idx in groups.values():
        rng.shuffle(idx)
    chosen: list[int] = []
    queues = [groups[g] for g in sorted(groups)]
    while len(chosen) < min(limit, len(samples)):
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop())
    return [samples[i] for i in sorted(chosen)]


def make_backend(backend: str, model: str, *, batch_size: str = "auto", base_url: Optional[str] = None,
                 timeout: float = 60.0, max_concurrency: int = 8, cache_dir: Optional[Path] = None,
                 device: str = "auto", dtype: str = "auto") -> Any:
    """Build a generation backend from CLI-style arguments."""
    from clinrl.evaluation import backends

    if backend in ("hf", "vllm"):
        size: Any = batch_size if batch_size == "auto" else _positive_int(batch_size, "--batch-size")
        return backends.local_backend(backend, model, device=device, dtype=dtype, batch_size=size,
                                      say=lambda m: console.print(m, style="yellow", highlight=False))
    if backend == "openai":
        from clinrl.llm import ChatClient

        client = ChatClient(base_url=base_url, model=model, timeout=timeout, max_concurrency=max_concurrency,
                            cache_dir=cache_dir)
        return backends.OpenAIBackend(client, model=model)
    raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _positive_int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer or 'auto', got {value!r}") from exc
    if number < 1:
        raise ConfigError(f"{name} must be >= 1, got {number}")
    return number


@eval_app.callback(invoke_without_command=True)
def eval_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task name (see `clinrl tasks`)."),
    model: str = typer.Option("tiny", "--model", "-m", help="hf/vllm: a hub id, local directory, .gguf file or "
                              "embedded name (tiny, smollm2-135m). openai: the model name the endpoint serves."),
    backend: str = typer.Option("hf", "--backend", "-b", help="hf: transformers with batching (CPU or GPU); vllm: "
                                "fast GPU generation (extra 'vllm'); openai: any OpenAI-compatible endpoint."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Hub dataset id, local file, or 'synthetic' "
                                         "where the task supports it; default: the task's hub dataset."),
    split: str = typer.Option("test", help="Split to evaluate (use the training split for RLVR viability)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Evaluate at most N samples."),
    stratify: Optional[str] = typer.Option("category", help="With --limit: take the N samples round-robin over "
                                           "this metadata field so every category is covered; 'none' = the "
                                           "first N rows."),
    n_samples: int = typer.Option(1, "--n-samples", "-k", help="Completions per sample; > 1 gives pass@k and "
                                  "Reliable pass@k (needs --temperature > 0)."),
    temperature: float = typer.Option(0.0, help="0 = greedy (deterministic held-out accuracy); EHRMIND samples "
                                      "at 0.6 for pass@k."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass (EHRMIND: 0.95 when sampling)."),
    max_new_tokens: int = typer.Option(512, help="Generation budget per completion; truncated completions are "
                                       "counted (EHRMIND allows 1,500 for MedCalc; 512 keeps CPU runs short)."),
    seed: int = typer.Option(0, help="Seed for sampling and for the stratified subset."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Directory for eval_log.json (resumed when it "
                                       "exists with the same spec) and report.md."),
    resume: bool = typer.Option(True, help="Reuse finished records of a matching log in --out (same task, model, "
                                "decoding, seed, source, split, limit and the same samples)."),
    keep_failures: bool = typer.Option(False, "--keep-failures", help="With resume: keep the records whose "
                                       "generation failed (endpoint errors) as they are; by default they are "
                                       "generated again."),
    batch_size: str = typer.Option("auto", help="hf: prompts per forward pass, or 'auto' (256 on a GPU, 16 on "
                                   "CPU; halves on out-of-memory)."),
    device: str = typer.Option("auto", "--device", help="hf/vllm: auto (cuda → mps → cpu), cpu, cuda, cuda:N or "
                               "mps."),
    dtype: str = typer.Option("auto", "--dtype", help="hf/vllm: auto (bfloat16 on a CUDA GPU that supports it, "
                              "else float32), float32, bfloat16 or float16."),
    contract: Optional[str] = typer.Option(None, help="ehrmind (strict think/answer JSON), official (the "
                                           "benchmark's own evaluator) or lenient (a generous reading); "
                                           "default: the task's."),
    base_url: Optional[str] = typer.Option(None, help="openai: endpoint URL (default: CLINRL_LLM_BASE_URL); the "
                                           "key is read from CLINRL_LLM_API_KEY, never from the command line."),
    timeout: float = typer.Option(60.0, help="openai: seconds per request before a retry."),
    concurrency: int = typer.Option(8, help="openai: requests in flight."),
    cache_dir: Optional[Path] = typer.Option(None, help="openai: on-disk reply cache (default: none)."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-O", help=TASK_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout (progress and the "
                                 "file locations go to stderr)."),
) -> None:
    """Evaluate a model on a task: generate, score with the task's verifier, write a versioned eval log.

    Examples:

      clinrl eval --task medcalc --model tiny --source test_data.csv --limit 70 --out runs/eval/tiny

      clinrl eval --task medcalc --model smollm2-135m --split train -k 8 --temperature 0.6 --top-p 0.95 --out runs/viab

      clinrl eval --task medcalc --backend openai --model my-model --base-url http://127.0.0.1:8000/v1 --out runs/api

    Interrupted runs resume from --out. Failed generations (endpoint errors) are recorded as unscored,
    never as wrong, and counted in the summary.
    """
    if ctx.invoked_subcommand is not None:
        return
    if task is None:
        console.print(ctx.get_help())
        raise typer.Exit(0)
    from clinrl.evaluation.harness import run_eval
    from clinrl.registry import get_task

    from clinrl.evaluation.backends import check_decoding

    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    check_decoding(n_samples, temperature, top_p, max_new_tokens)  # before any data or model is loaded
    from clinrl.models import resolve_task_options

    t = get_task(task, **resolve_task_options(parse_task_options(option, contract)))
    stratify_key = None if (stratify or "none").lower() == "none" else stratify
    if limit is not None and stratify_key:
        samples = stratified_subset(t.load(source, split, seed=seed), limit, key=stratify_key, seed=seed)
    else:
        samples = t.load(source, split, limit=limit, seed=seed)
    if not samples:
        raise ConfigError(f"no samples loaded for task {task!r} from {source or 'its default source'} ({split})")
    engine = make_backend(backend, model, batch_size=batch_size, base_url=base_url, timeout=timeout,
                          max_concurrency=concurrency, cache_dir=cache_dir, device=device, dtype=dtype)
    result = run_eval(t, samples, engine, n_samples=n_samples, temperature=temperature, top_p=top_p,
                      max_new_tokens=max_new_tokens, seed=seed, out_dir=out, resume=resume,
                      retry_failed=not keep_failures,
                      extra_spec={"source": source, "split": split, "limit": limit, "stratify": stratify_key})
    out_console = Console(stderr=True) if as_json else console
    if result.n_resumed:
        out_console.print(f"resumed {result.n_resumed} finished sample(s) from {result.log_path}")
    if result.n_retried:
        out_console.print(f"generated again {result.n_retried} sample(s) whose generation had failed "
                          "(--keep-failures keeps them)")
    if as_json:
        from clinrl.cli.output import echo_json

        echo_json(result.metrics)
    else:
        print_summary(result.metrics)
    if out is not None:
        from clinrl.evaluation.report import write_report

        html_path, md_path = write_report([out], out / "report.html")
        out_console.print(f"eval log: {result.log_path}\nreport: {html_path} (+ {md_path.name})")
    fail_if_nothing_generated(result.metrics, result.records)


def fail_if_nothing_generated(metrics: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Exit 1 when every generation failed: the run measured nothing, so it must not look like success to a script
    (the records stay in the log, unscored, and ``--resume`` generates them again)."""
    total, failed = metrics.get("n_completions") or 0, metrics.get("n_generation_errors") or 0
    if total and failed >= total:
        first = next((c.get("error") for r in records for c in r.get("completions") or [] if c.get("error")), None)
        Console(stderr=True).print(f"error: all {total} generations failed; nothing was scored. First error: {first}",
                                   markup=False, highlight=False)
        raise typer.Exit(1)


def print_summary(metrics: dict[str, Any]) -> None:
    from clinrl.cli.core import print_metrics
    from clinrl.cli.output import print_table

    print_metrics(metrics)
    rows = [[key.replace("_", " "), str(metrics.get(key))]
            for key in ("n_completions", "n_generation_errors", "n_unscored_completions")]
    for key in ("format_valid_rate", "truncation_rate"):
        value = metrics.get(key)
        rows.append([key.replace("_", " "), "-" if value is None else f"{100 * value:.1f}%"])
    tokens = metrics.get("mean_completion_tokens")
    rows.append(["mean completion tokens", "-" if tokens is None else f"{tokens:.1f}"])
    for k, entry in (metrics.get("pass_at_k") or {}).items():
        o = entry["overall"]
        if o["n"]:
            rows.append([f"pass@{k}", f"{100 * o['value']:.1f}% [{100 * o['ci_low']:.1f}, {100 * o['ci_high']:.1f}]"])
    for k, entry in (metrics.get("reliable_pass_at_k") or {}).items():
        o = entry["overall"]
        if o["n"]:
            rows.append([f"reliable pass@{k}", f"{100 * o['value']:.1f}%"])
    for k, entry in (metrics.get("majority_at_k") or {}).items():
        o = entry["overall"]
        if o["n"]:
            rows.append([f"maj@{k} (majority vote)", f"{100 * o['value']:.1f}%"])
    print_table(console, ["metric", "value"], rows, title="generation", first_style=None)


@eval_app.command("compare")
def compare_command(
    baseline: Path = typer.Argument(..., help="Eval log (or its directory) of the baseline run A."),
    candidate: Path = typer.Argument(..., help="Eval log (or its directory) of the candidate run B."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
) -> None:
    """Paired comparison of two runs on the same samples: accuracy B − A with a bootstrap 95% interval."""
    from clinrl.evaluation.harness import read_log
    from clinrl.evaluation.metrics import paired_comparison

    a, b = read_log(baseline), read_log(candidate)
    result = paired_comparison(a["records"], b["records"], seed=seed)
    d = result["difference"]
    if not result["n_paired"]:
        raise ConfigError("the two logs share no scored samples (compare runs on the same samples)")
    console.print(f"paired samples: {result['n_paired']} (dropped unscored: {result['n_dropped_unscored']}, "
                  f"only in A: {result['n_only_in_a']}, only in B: {result['n_only_in_b']})")
    console.print(f"accuracy A {100 * result['accuracy_a']:.1f}%  B {100 * result['accuracy_b']:.1f}%  "
                  f"B − A = {100 * d['value']:+.1f} points [95% CI {100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}]"
                  f"; fixed by B: {result['b_only']}, broken by B: {result['a_only']}", highlight=False)
    console.print(json.dumps(result, default=str), highlight=False, soft_wrap=True)


@app.command("report")
def report_command(
    paths: list[Path] = typer.Argument(..., help="Run directories (with eval/<stage>/, sft/, grpo/, "
                                       "heldout_eval.jsonl) and/or eval directories / eval_log.json files."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write; the markdown "
                             "summary goes next to it (same name, .md)."),
    title: Optional[str] = typer.Option(None, help="Report title (default: from the run)."),
) -> None:
    """Render one self-contained HTML report (+ markdown summary) from runs and eval logs.

    Stages are read from RUN/eval/<stage>/eval_log.json (base, sft, grpo) or named after each eval
    directory; training curves come from RUN/sft|grpo/trainer_state.json and RUN/heldout_eval.jsonl.
    """
    from clinrl.evaluation.report import write_report

    html_path, md_path = write_report(paths, out, title=title)
    console.print(f"wrote {html_path} and {md_path}")
