"""Pre-train the embedded ``tiny`` model on clinrl's own procedural corpus, for the "better starting point" question.

The quickstart's ``tiny`` model starts from random weights: its warm-up must teach the output contract, every
calculator's thresholds and the counting at once, and what GRPO then finds to sharpen is little (BENCHMARKS.md).
EHRMIND starts from a pretrained LLM that already knows the rules and misapplies them. This script gives ``tiny``
such a prior, cheaply and without a download: plain causal-LM training (TRL's ``SFTTrainer`` on a ``text``
column) on synthetic notes from clinrl's generator for *all* its calculators, each followed by the long-form
worked explanation (the rule, each criterion's value against its threshold, the running total) — textbook
knowledge in another format than the warm-up's compact tally. Notes are ``mixed`` difficulty from their own seed
stream; the script counts how many of them coincide with the quickstart's held-out notes (expected: none).

The result is a model directory that every clinrl command takes as ``--model DIR``:

    python bench/pretrain_tiny.py --out runs/tiny_pre    # 8,000 notes, 700 steps: ~17 min on 2 CPU cores
    OMP_NUM_THREADS=1 python bench/bench_two_stage.py --model runs/tiny_pre --seeds 0 --skip-grpo-only --out OUT
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

#: the corpus's own seed stream (the quickstart's splits use seeds 0.. shifted per split)
CORPUS_SEED = 7_340_033


def corpus_texts(n: int, seed: int, eos: str) -> list[str]:
    from clinrl.tasks.medcalc.synth import generate_rows

    rows = generate_rows(n, calculators=None, seed=seed, difficulty="mixed", progress=True)
    texts = []
    for row in rows:
        texts.append(f"{row['Patient Note']}\n{row['Question']}\n{row['Ground Truth Explanation']}\n"
                     f"Answer: {row['Ground Truth Answer']}{eos}")
    return texts


def heldout_overlap(texts: list[str], seed: int) -> int:
    """How many corpus notes are verbatim held-out notes of the quickstart recipe for ``seed``."""
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.mixtures import load_mixture

    data = load_mixture(quickstart_config("medcalc", "tiny", "quickstart", [f"seed={seed}"], "none").tasks,
                        seed=seed).tasks[0]
    notes = {s.prompt[-1]["content"].split("\n\nWhat is")[0] for s in data.heldout}
    return sum(1 for t in texts if t.split("\n")[0] in notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--rows", type=int, default=8000, help="corpus size (notes with worked explanations)")
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0, help="the tiny build's seed and the training seed")
    parser.add_argument("--overlap-seeds", type=int, nargs="*", default=[0, 1, 2],
                        help="quickstart seeds whose held-out notes the corpus is checked against")
    args = parser.parse_args(argv)
    for name in ("rows", "steps", "batch", "max_length"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from clinrl.device import resolve_placement
    from clinrl.models.tiny import TinySpec, tiny_dir

    base = tiny_dir(TinySpec(seed=args.seed))
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    texts = corpus_texts(args.rows, CORPUS_SEED + args.seed, tokenizer.eos_token)
    overlap = {s: heldout_overlap(texts, s) for s in args.overlap_seeds}
    print(f"corpus: {len(texts)} notes; verbatim held-out notes per quickstart seed: {overlap}", flush=True)

    where = resolve_placement("auto", "auto")  # float32 on the CPU, bf16 autocast on a CUDA GPU
    started = time.time()
    config = SFTConfig(output_dir=str(args.out / "trainer"), max_steps=args.steps,
                       per_device_train_batch_size=args.batch, learning_rate=args.lr, lr_scheduler_type="cosine",
                       warmup_steps=min(50, args.steps // 10), max_length=args.max_length, dataset_text_field="text",
                       logging_steps=max(1, min(50, args.steps // 10)), save_strategy="no", report_to=[],
                       seed=args.seed, packing=False, use_cpu=where.on_cpu, bf16=where.dtype == torch.bfloat16)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_dict({"text": texts}),
                         processing_class=tokenizer)
    trainer.train()
    seconds = time.time() - started
    args.out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    summary = {"base": str(base), "rows": len(texts), "steps": args.steps, "batch": args.batch, "lr": args.lr,
               "seconds": round(seconds, 1), "first_loss": losses[0] if losses else None,
               "last_loss": losses[-1] if losses else None, "heldout_overlap": overlap}
    (args.out / "pretrain.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
