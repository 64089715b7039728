"""Which threshold decisions a model gets right, by how near the finding sits to its cut-off.

A MedCalc point score written as a worked tally (``think: steps``: one ``+p = total`` line per criterion) makes
one decision per criterion. For every numeric finding of every held-out note this reads the decision that
finding feeds (:func:`clinrl.tasks.medcalc.difficulty.finding_margins`: the tally step a small shift of the
finding changes) and whether the model's line for that step gives the calculator's points, then groups the
decisions by the finding's margin — the smallest shift, as a share of its plausible range, that crosses a
cut-off. Read several eval logs of the same held-out notes side by side (a warm-up, its GRPO model, its
SFT-only continuation) to see whether training improved threshold precision (small margins) or coarse reading
(large ones). For a log with several samples per note (``clinrl eval -k N --temperature T``), a second table gives
the share of decisions right in none, some or all of the samples: one that no sample gets right gives GRPO no
advantage to follow.

    python bench/decisions_by_margin.py RUN/eval/sft/eval_log.json RUN/eval/grpo/eval_log.json \\
        SFT_ONLY/eval/sft/eval_log.json --label warm-up --label GRPO --label "SFT only" --by-finding
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from clinrl.data.sft import TALLY_VALUES

#: margin bands (upper edges, as shares of a finding's range) and their labels
BANDS = ((0.05, "1-5 %"), (0.10, "6-10 %"), (0.20, "11-20 %"), (0.30, "21-30 %"))
STEP = re.compile(r"^\s*" + TALLY_VALUES + r"[+-]\s*\d+\s*=")  # a written tally line, not prose


def band(share: float) -> str:
    return next(label for edge, label in BANDS if share <= edge + 1e-9)


def decisions(record: dict) -> list[tuple[str, str, list[bool]]]:
    """(finding, margin band, right? for each completion) for each numeric finding of one eval record."""
    from clinrl.data.sft import tally_points
    from clinrl.tasks.medcalc.difficulty import calculator_tally, finding_margins
    from clinrl.tasks.medcalc.taxonomy import think_text

    target = record["target"]
    calculator = int(target["calculator_id"])
    margins = finding_margins(calculator, (record.get("metadata") or {}).get("relevant_entities"))
    if not margins:
        return []
    gold = calculator_tally(calculator, record["metadata"]["relevant_entities"])
    written = [[tally_points(line) for line in think_text(c.get("text") or "").splitlines() if STEP.match(line)]
               for c in record.get("completions") or [{}]]
    return [(key, band(share), [step < len(w) and w[step] == gold[step] for w in written])
            for key, (share, step) in margins.items()]


def _count() -> dict[str, float]:
    return {"n": 0, "right": 0.0, "never": 0, "sometimes": 0, "always": 0}


def profile(path: Path) -> dict:
    """Per margin band (and per finding and band): decisions, the share of completions that got each right, and,
    over a log's samples, how many decisions were right in none, some or all of them."""
    records = json.loads(path.read_text())["records"]
    by_band: dict[str, dict[str, float]] = defaultdict(_count)
    by_finding: dict[tuple[str, str], dict[str, float]] = defaultdict(_count)
    samples = max((len(r.get("completions") or []) for r in records), default=0)
    for index, record in enumerate(records):
        try:
            name = (record.get("metadata") or {}).get("calculator_name") or str(record["target"]["calculator_id"])
            found = decisions(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"record {index} (id {record.get('id', '?') if isinstance(record, dict) else '?'}): "
                             f"field {exc} missing or malformed") from None
        for key, label, rights in found:
            share = sum(rights) / len(rights)
            kind = "never" if share == 0 else "always" if share == 1 else "sometimes"
            for cell in (by_band[label], by_band["all"], by_finding[(f"{name}: {key}", label)]):
                cell["n"] += 1
                cell["right"] += share
                cell[kind] += 1
    return {"notes": len(records), "samples": samples, "by_band": dict(by_band), "by_finding": dict(by_finding)}


def cell(counts: dict[str, float] | None) -> str:
    return "—" if not counts or not counts["n"] else f"{100 * counts['right'] / counts['n']:.0f} % ({counts['n']})"


def spread(counts: dict[str, float] | None) -> str:
    if not counts or not counts["n"]:
        return "—"
    return " / ".join(f"{100 * counts[kind] / counts['n']:.0f}" for kind in ("never", "sometimes", "always"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", type=Path, nargs="+", help="eval_log.json files (RUN/eval/STAGE/eval_log.json)")
    parser.add_argument("--label", action="append", default=[], help="a column name per log, in order")
    parser.add_argument("--by-finding", action="store_true", help="also one row per calculator finding and band")
    parser.add_argument("--json", type=Path, default=None, help="write the counts here too")
    ns = parser.parse_args(argv)
    if ns.label and len(ns.label) != len(ns.logs):
        parser.error(f"--label: {len(ns.label)} given for {len(ns.logs)} logs")
    for path in ns.logs:
        if not path.is_file():
            parser.error(f"{path}: no such eval log")
    labels = ns.label or [str(p) for p in ns.logs]
    profiles = []
    for path in ns.logs:
        try:
            profiles.append(profile(path))
        except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not a clinrl eval log's shape
            parser.error(f"{path}: not a clinrl eval log ({exc.__class__.__name__}: {exc})")
    if not any(p["by_band"] for p in profiles):
        sys.exit("no numeric finding with a located decision in these logs: are they MedCalc point scores "
                 "evaluated with think: steps?")
    rows = ["all", *(label for _, label in BANDS)]
    lines = ["| finding's margin to its cut-off | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    lines += [f"| {row} | " + " | ".join(cell(p["by_band"].get(row)) for p in profiles) + " |" for row in rows]
    if ns.by_finding:
        order = [label for _, label in BANDS]
        keys = sorted({k for p in profiles for k in p["by_finding"]}, key=lambda k: (k[0], order.index(k[1])))
        lines += [f"| {name} · {label} | " + " | ".join(cell(p["by_finding"].get((name, label))) for p in profiles)
                  + " |" for name, label in keys]
    sampled = [i for i, p in enumerate(profiles) if p["samples"] > 1]
    if sampled:  # logs with several completions per note (clinrl eval -k N): how often the sampler gets it right
        names = [f"{labels[i]}: never / sometimes / always right (% of decisions, {profiles[i]['samples']} samples)"
                 for i in sampled]
        lines += ["", "| finding's margin to its cut-off | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| {row} | " + " | ".join(spread(profiles[i]["by_band"].get(row)) for i in sampled) + " |"
                  for row in rows]
    print("\n".join(lines))
    if ns.json:
        ns.json.write_text(json.dumps({label: {"notes": p["notes"], "by_band": p["by_band"],
                                               "by_finding": {" · ".join(k): v for k, v in p["by_finding"].items()}}
                                       for label, p in zip(labels, profiles)}, indent=2))


if __name__ == "__main__":
    main()
