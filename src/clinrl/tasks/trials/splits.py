"""Patient-level splits and class-balanced sampling (EHRMIND's trial-matching protocol).

Patients are shuffled with a seeded RNG and the first ``train_fraction`` (80% by default) become training
patients; the rest are *unseen* patients. From each training patient a seeded ``seen_fraction`` of their pairs
is held out as the *seen-patient* test set (new pairs of patients the model trained on); every training patient
keeps at least one pair in ``train`` so that "seen" stays true. Assignment of a pair depends only on the seed and
its ids, so it does not change when the file is reordered.

Split names: ``train``, ``test_seen``, ``test_unseen``; ``test`` and ``all`` are the whole source (TREC's qrels
are themselves the official test set, and ``clinrl score`` looks ids up in it).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol, Sequence, TypeVar

from clinrl.errors import ConfigError

PATIENT_SPLITS = ("train", "test_seen", "test_unseen")
WHOLE_SPLITS = ("test", "all")


class HasPair(Protocol):
    query_id: str
    trial_id: str
    label: int


P = TypeVar("P", bound=HasPair)


@dataclass(frozen=True)
class SplitConfig:
    #: share of patients used for training (EHRMIND: 80/20 by patient)
    train_fraction: float = 0.8
    #: share of a training patient's pairs held out as the seen-patient test set
    seen_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if not 0 <= self.seen_fraction < 1:
            raise ConfigError(f"seen_fraction must be in [0, 1), got {self.seen_fraction}")


def assign_patients(query_ids: Sequence[str], config: SplitConfig) -> tuple[set[str], set[str]]:
    """(training patients, unseen patients)."""
    patients = sorted(set(query_ids))
    random.Random(f"trials-split:{config.seed}").shuffle(patients)
    n_train = min(len(patients) - 1, max(1, round(config.train_fraction * len(patients)))) if len(patients) > 1 \
        else len(patients)
    return set(patients[:n_train]), set(patients[n_train:])


def split_pairs(pairs: Sequence[P], split: str, config: SplitConfig) -> list[P]:
    if split in WHOLE_SPLITS:
        return list(pairs)
    if split not in PATIENT_SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(PATIENT_SPLITS + WHOLE_SPLITS)}")
    train_patients, unseen = assign_patients([p.query_id for p in pairs], config)
    if split == "test_unseen":
        return [p for p in pairs if p.query_id in unseen]
    held: set[tuple[str, str]] = set()
    by_patient: dict[str, list[P]] = defaultdict(list)
    for p in pairs:
        if p.query_id in train_patients:
            by_patient[p.query_id].append(p)
    for qid, items in by_patient.items():
        chosen = [p for p in items
                  if random.Random(f"trials-seen:{config.seed}:{qid}:{p.trial_id}").random() < config.seen_fraction]
        if len(chosen) == len(items):  # keep the patient seen
            keep = min(items, key=lambda p: p.trial_id)
            chosen = [p for p in chosen if p is not keep]
        held.update((p.query_id, p.trial_id) for p in chosen)
    wanted_held = split == "test_seen"
    return [p for p in pairs if p.query_id in train_patients and ((p.query_id, p.trial_id) in held) == wanted_held]


def balanced_sample(pairs: Sequence[P], per_class: int | None, seed: int) -> tuple[list[P], dict[int, int]]:
    """Up to ``per_class`` pairs of each label (all classes cut to the rarest when ``None``), in the input order.

    Returns the sample and, per label, how many pairs were available (so a shortfall is visible).
    """
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        by_label[p.label].append(i)
    available = {label: len(ix) for label, ix in sorted(by_label.items())}
    if not by_label:
        return [], available
    take = per_class if per_class is not None else min(available.values())
    chosen: list[int] = []
    for label, indices in sorted(by_label.items()):
        rng = random.Random(f"trials-balance:{seed}:{label}")
        shuffled = list(indices)
        rng.shuffle(shuffled)
        chosen += shuffled[:take]
    return [pairs[i] for i in sorted(chosen)], available


def per_class_for_limit(limit: int | None, n_classes: int = 3) -> int | None:
    return None if limit is None else max(1, math.ceil(limit / n_classes))
