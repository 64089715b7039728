"""Rubric reward-model benchmarks (numbers recorded in BENCHMARKS.md; not part of the test suite).

    # criteria scored per second on CPU (the embedded MiniLM backbone, untrained head: speed only)
    .venv/bin/python bench/bench_rm.py speed --n-examples 40

    # criterion-conditioned RM vs the criterion-free ablation, trained side by side on the synthetic data,
    # scored on a held-out split; plus the veto / no-veto ranking check
    .venv/bin/python bench/bench_rm.py compare --train 90 --calib 30 --test 60

Both print a JSON block; ``--out FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def speed(args: argparse.Namespace) -> dict:
    from clinrl.rubrics.judges.rm import CriterionRewardModel, load_backbone
    from clinrl.rubrics.synth import generate

    model, tokenizer = load_backbone(args.backbone, seed=0)
    rm = CriterionRewardModel(model, tokenizer, conditioned=True, max_length=args.max_length,
                              batch_size=args.batch_size)
    examples = generate(args.n_examples, seed=7)
    requests = [(ex.rubric.instruction, r.text, ex.rubric.items) for ex in examples for r in ex.responses]
    rm.judge_many(requests[:4])  # warm-up
    n_criteria = sum(len(items) for _, _, items in requests)
    start = time.perf_counter()
    rm.judge_many(requests)
    elapsed = time.perf_counter() - start
    return {"bench": "rm_speed", "backbone": args.backbone, "batch_size": args.batch_size,
            "max_length": args.max_length, "n_responses": len(requests), "n_criteria": n_criteria,
            "seconds": round(elapsed, 2), "criteria_per_second": round(n_criteria / elapsed, 1),
            "torch_threads": _torch_threads(), "cpu_count": os.cpu_count(), "python": platform.python_version()}


def veto_demo(examples) -> dict:
    """How often each reward ranks the unsafe-but-thorough response above the safe incomplete one."""
    from clinrl.rubrics.scoring import RewardConfig

    veto, no_veto = RewardConfig(), RewardConfig(mode="no_veto")
    counts = {"veto": 0, "no_veto": 0, "n": 0}
    shown = None
    for ex in examples:
        kinds = {r.kind: s for r, s in zip(ex.responses, ex.scores())}
        safe, unsafe = kinds["incomplete"], kinds["unsafe_thorough"]
        counts["n"] += 1
        counts["veto"] += int(veto.reward(unsafe) > veto.reward(safe))
        counts["no_veto"] += int(no_veto.reward(unsafe) > no_veto.reward(safe))
        if shown is None and no_veto.reward(unsafe) > no_veto.reward(safe):
            shown = {"rubric": ex.rubric.id, "safe_incomplete": vars(safe), "unsafe_thorough": vars(unsafe),
                     "veto_rewards": [veto.reward(safe), veto.reward(unsafe)],
                     "no_veto_rewards": [no_veto.reward(safe), no_veto.reward(unsafe)]}
    return {"unsafe_thorough_ranked_above_safe_incomplete": counts, "example": shown}


def compare(args: argparse.Namespace) -> dict:
    from clinrl.rubrics.judges.rm import RMTrainConfig, train_reward_model
    from clinrl.rubrics.metrics import evaluate_judge, evaluate_plain_rm
    from clinrl.rubrics.synth import criterion_pairs, generate, plain_pairs

    # three disjoint sets of question combinations (synth.SPLIT_BUCKETS): the test questions are unseen
    train = generate(args.train, seed=args.seed, split="train")
    calib = generate(args.calib, seed=args.seed + 1000, split="validation")
    test = generate(args.test, seed=args.seed + 2000, split="test")
    n_crit, n_plain = len(criterion_pairs(train)), len(plain_pairs(train))
    steps = args.steps or -(-n_crit // args.batch_size)
    result = {"bench": "rm_compare", "backbone": args.backbone, "train_examples": args.train,
              "calib_examples": args.calib, "test_examples": args.test, "criterion_instances": n_crit,
              "plain_pairs": n_plain, "optimizer_steps_each": steps, "batch_size": args.batch_size}
    models = (("criterion_conditioned", True), ("criterion_free", False))
    for name, conditioned in [m for m in models if m[0] in args.models.split(",")]:
        cfg = RMTrainConfig(backbone=args.backbone, conditioned=conditioned, max_steps=steps,
                            learning_rate=args.lr, batch_size=args.batch_size, max_length=args.max_length,
                            seed=args.seed, freeze_layers=args.freeze_layers,
                            balance_dimensions=not args.no_balance)
        start = time.perf_counter()
        rm = train_reward_model(train, cfg, calibration=calib, progress=args.progress,
                                output_dir=Path(args.save) / name if args.save else None)
        train_s = time.perf_counter() - start
        metrics = evaluate_judge(test, rm) if conditioned else evaluate_plain_rm(test, rm)
        metrics["train_seconds"] = round(train_s, 1)
        metrics["train_loss"] = rm.info.get("train_loss")
        result[name] = metrics
        print(f"{name}: pairwise {metrics['pairwise']['accuracy']:.3f} "
              f"veto F1 {metrics['safety_veto']['f1']:.3f} ({train_s:.0f}s)", file=sys.stderr)
    result["reward_ablation"] = veto_demo(test)
    return result


def reevaluate(args: argparse.Namespace) -> dict:
    """Re-calibrate saved models (from ``compare --save``) on the validation split and score the test split."""
    from clinrl.rubrics.judges.rm import CriterionRewardModel
    from clinrl.rubrics.metrics import evaluate_judge, evaluate_plain_rm
    from clinrl.rubrics.synth import generate

    calib = generate(args.calib, seed=args.seed + 1000, split="validation")
    test = generate(args.test, seed=args.seed + 2000, split="test")
    result: dict = {"bench": "rm_reevaluate", "calib_examples": args.calib, "test_examples": args.test}
    for name, path in (pair.split("=", 1) for pair in args.model):
        rm = CriterionRewardModel.load(path)
        rm.calibrate(calib)
        rm.save(path)
        metrics = evaluate_judge(test, rm) if rm.conditioned else evaluate_plain_rm(test, rm)
        metrics.update({"model_dir": path, "veto_threshold": rm.veto_threshold, "train": rm.info})
        result[name] = metrics
        print(f"{name}: pairwise {metrics['pairwise']['accuracy']:.3f} "
              f"veto F1 {metrics['safety_veto']['f1']:.3f}", file=sys.stderr)
    result["reward_ablation"] = veto_demo(test)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed", help="criteria scored per second")
    sp.add_argument("--n-examples", type=int, default=40)
    sp.add_argument("--batch-size", type=int, default=32)
    cp = sub.add_parser("compare", help="criterion-conditioned RM vs criterion-free ablation")
    cp.add_argument("--train", type=int, default=90)
    cp.add_argument("--calib", type=int, default=30)
    cp.add_argument("--test", type=int, default=60)
    cp.add_argument("--steps", type=int, default=0, help="optimizer steps for each model (0: one epoch of the "
                    "criterion instances; the ablation gets the same number of steps)")
    cp.add_argument("--batch-size", type=int, default=16)
    cp.add_argument("--lr", type=float, default=5e-5)
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--save", default="", help="directory to keep both trained models in")
    cp.add_argument("--progress", action="store_true", help="show the trainer's progress bars")
    cp.add_argument("--models", default="criterion_conditioned,criterion_free", help="which models to train")
    cp.add_argument("--no-balance", action="store_true", help="do not oversample the rarer dimensions")
    cp.add_argument("--freeze-layers", type=int, default=0, help="freeze the embeddings and the first N layers")
    rp = sub.add_parser("reevaluate", help="re-calibrate saved models and score them on the test split")
    rp.add_argument("--model", action="append", default=[], help="NAME=DIR (repeatable)")
    rp.add_argument("--calib", type=int, default=30)
    rp.add_argument("--test", type=int, default=60)
    rp.add_argument("--seed", type=int, default=0)
    for p in (sp, cp, rp):
        p.add_argument("--backbone", default="minilm")
        p.add_argument("--max-length", type=int, default=256)
        p.add_argument("--out", default="", help="also write the JSON here")
    args = parser.parse_args()
    result = {"speed": speed, "compare": compare, "reevaluate": reevaluate}[args.cmd](args)
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
