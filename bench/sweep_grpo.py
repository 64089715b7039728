"""A measured sweep of GRPO settings from one warm-up model: held-out accuracy curves side by side.

Each named arm continues the same warm-up model — with GRPO (``grpo:KEY=VALUE,...``) or with more SFT on
the warm-up set (``sft:KEY=VALUE,...``, the SFT-only baseline) — in its own process, all at once, each
stopped after ``--seconds``. Held-out accuracy is measured every ``--eval-every`` steps on the same samples
(``RUN/heldout_eval.jsonl``); the summary has each arm's curve, its seconds per step and, for GRPO arms, the
training reward and the share of tied groups. Read the curves against the steps an arm can afford at equal
compute: a GRPO step costs ``r`` SFT steps (bench_two_stage.py measures r).

    python bench/sweep_grpo.py --model runs/warm/sft/final --out runs/sweep --seconds 600 \\
        --arm lr1e-4:grpo:learning_rate=1e-4 --arm p16:grpo:prompts_per_step=16 --arm sft:sft:max_steps=600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def parse_arm(text: str) -> tuple[str, str, list[str]]:
    name, stage, rest = (text.split(":", 2) + ["", ""])[:3]
    if stage not in ("grpo", "sft") or not name:
        raise SystemExit(f"--arm {text!r}: expected NAME:grpo:KEY=VALUE,... or NAME:sft:KEY=VALUE,...")
    sets = [f"{stage}.{kv}" if not kv.startswith(("tasks.", "model.", "eval.", "sft.", "grpo.")) else kv
            for kv in filter(None, rest.split(","))]
    return name, stage, sets


def worker(ns: argparse.Namespace) -> None:
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.run import run_training

    stage = ns.worker_stage
    sets = [f"{stage}.eval_every={ns.eval_every}", *ns.base_set, *(ns.set or [])]  # an arm's own setting wins
    # the arms' curves are held-out evaluations at fixed steps, and nothing is chosen: no validation split
    config = quickstart_config("medcalc", ns.model, ns.recipe, ["tasks.0.validation_limit=0", *sets], "none")
    config.eval.stages = [stage]
    run_training(config, ns.out / ns.worker, stages=(stage,), command=sys.argv,
                 say=lambda m: print(f"[{ns.worker}] {m}", flush=True))


def collect(run_dir: Path, stage: str) -> dict:
    out: dict = {}
    log = run_dir / "heldout_eval.jsonl"
    if log.is_file():
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        out["curve"] = [(r["step"], round(r["accuracy"], 4) if r.get("accuracy") is not None else None,
                         r.get("accuracy_ci")) for r in sorted(rows, key=lambda r: r["step"])]
    states = sorted((run_dir / stage).glob("checkpoint-*/trainer_state.json")) + \
        sorted((run_dir / stage).glob("trainer_state.json"))
    history = []
    for path in states:
        history = json.loads(path.read_text()).get("log_history", history)
    rewards = [r for r in history if "reward" in r]
    if rewards:
        out["reward_curve"] = [round(r["reward"], 3) for r in rewards]
        out["tied_groups"] = [round(r.get("frac_reward_zero_std", float("nan")), 2) for r in rewards]
    times = [r.get("step_time") for r in history if r.get("step_time")]
    if times:
        out["seconds_per_step"] = round(sum(times) / len(times), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the warm-up model every arm starts from")
    parser.add_argument("--recipe", default="quickstart")
    parser.add_argument("--arm", action="append", default=[], help="NAME:grpo|sft:KEY=VALUE,...")
    parser.add_argument("--base-set", action="append", default=[], help="override applied to every arm")
    parser.add_argument("--seconds", type=float, default=600, help="each arm is stopped after this long")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per arm")
    parser.add_argument("--out", type=Path, default=Path("runs/sweep_grpo"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-stage", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.worker:
        worker(ns)
        return
    ns.out.mkdir(parents=True, exist_ok=True)
    arms = [parse_arm(a) for a in ns.arm]
    env = {**os.environ, "OMP_NUM_THREADS": str(ns.threads), "MKL_NUM_THREADS": str(ns.threads),
           "PYTHONUNBUFFERED": "1"}
    procs = {}
    for name, stage, sets in arms:
        cmd = [sys.executable, __file__, "--model", ns.model, "--recipe", ns.recipe, "--out", str(ns.out),
               "--eval-every", str(ns.eval_every), "--worker", name, "--worker-stage", stage]
        for s in ns.base_set:
            cmd += ["--base-set", s]
        for s in sets:
            cmd += ["--set", s]
        log = (ns.out / f"{name}.log").open("w")
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), stage, sets, log)
    deadline = time.monotonic() + ns.seconds
    while time.monotonic() < deadline and any(p.poll() is None for p, *_ in procs.values()):
        time.sleep(2)
    summary = {"model": ns.model, "recipe": ns.recipe, "base_set": ns.base_set, "seconds": ns.seconds, "arms": {}}
    for name, (proc, stage, sets, log) in procs.items():
        finished = proc.poll() is not None
        if not finished:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        summary["arms"][name] = {"stage": stage, "set": sets, "finished": finished, "returncode": proc.returncode,
                                 **collect(ns.out / name, stage)}
    (ns.out / "sweep.json").write_text(json.dumps(summary, indent=1, default=str))
    for name, arm in summary["arms"].items():
        curve = " ".join(f"{s}:{a}" for s, a, _ in arm.get("curve", []))
        print(f"{name:>14} {arm['stage']:4} s/step {arm.get('seconds_per_step', '-')!s:>6}  {curve}")


if __name__ == "__main__":
    main()
