"""CPU kernels pinned to AVX2 (clinrl's default) vs the machine's own widest set: cost and numbers, side by side.

``clinrl`` pins PyTorch's CPU kernels to their AVX2 code paths before torch starts
(:func:`clinrl.device.pin_cpu_kernels`), so a seed's run gives the same numbers on x86 machines with and
without AVX-512. This bench says what that costs on this machine and whether it changes the numbers here:
it runs a reduced quickstart (``--sft-steps`` SFT steps, ``--grpo-steps`` GRPO steps, ``--heldout`` held-out
notes) as separate processes — the kernel choice is fixed once per process — ``--pairs`` times with the pin
and with ``CLINRL_CPU_KERNELS=native``, alternating (the order swaps from pair to pair), and prints each mode's
wall and CPU seconds (the children's own clock), the median ratio pinned / native, the kernels each run
recorded (``run_info.json``), its held-out accuracies and its stages' last training losses. Runs of one mode
must agree to the digit; the two modes agree only on a machine whose widest set is AVX2.

    python bench/bench_cpu_kernels.py --out runs/bench_cpu_kernels
    python bench/bench_cpu_kernels.py --pairs 5 --sft-steps 60 --grpo-steps 4 --out runs/bench_cpu_kernels
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODES = ("pinned", "native")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_once(mode: str, out: Path, args: argparse.Namespace) -> dict:
    """One reduced quickstart in its own process; its wall and CPU seconds, kernels and held-out numbers."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
    env["CLINRL_CPU_KERNELS"] = "avx2" if mode == "pinned" else "native"
    clinrl = Path(sys.executable).with_name("clinrl")
    command = [str(clinrl), "quickstart", "--real-source", "none", "--out", str(out),
               "--set", f"sft.max_steps={args.sft_steps}", "--set", f"grpo.max_steps={args.grpo_steps}",
               "--set", "grpo.eval_every=0", "--set", f"tasks.0.heldout_limit={args.heldout}",
               "--set", "tasks.0.validation_limit=0"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    placement = json.loads((out / "run_info.json").read_text())["placement"]
    heldout = [json.loads(line) for line in (out / "heldout_eval.jsonl").read_text().splitlines() if line.strip()]
    stages = json.loads((out / "metrics.json").read_text())["stages"]
    return {"mode": mode, "wall_seconds": wall,
            "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "kernels": placement.get("kernels"), "env": placement.get("env", {}),
            "accuracy": {row["stage"]: row["accuracy"] for row in heldout if row.get("final")},
            # the floats themselves: a short run's greedy answers can agree while its weights do not
            "last_loss": {stage: values.get("last_loss") for stage, values in stages.items()}}


def outcome(row: dict) -> tuple:
    return row["accuracy"], row["last_loss"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=positive, default=3, help="pinned / native pairs (default 3)")
    parser.add_argument("--sft-steps", type=positive, default=40)
    parser.add_argument("--grpo-steps", type=positive, default=3)
    parser.add_argument("--heldout", type=positive, default=40, help="held-out notes evaluated per stage")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"error: --out {args.out} exists and is not empty; choose another")
    rows = []
    for pair in range(args.pairs):
        for mode in (MODES if pair % 2 == 0 else MODES[::-1]):
            row = run_once(mode, args.out / f"{pair}-{mode}", args)
            rows.append(row)
            print(f"pair {pair} {mode:>6}: {row['wall_seconds']:6.1f} s wall, {row['cpu_seconds']:6.1f} s CPU, "
                  f"kernels {row['kernels']}, accuracy "
                  + ", ".join(f"{k} {v:.1%}" for k, v in row["accuracy"].items()) + ", last loss "
                  + ", ".join(f"{k} {v:.9g}" for k, v in row["last_loss"].items() if v is not None), flush=True)
    (args.out / "rows.json").write_text(json.dumps(rows, indent=2))
    by_mode = {m: [r for r in rows if r["mode"] == m] for m in MODES}
    for key in ("wall_seconds", "cpu_seconds"):
        ratios = [p[key] / n[key] for p, n in zip(by_mode["pinned"], by_mode["native"])]
        print(f"pinned / native {key.split('_')[0]}: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {len(ratios)} pairs)")
    for mode, runs in by_mode.items():
        same = all(outcome(r) == outcome(runs[0]) for r in runs)
        print(f"{mode}: kernels {runs[0]['kernels']}; its {len(runs)} runs "
              + ("agree to the digit" if same else "DIFFER: the mode is not reproducible on this machine"))
    pinned, native = by_mode["pinned"][0], by_mode["native"][0]
    if outcome(pinned) == outcome(native):
        print("pinned and native give the same floats here (the widest set here is AVX2, or nothing was pinned)")
    else:
        print("pinned and native give different floats here (losses "
              + ("and accuracies" if pinned["accuracy"] != native["accuracy"] else "only; the same accuracies")
              + "): on this machine the pin changes the run, as intended where the widest set is not AVX2")


if __name__ == "__main__":
    main()
