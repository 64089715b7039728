"""What a reader of the EHR prompt could know: one-feature rules scored like the model, on the bench's own split.

A model trained on the ``ehr`` task can only beat the label prior (balanced accuracy 0.5) with a signal that is in
its prompt, and the SFT warm-up only teaches the signals its worked rationale names. For the data the two-stage bench
and ``clinrl quickstart --task ehr`` train and evaluate on (same recipe, same ``--set`` overrides, same seed), this
scores simple rules on the training and held-out samples, with the same balanced accuracy as the task's headline:

* ``label prior``: each labeling task's most common training label (the reader-free floor);
* ``rationale lists a risk factor``: 1 when the warm-up rationale names one of the task's risk factors (what SFT
  teaches — the diagnosis codes in the prompt);
* ``age >= t``: the age the prompt states, the cut ``t`` fit on the training samples;
* ``systolic BP >= t``: the last systolic pressure recorded before the prediction time, cut fit on training (in the
  prompt only when ``labs`` is among the timeline's sections; the synthetic cohort raises it before a hypertension
  onset).

Each row also says whether the feature is in the prompt and whether the rationale names it, and gives the
threshold-free AUROC on the held-out samples. A rule that scores well but is neither in the prompt nor taught is
headroom no amount of RL on this prompt can reach; one that is in the prompt but never taught is what RL would have to
find on its own.

    python bench/ehr_signal.py --set tasks.0.heldout_limit=200
    python bench/ehr_signal.py --set tasks.0.heldout_limit=200 --set 'tasks.0.options.sections=conditions,procedures,labs'
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from typing import Callable, Sequence

AGE = re.compile(r"(\d+) years old at the prediction time")
NO_RISK = "none of the usual ones"


def user_text(sample) -> str:
    return next(m["content"] for m in sample.prompt if m["role"] == "user")


def balanced_accuracy(labels: Sequence[int], predictions: Sequence[int]) -> float:
    from clinrl.tasks.ehr.metrics import classification_metrics

    return classification_metrics(list(labels), list(predictions))["balanced_accuracy"]


def fit_cut(values: Sequence[float | None], labels: Sequence[int]) -> float | None:
    """The cut t of "value >= t → 1" with the best training balanced accuracy (missing values predict 0)."""
    cuts = sorted({v for v in values if v is not None})
    if not cuts:
        return None
    return max(cuts, key=lambda t: balanced_accuracy(labels, [int(v is not None and v >= t) for v in values]))


def bootstrap_ci(labels: Sequence[int], predictions: Sequence[int], *, n: int = 1000, seed: int = 0) -> tuple:
    """Percentile 95 % interval of balanced accuracy over resampled samples (NaN draws with one class skipped)."""
    rng, k, values = random.Random(seed), len(labels), []
    for _ in range(n):
        idx = [rng.randrange(k) for _ in range(k)]
        value = balanced_accuracy([labels[i] for i in idx], [predictions[i] for i in idx])
        if value == value:
            values.append(value)
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def last_systolic(dataset) -> Callable:
    """sample → the last systolic pressure before its prediction time (what the rationale reads out with labs)."""
    from datetime import datetime

    from clinrl.tasks.ehr.task import _SYSTOLIC, _subject_frames, last_reading

    frames = _subject_frames(dataset)
    return lambda sample: last_reading(frames[int(sample.metadata["subject_id"])],
                                       datetime.fromisoformat(sample.metadata["prediction_time"]), _SYSTOLIC[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config overrides, as the bench takes them (e.g. tasks.0.heldout_limit=200)")
    parser.add_argument("--seed", type=int, default=0, help="the run seed (which samples are held out; default 0)")
    parser.add_argument("--recipe", default="quickstart")
    ns = parser.parse_args(argv)

    from clinrl.cli.quickstart import quickstart_config
    from clinrl.tasks.ehr.metrics import auroc
    from clinrl.training.mixtures import load_mixture

    from clinrl.errors import ClinrlError

    try:
        config = quickstart_config("ehr", None, ns.recipe, ns.overrides, "none")
        config.seed = ns.seed
        data = load_mixture(config.tasks, seed=ns.seed).tasks[0]
    except ClinrlError as exc:  # a bad --set or source: the message names it; no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    task = data.task
    systolic = last_systolic(task.dataset(data.settings.source))
    splits = {"train": data.train, "held-out": data.heldout}
    labels = {name: [int(s.target["label"]) for s in samples] for name, samples in splits.items()}
    sections = task.serialize_config.sections
    names = lambda word: "yes" if any(word in s.metadata["explanation"] for s in data.train) else "no"  # noqa: E731
    features = {
        "rationale lists a risk factor": (lambda s: 0.0 if NO_RISK in s.metadata["explanation"] else 1.0,
                                          "yes (diagnosis codes)", "yes"),
        "age": (lambda s: float(m.group(1)) if (m := AGE.search(user_text(s))) else None, "yes", names("Age:")),
        "systolic BP": (systolic, "yes" if "labs" in sections else "no (labs not among the sections)",
                        names("systolic")),
    }
    positives = {name: sum(v) for name, v in labels.items()}
    print(f"ehr ({', '.join(t.name for t in task.labeling_tasks)}), seed {ns.seed}, timeline sections "
          f"{', '.join(sections)}: {len(data.train)} training samples ({positives['train']} positive), "
          f"{len(data.heldout)} held-out ({positives['held-out']} positive)", file=sys.stderr)

    prior = int(2 * sum(labels["train"]) >= len(labels["train"]))
    rows = [["label prior", "-", "-", "-", f"{balanced_accuracy(labels['train'], [prior] * len(data.train)):.3f}",
             f"{balanced_accuracy(labels['held-out'], [prior] * len(data.heldout)):.3f}", "0.500"]]
    for name, (value_of, in_prompt, taught) in features.items():
        values = {split: [value_of(s) for s in samples] for split, samples in splits.items()}
        cut = fit_cut(values["train"], labels["train"])
        if cut is None:
            rows.append([name, in_prompt, taught, "no values", "-", "-", "-"])
            continue
        predict = {split: [int(v is not None and v >= cut) for v in vs] for split, vs in values.items()}
        low, high = bootstrap_ci(labels["held-out"], predict["held-out"], seed=ns.seed)
        scores = [v if v is not None else float("-inf") for v in values["held-out"]]
        rows.append([f"{name} >= {cut:g}" if name != "rationale lists a risk factor" else name, in_prompt, taught,
                     f"{sum(v is not None for v in values['held-out'])}/{len(data.heldout)}",
                     f"{balanced_accuracy(labels['train'], predict['train']):.3f}",
                     f"{balanced_accuracy(labels['held-out'], predict['held-out']):.3f} [{low:.3f}, {high:.3f}]",
                     f"{auroc(labels['held-out'], scores):.3f}"])
    print(markdown_table(["rule", "in the prompt", "named by the rationale", "held-out values", "train BA",
                          "held-out BA [95% CI]", "held-out AUROC"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
