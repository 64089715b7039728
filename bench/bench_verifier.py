"""Throughput of the MedCalc verifier on realistic (~2 KB) completions, one core.

    python bench/bench_verifier.py [--n 20000] [--repeats 5]

Prints completions scored per second (median of repeats) for: the strict contract parser alone,
full strict scoring (parse + official MedCalc rule) on a mix of answer forms (numbers, numbers with
units, "N out of M", dates, gestational ages, arithmetic expressions), the same on plain numeric
answers (what a trained model mostly writes), the official contract (MedCalc-Bench's evaluator
reproduced rule for rule) and the lenient contract (its answer locator with a generous reading).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from clinrl import get_task
from clinrl.rewards.contract import parse_contract

TARGETS = [
    {"calculator_id": 2, "ground_truth": "25.238", "lower_limit": "23.9761", "upper_limit": "26.4999"},
    {"calculator_id": 4, "ground_truth": "3", "lower_limit": "3", "upper_limit": "3"},
    {"calculator_id": 13, "ground_truth": "09/23/2014", "lower_limit": "09/23/2014", "upper_limit": "09/23/2014"},
    {"calculator_id": 69, "ground_truth": "('14 weeks', '1 days')", "lower_limit": "", "upper_limit": ""},
]
ANSWERS = [25.1, "25.238 mL/min", 3, "3 out of 9", "09/23/2014", ["14 weeks", "1 days"], "(140-87)*48/(72*1.4)"]


def make_completion(rng: random.Random, plain: bool = False) -> str:
    sentences = [
        "The patient is an 87-year-old man with a weight of 48 kg and a height of 163 cm.",
        "Serum creatinine is 1.4 mg/dL, so we use the Cockcroft-Gault equation.",
        "CrCl = ((140 - age) * weight * 1) / (72 * creatinine) = (53 * 48) / (100.8) = 25.238 mL/min.",
        "His BMI is 18.1 kg/m^2, which is underweight, so the actual body weight is used.",
        "Checking each criterion of the score in turn and adding the points.",
    ]
    think = " ".join(rng.choice(sentences) for _ in range(26))[:1900]
    value = round(rng.uniform(0, 200), rng.choice((0, 1, 2, 3))) if plain else rng.choice(ANSWERS)
    answer = json.dumps({"answer": value})
    return f"{think}</think>\n<answer>{answer}</answer>"


def rate(fn, items, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            fn(item)
        rates.append(len(items) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    completions = [make_completion(rng) for _ in range(args.n)]
    pairs = [(c, TARGETS[i % len(TARGETS)]) for i, c in enumerate(completions)]
    official = [(json.dumps({"step_by_step_thinking": c[:1900], "answer": "25.2"}), t) for c, t in pairs]
    task = get_task("medcalc")
    mean_len = sum(map(len, completions)) / len(completions)
    print(f"{args.n} completions, mean {mean_len:.0f} characters, median of {args.repeats} repeats, one core")
    r_parse = rate(lambda c: parse_contract(c, ("answer",)), completions, args.repeats)
    r_strict = rate(lambda p: task.score(p[0], p[1]), pairs, args.repeats)
    plain = [(make_completion(rng, plain=True), TARGETS[i % 2]) for i in range(args.n)]
    r_plain = rate(lambda p: task.score(p[0], p[1]), plain, args.repeats)
    r_official = rate(lambda p: task.score(p[0], p[1], contract="official"), official, args.repeats)
    r_lenient = rate(lambda p: task.score(p[0], p[1], contract="lenient"), official, args.repeats)
    print(f"strict contract parse only : {r_parse:>10,.0f} completions/s")
    print(f"strict contract full score : {r_strict:>10,.0f} completions/s")
    print(f"  ... plain numeric answers: {r_plain:>10,.0f} completions/s")
    print(f"official extraction score  : {r_official:>10,.0f} completions/s")
    print(f"lenient extraction score   : {r_lenient:>10,.0f} completions/s")


if __name__ == "__main__":
    main()
