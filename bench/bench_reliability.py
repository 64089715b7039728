"""Figures for docs/reliability.md: the total request deadline and the cost of judging whole rubric responses.

    python bench/bench_reliability.py [--timeout 3] [--trickle 1.0] [--repeats 10]

1. ``clinrl eval --backend openai --timeout T`` against a local server (127.0.0.1 only) that sends its reply
   one byte every ``--trickle`` seconds: wall time, requests made and the record's outcome. A per-read timeout
   never fires on such a server; the total deadline cuts each attempt at ``T`` seconds.
2. Keyword-judge rubric scoring of synthetic reference answers followed by a safety violation, for the
   rubrics where that violation counts when it comes first, at four paddings (0 to 90,000 characters):
   milliseconds per completion and how many rewards are negative (the violation was seen).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_llm import FakeLLMServer, FakeReply  # noqa: E402

from clinrl import get_task  # noqa: E402
from clinrl.cli import app  # noqa: E402

VIOLATION = " You can safely take 900 mg a day."


def deadline(timeout: float, trickle: float) -> dict:
    server = FakeLLMServer().start()
    server.reply = lambda request: FakeReply(content='<think>x</think><answer>{"answer": 1}</answer>',
                                             trickle=trickle)
    try:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            result = CliRunner().invoke(app, [
                "eval", "--task", "medcalc", "--backend", "openai", "--model", "m", "--base-url", server.base_url,
                "--source", "synthetic", "--limit", "1", "--stratify", "none", "--out", out, "--no-resume",
                "--timeout", str(timeout)])
            took = time.perf_counter() - started
            record = json.loads((Path(out) / "eval_log.json").read_text())["records"][0]["completions"][0]
    finally:
        server.stop()
    return {"exit": result.exit_code, "seconds": round(took, 2), "requests": len(server.requests),
            "error": record["error"], "reward": record["reward"]}


def late_violation(repeats: int) -> list[dict]:
    task = get_task("rubric")
    pool = task.load("synthetic", "test", limit=200)
    # the rubrics for which the violation is one at the start of the response
    samples = [s for s in pool if task.score(task.sft_completion(s) + VIOLATION, s.target).value < 0]
    rows = []
    for padding in (0, 8_000, 20_000, 90_000):
        completions = [task.sft_completion(s) + " " * padding + VIOLATION for s in samples]
        targets = [s.target for s in samples]
        scores = task.score_many(completions, targets)
        started = time.perf_counter()
        for _ in range(repeats):
            task.score_many(completions, targets)
        per = (time.perf_counter() - started) / (repeats * len(samples)) * 1e3
        rewards = [s.value for s in scores]
        rows.append({"padding": padding, "ms_per_completion": round(per, 3),
                     "negative_rewards": sum(r is not None and r < 0 for r in rewards), "n": len(rewards)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--trickle", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    print("deadline:", json.dumps(deadline(args.timeout, args.trickle)))
    for row in late_violation(args.repeats):
        print("late violation:", json.dumps(row))


if __name__ == "__main__":
    main()
