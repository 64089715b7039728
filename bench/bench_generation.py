"""Batched vs one-by-one generation with clinrl's HF backend, measured side by side in one run.

    .venv/bin/python bench/bench_generation.py --model tiny --prompts 32 --max-new-tokens 64
    .venv/bin/python bench/bench_generation.py --model smollm2-135m --prompts 16 --max-new-tokens 48
    .venv/bin/python bench/bench_generation.py --model DIR --vllm     # adds vLLM (GPU + the 'vllm' extra)

Prompts are MedCalc-style chat prompts from the task's synthetic source (rendered with the model's chat
template and EHRMIND pre-fill), so lengths vary as in a real evaluation. Greedy decoding; each
configuration runs once after a short warm-up. Throughput = generated tokens / wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time


def run(backend, prompts, max_new_tokens):
    start = time.perf_counter()
    out = backend.generate(prompts, max_new_tokens=max_new_tokens)
    seconds = time.perf_counter() - start
    tokens = sum(g.n_tokens for per in out for g in per)
    return {"seconds": round(seconds, 2), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "texts": [per[0].text for per in out]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="model spec for clinrl.models.load_model_and_tokenizer")
    parser.add_argument("--prompts", type=int, default=32, help="number of prompts")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", default="16", help="batched configuration: an int or 'auto'")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--vllm", action="store_true", help="also time vLLM on the same prompts (GPU)")
    args = parser.parse_args()

    import torch

    from clinrl.evaluation.backends import HFBackend
    from clinrl.models import load_model_and_tokenizer
    from clinrl.registry import get_task

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model_and_tokenizer(args.model)
    task = get_task("medcalc")
    samples = task.load("synthetic", "test", limit=args.prompts, seed=0)
    batched = HFBackend(model, tokenizer, batch_size=args.batch_size if args.batch_size == "auto"
                        else int(args.batch_size))
    single = HFBackend(model, tokenizer, batch_size=1)
    prompts = [batched.render(s) for s in samples]
    batched.generate(prompts[:2], max_new_tokens=4)  # warm-up (allocations, kernels)

    results = {"one_by_one": run(single, prompts, args.max_new_tokens),
               f"batched_{args.batch_size}": run(batched, prompts, args.max_new_tokens)}
    if args.vllm:
        from clinrl.evaluation.backends import VLLMBackend
        from clinrl.models import resolve_model

        engine = VLLMBackend(resolve_model(args.model))
        engine.generate(prompts[:2], max_new_tokens=4)
        results["vllm"] = run(engine, prompts, args.max_new_tokens)
    base = results["one_by_one"]
    same = sum(a == b for a, b in zip(base["texts"], results[f"batched_{args.batch_size}"]["texts"]))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {args.model} ({n_params / 1e6:.1f}M params), {len(prompts)} prompts, max_new_tokens "
          f"{args.max_new_tokens}, torch threads {torch.get_num_threads()}, device {model.device}")
    for name, r in results.items():
        speedup = r["tokens_per_s"] / base["tokens_per_s"]
        print(f"{name:>14}: {r['tokens']:6d} tokens in {r['seconds']:7.2f} s = {r['tokens_per_s']:8.1f} tok/s "
              f"({speedup:.2f}x)")
    print(f"greedy outputs identical to one-by-one: {same}/{len(prompts)}")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "texts"} for k, v in results.items()}))


if __name__ == "__main__":
    main()
