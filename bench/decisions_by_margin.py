"""Which threshold decisions a model gets right, by how near the finding sits to its cut-off.

A MedCalc point score written as a worked tally (``think: steps``: one ``+p = total`` line per criterion) makes
one decision per criterion. For every numeric finding of every held-out note this reads the decision that
finding feeds (:func:`clinrl.tasks.medcalc.difficulty.finding_margins`: the tally step a small shift of the
finding changes) and whether the model's line for that step gives the calculator's points, then groups the
decisions by the finding's margin — the smallest shift, as a share of its plausible range, that crosses a
cut-off. Read several eval logs of the same held-out notes side by side (a warm-up, its GRPO model, its
SFT-only continuation) to see whether training improved threshold precision (small margins) or coarse reading
(large ones).

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

#: margin bands (upper edges, as shares of a finding's range) and their labels
BANDS = ((0.05, "1-5 %"), (0.10, "6-10 %"), (0.20, "11-20 %"), (0.30, "21-30 %"))
STEP = re.compile(r"^\s*([+-]\s*\d+)\s*=")


def band(share: float) -> str:
    return next(label for edge, label in BANDS if share <= edge + 1e-9)


def decisions(record: dict) -> list[tuple[str, str, bool]]:
    """(finding, margin band, right?) for each numeric finding of one eval record's first completion."""
    from clinrl.tasks.medcalc.difficulty import finding_margins, tally_points
    from clinrl.tasks.medcalc.taxonomy import think_text

    target = record["target"]
    calculator = int(target["calculator_id"])
    margins = finding_margins(calculator, (record.get("metadata") or {}).get("relevant_entities"))
    if not margins:
        return []
    gold = tally_points(calculator, record["metadata"]["relevant_entities"])
    text = (record.get("completions") or [{}])[0].get("text") or ""
    written = ["".join(m.group(1).split()) for m in map(STEP.match, think_text(text).splitlines()) if m]
    return [(key, band(share), step < len(written) and written[step] == gold[step])
            for key, (share, step) in margins.items()]


def profile(path: Path) -> dict:
    records = json.loads(path.read_text())["records"]
    by_band: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_finding: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        name = (record.get("metadata") or {}).get("calculator_name") or str(record["target"]["calculator_id"])
        for key, label, right in decisions(record):
            for cell in (by_band[label], by_band["all"], by_finding[(f"{name}: {key}", label)]):
                cell[0] += right
                cell[1] += 1
    return {"notes": len(records), "by_band": dict(by_band), "by_finding": dict(by_finding)}


def cell(counts: list[int] | None) -> str:
    return "—" if not counts or not counts[1] else f"{100 * counts[0] / counts[1]:.0f} % ({counts[1]})"


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
    profiles = [profile(p) for p in ns.logs]
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
    print("\n".join(lines))
    if ns.json:
        ns.json.write_text(json.dumps({label: {"notes": p["notes"], "by_band": p["by_band"],
                                               "by_finding": {" · ".join(k): v for k, v in p["by_finding"].items()}}
                                       for label, p in zip(labels, profiles)}, indent=2))


if __name__ == "__main__":
    main()
