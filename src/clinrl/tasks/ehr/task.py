"""The ``ehr`` task: predict an EHRSHOT-style outcome from a MEDS timeline.

Each sample is one (subject, prediction time) label from :mod:`clinrl.tasks.ehr.labelers`; its
prompt is the subject's timeline up to the prediction time (:mod:`clinrl.tasks.ehr.serialize`) and
a yes/no question. The answer follows EHRMIND's EHRSHOT contract
``<answer>{"prediction": "<task id>", "label": 0|1}</answer>``.

Options (``get_task("ehr", ...)`` or ``--task-option`` style keyword arguments):

* ``labeling_task``: an EHRSHOT id (``new_hypertension`` … ``guo_los``), several joined by commas, or
  ``all``. Default ``new_hypertension`` (the most common new diagnosis, ~10 % positive on the
  synthetic cohort).
* ``sections`` / ``token_budget``: what the timeline shows and its length limit (serialize.py).
* ``balance``: keep every positive and as many seeded-random negatives per labeling task.
  ``"train"`` (the default) balances the train split only: rare outcomes (1–14 % positive) would
  otherwise teach "always 0", while held-out splits keep the natural rate that balanced accuracy
  is designed for. ``True`` balances every split, ``False`` none.
* ``tokenizer``: a tokenizer object (one with ``encode``, e.g. a Hugging Face tokenizer) or a callable
  ``text -> token count`` that counts the timeline budget exactly (default: a conservative estimate). A
  model spec (``"tiny"``, a directory, a hub id) is resolved to its tokenizer where the task is built
  (recipes, ``--option``: :func:`clinrl.models.resolve_task_options`); the task itself never loads a model.
* ``rationale_age``: the warm-up rationale also states the age the prompt shows (default False: it names the
  risk-factor codes only, and with labs shown the telling vital or lab).
* ``synthetic_subjects`` / ``synthetic_seed``: size and seed of the synthetic cohort that
  ``load("synthetic")`` labels (fixed data; the ``seed`` argument of ``load`` only orders samples);
  the source ``synthetic:subjects=500;seed=1`` overrides both.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from clinrl.data.meds import MedsDataset, normalise_split, read_meds
from clinrl.errors import ConfigError, DataError
from clinrl.registry import register_task
from clinrl.settings import setting
from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.tasks.base import AnswerCheck, ContractTask, TaskCard
from clinrl.tasks.ehr.labelers import (LABELING_TASKS, LabelingTask, VisitCodes, get_labeling_task, label,
                                       parse_diagnosis_code)
from clinrl.tasks.ehr.metrics import classification_metrics
from clinrl.tasks.ehr.serialize import (DEFAULT_SECTIONS, DEFAULT_TOKEN_BUDGET, SerializeConfig, age_at,
                                        serialize_timeline, tokenizer_counter)
from clinrl.types import Sample, Score

SYNTHETIC = "synthetic"
DEFAULT_LABELING_TASK = "new_hypertension"

#: risk factors named in the SFT warm-up rationale: (name, ICD-10 prefixes, ICD-9 prefixes)
_OBESITY = ("obesity", ("E66",), ("2780",))
_DIABETES = ("diabetes mellitus", ("E10", "E11"), ("250",))
_CKD = ("chronic kidney disease", ("N18",), ("585",))
_TOBACCO = ("tobacco use", ("F17", "Z720"), ("3051", "V1582"))
_HTN = ("hypertension", ("I10", "I11", "I12", "I13"), ("401", "402", "403", "404", "405"))
_LIPIDS = ("hyperlipidemia", ("E78",), ("272",))
_COPD = ("COPD", ("J44",), ("491", "492", "496"))
_HEART_FAILURE = ("heart failure", ("I50",), ("428",))
_SEPSIS = ("sepsis", ("A40", "A41", "R652"), ("038", "99591", "99592"))
RISK_FACTORS: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "new_hypertension": (_OBESITY, _DIABETES, _CKD),
    "new_hyperlipidemia": (_OBESITY, _DIABETES, _HTN),
    "new_acutemi": (_HTN, _LIPIDS, _DIABETES, _TOBACCO),
    "new_pancan": (_TOBACCO, _DIABETES, _OBESITY),
    "new_celiac": (),
    "new_lupus": (),
    "guo_readmission": (_CKD, _COPD, _HEART_FAILURE, _DIABETES),
    "guo_los": (_SEPSIS, _CKD, _HEART_FAILURE),
}

#: vitals and labs the rationale reads out when the timeline shows labs: (name, unit, code fragments). The synthetic
#: cohort raises systolic pressure before a hypertension onset and LDL before a hyperlipidemia one (meds_synth).
_SYSTOLIC = ("systolic blood pressure", "mmHg", ("Blood Pressure Systolic",))
_LDL = ("LDL cholesterol", "mg/dL", ("LAB//50905//",))
RISK_LABS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "new_hypertension": (_SYSTOLIC,),
    "new_hyperlipidemia": (_LDL,),
    "new_acutemi": (_SYSTOLIC, _LDL),
}

SYSTEM_PROMPT = (
    "You predict clinical outcomes from a patient's health record. Reason about risk factors and history "
    "inside <think> </think>, then give only the answer inside <answer> </answer>."
)


@lru_cache(maxsize=4)
def _synthetic(n_subjects: int, seed: int) -> MedsDataset:
    from clinrl.data.meds_synth import generate_cohort

    return generate_cohort(n_subjects, seed)


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> MedsDataset:
    return read_meds(path, option="--source")


def _normalise_name(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").split())


def parse_labeling_tasks(value: str | Sequence[str]) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in names if n.strip()]
    if names == ["all"]:
        return tuple(LABELING_TASKS)
    for n in names:
        if n not in LABELING_TASKS:
            raise ConfigError(f"unknown labeling task {n!r}; choose from {', '.join(LABELING_TASKS)} or 'all'")
    if not names:
        raise ConfigError("no labeling task given")
    return tuple(dict.fromkeys(names))


def _token_counter(tokenizer: Any) -> Callable[[str], int] | None:
    """The timeline's token counter from the ``tokenizer`` option (see the module docstring)."""
    if tokenizer is None:
        return None
    if isinstance(tokenizer, str):
        raise ConfigError(f"tokenizer={tokenizer!r} is a model spec, and the ehr task does not load models: pass a "
                          "tokenizer object or a callable text -> token count, or build the task with "
                          "get_task('ehr', **clinrl.models.resolve_task_options(options)), as recipes and "
                          "--option do")
    if hasattr(tokenizer, "encode"):
        return tokenizer_counter(tokenizer)
    if callable(tokenizer):
        return tokenizer
    raise ConfigError(f"tokenizer must be a tokenizer object or a callable text -> token count, got "
                      f"{type(tokenizer).__name__}")


@dataclass
class SynthConfig:
    """Options of the EHR task's ``synthetic[:subjects=N;seed=S]`` source (defaults: the task's options)."""

    subjects: int = setting(1000, "Subjects in the seeded MEDS cohort (`n` is an alias).")
    seed: int = setting(0, "Cohort seed.")

    def __post_init__(self) -> None:
        if self.subjects < 1:
            raise ConfigError(f"synthetic subjects must be at least 1, got {self.subjects}")

    @staticmethod
    def upgrade(data: dict[str, Any], where: str) -> dict[str, Any]:
        if "n" in data:
            data["subjects"] = data.pop("n")
        return data


@register_task("ehr")
class EHRDiagnosisTask(ContractTask):
    name = "ehr"
    version = "1"
    #: quickstart generation budget: the longest short SFT target on the tiny model (≤ 78 tokens) plus a margin
    quickstart_budget = {"completion_tokens": 112}
    answer_keys = ("prediction", "label")
    #: plausible answers per sample, for Reliable pass@k (a yes/no guess is right one time in two)
    answer_space_size = 2
    #: accuracy rewards always answering the majority class; balanced accuracy does not (EHRMIND)
    headline = ("balanced accuracy", "classification.balanced_accuracy")
    #: the reader-free baseline: each labeling task's most common training label (balanced accuracy 0.5)
    answer_prior = "labeling_task"
    target_fields = ("label", "labeling_task")
    card = TaskCard(
        summary="EHR outcome prediction from MEDS timelines with EHRSHOT labelers (new diagnoses, long stay, "
                "30-day readmission); balanced accuracy, AUROC/AUPRC from votes.",
        source="'synthetic' (seeded MEDS cohort, the default) or a local MEDS directory / near-MEDS parquet "
               "file (e.g. the MIMIC-IV demo in MEDS form)",
        licence="synthetic cohort: CC0; MIMIC-IV demo: ODbL 1.0; EHRSHOT itself needs a data-use agreement",
        splits="MEDS subject splits train / tuning / held_out ('test' = held_out, 'validation' = tuning); "
               "datasets without subject_splits.parquet get a stable hash split (80/10/10)",
        scoring='answer {"prediction": task id, "label": 0|1}; correct iff the label matches and the prediction '
                "names the labeling task; metrics: balanced accuracy (EHRMIND), sensitivity, specificity, "
                "AUROC/AUPRC when several completions per sample give vote scores",
        categories=tuple(LABELING_TASKS),
    )

    def __init__(self, *, labeling_task: str | Sequence[str] = DEFAULT_LABELING_TASK,
                 sections: Sequence[str] | str = DEFAULT_SECTIONS, token_budget: int = DEFAULT_TOKEN_BUDGET,
                 balance: bool | str = "train", synthetic_subjects: int = 1000, synthetic_seed: int = 0,
                 anchor: str | None = None, tokenizer: Any = None, visits: VisitCodes | None = None,
                 rationale_age: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labeling_tasks: tuple[LabelingTask, ...] = tuple(
            get_labeling_task(n, anchor=anchor if LABELING_TASKS[n].kind == "readmission" else None)
            for n in parse_labeling_tasks(labeling_task))
        if isinstance(sections, str):
            sections = tuple(s.strip() for s in sections.split(",") if s.strip())
        self.serialize_config = SerializeConfig(sections=tuple(sections), token_budget=int(token_budget))
        if balance not in (True, False, "train"):
            raise ConfigError(f"balance must be true, false or 'train', got {balance!r}")
        self.balance = balance
        if not isinstance(rationale_age, bool):
            raise ConfigError(f"rationale_age must be true or false, got {rationale_age!r}")
        self.rationale_age = rationale_age
        self.synthetic_subjects, self.synthetic_seed = int(synthetic_subjects), int(synthetic_seed)
        self.count_tokens = _token_counter(tokenizer)
        self.visits = visits or VisitCodes()
        self.label_reports: dict[str, dict[str, Any]] = {}

    # -- loading --------------------------------------------------------------------------------
    def dataset(self, source: str | None) -> MedsDataset:
        src = source or SYNTHETIC
        if src == SYNTHETIC or src.startswith(SYNTHETIC + ":"):
            return _synthetic(*self._synthetic_options(src))
        path = Path(src)
        if not path.exists():
            raise DataError("no such MEDS directory or parquet file (the ehr task reads local MEDS data or "
                            "'synthetic')", source=src)
        return _read(str(path.resolve()), path.stat().st_mtime)

    def _synthetic_options(self, source: str) -> tuple[int, int]:
        """``synthetic`` or ``synthetic:subjects=500;seed=1`` (``n`` is ``subjects``) → (subjects, cohort seed)."""
        from clinrl.tasks.source import synth_config

        config = synth_config(SynthConfig, source, {"subjects": self.synthetic_subjects, "seed": self.synthetic_seed})
        return config.subjects, config.seed

    def load(self, source: str | None = None, split: str = "test", *, limit: int | None = None,
             seed: int = 0) -> list[Sample]:
        dataset = self.dataset(source)
        wanted = normalise_split(split)
        subjects = None if wanted == "all" else set(dataset.subjects_in(wanted))
        rng = random.Random(seed)
        candidates: list[tuple[str, int, Any, bool]] = []
        for task in self.labeling_tasks:
            labels, report = label(dataset, task, visits=self.visits)
            self.label_reports[task.name] = report.to_dict()
            rows = [(task.name, s, t, bool(y)) for s, t, y in labels.iter_rows()
                    if subjects is None or s in subjects]
            if self.balance is True or (self.balance == "train" and wanted == "train"):
                positives = [r for r in rows if r[3]]
                negatives = [r for r in rows if not r[3]]
                rows = positives + rng.sample(negatives, min(len(negatives), len(positives)))
                rows.sort(key=lambda r: (r[1], r[2]))
            candidates.extend(rows)
        rng.shuffle(candidates)
        if limit is not None:
            candidates = candidates[:limit]
        by_subject = _subject_frames(dataset)
        descriptions = dataset.descriptions()
        return [self._sample(dataset, by_subject, descriptions, c, split=wanted, seed=seed) for c in candidates]

    def _sample(self, dataset: MedsDataset, by_subject: dict[int, Any], descriptions: dict[str, str],
                candidate: tuple[str, int, Any, bool], *, split: str, seed: int) -> Sample:
        task_name, subject, prediction_time, positive = candidate
        task = next(t for t in self.labeling_tasks if t.name == task_name)
        timeline = serialize_timeline(by_subject[subject], prediction_time, config=self.serialize_config,
                                      descriptions=descriptions, count_tokens=self.count_tokens)
        user = (f"{timeline.text}\n\nTask ({task.name}): {task.question}\n"
                f"Answer as JSON {{\"prediction\": \"{task.name}\", \"label\": 1 (yes) or 0 (no)}}.")
        when = prediction_time.isoformat(timespec="minutes")
        explanation = _rationale(task, by_subject[subject], prediction_time, positive,
                                 labs="labs" in self.serialize_config.sections, age=self.rationale_age)
        return Sample(
            id=f"{task.name}:{subject}@{when}",
            prompt=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            target={"label": int(positive), "labeling_task": task.name},
            metadata={"source": dataset.source, "split": split, "category": task.name, "subject_id": int(subject),
                      "prediction_time": when, "seed": seed, "timeline_tokens": timeline.n_tokens,
                      "timeline_entries": timeline.n_entries, "timeline_omitted": timeline.n_omitted,
                      "explanation": explanation},
            prefill=EHRMIND_PREFILL,
        )

    # -- scoring --------------------------------------------------------------------------------
    def check_answer(self, answer: Mapping[str, Any], target: Mapping[str, Any]) -> AnswerCheck:
        expected = str(target["labeling_task"])
        gold = int(target["label"])
        label_value, prediction = answer["label"], answer["prediction"]
        if isinstance(label_value, bool) or not isinstance(label_value, int) or label_value not in (0, 1):
            return AnswerCheck(False, None, f"label must be the integer 0 or 1, got {str(label_value)[:40]!r}")
        if not isinstance(prediction, str) or not self._names_task(prediction, expected):
            return AnswerCheck(False, None, f"prediction {str(prediction)[:60]!r} does not name the task "
                                            f"{expected!r}")
        if label_value == gold:
            return AnswerCheck(True, label_value, "correct")
        return AnswerCheck(False, label_value, f"wrong (gold label {gold})")

    @staticmethod
    def _names_task(prediction: str, expected: str) -> bool:
        said = _normalise_name(prediction)
        task = LABELING_TASKS.get(expected)
        accepted = {expected, expected.split("_", 1)[-1]}
        if task is not None:
            accepted.add(_normalise_name(task.condition))
        return said in accepted

    def oracle_answer(self, target: Mapping[str, Any]) -> dict[str, Any]:
        return {"prediction": str(target["labeling_task"]), "label": int(target["label"])}

    def sft_completion(self, sample: Sample, think: str = "full") -> str:
        """The rationale written given the gold label (risk factors in the record, then the verdict) in
        ``<think>``, then the gold answer."""
        return self.worked_completion(sample, str(sample.metadata.get("explanation") or ""), think)

    # -- metrics --------------------------------------------------------------------------------
    def group_keys(self, sample: Sample) -> dict[str, str]:
        return {"labeling_task": str(sample.target["labeling_task"]),
                "gold": "positive" if int(sample.target["label"]) else "negative"}

    def metrics(self, samples: Sequence[Sample], scores: Sequence[Score]) -> dict[str, Any]:
        """Base accuracy metrics plus balanced accuracy per labeling task.

        A sample id that appears several times (several sampled completions) turns its readable
        labels into a vote score, and AUROC / AUPRC are added.
        """
        out = super().metrics(samples, scores)
        grouped: dict[str, list[tuple[Sample, Score]]] = defaultdict(list)
        for sample, score in zip(samples, scores):
            if score.value is not None or score.format_ok is False:
                grouped[sample.id].append((sample, score))
        with_votes = any(len(v) > 1 for v in grouped.values())
        out["classification"] = self._classification(list(grouped.values()), with_votes)
        out["per_task"] = {
            name: self._classification([v for v in grouped.values() if v[0][0].target["labeling_task"] == name],
                                       with_votes)
            for name in sorted({s.target["labeling_task"] for s in samples})
        }
        return out

    def vote_metrics(self, samples: Sequence[Sample], scores: Sequence[Sequence[Score]]) -> dict[str, Any]:
        """Metrics from several completions per sample (``scores[i]`` are sample ``i``'s completions)."""
        flat_samples = [s for s, group in zip(samples, scores) for _ in group]
        return self.metrics(flat_samples, [sc for group in scores for sc in group])

    @staticmethod
    def _classification(groups: list[list[tuple[Sample, Score]]], with_votes: bool) -> dict[str, Any]:
        labels, predictions, vote_scores = [], [], []
        for group in groups:
            gold = int(group[0][0].target["label"])
            votes = [sc.answer for _, sc in group if sc.answer in (0, 1) and not isinstance(sc.answer, bool)]
            for _, sc in group:
                labels.append(gold)
                predictions.append(sc.answer if sc.answer in (0, 1) and not isinstance(sc.answer, bool) else None)
            vote_scores.append(sum(votes) / len(votes) if votes else 0.5)
        result = classification_metrics(labels, predictions)
        if with_votes and groups:
            golds = [int(g[0][0].target["label"]) for g in groups]
            result.update({k: v for k, v in classification_metrics(golds, [None] * len(golds), vote_scores).items()
                           if k in ("auroc", "auprc")})
            result["n_voted_samples"] = len(groups)
        return result


def _rationale(task: LabelingTask, events: Any, prediction_time: Any, positive: bool, *, labs: bool = False,
               age: bool = False) -> str:
    """A short warm-up rationale written *given the gold label* (as EHRMIND's teacher rationales are): with
    ``age`` the subject's age, then the task's risk factors found in the record before the prediction time, with
    ``labs`` (the timeline shows them) the last value of the task's telling vitals and labs, then the conclusion."""
    import polars as pl

    past = events.filter(pl.col("time").is_not_null() & (pl.col("time") <= prediction_time))
    codes = past.get_column("code").unique().to_list()
    parsed = [p for p in (parse_diagnosis_code(c) for c in codes) if p is not None]
    found = [name for name, icd10, icd9 in RISK_FACTORS.get(task.name, ())
             if any((v == "ICD10" and c.startswith(icd10)) or (v == "ICD9" and c.startswith(icd9)) for v, c in parsed)]
    listed = ", ".join(found) if found else "none of the usual ones"
    readings = ""
    for name, unit, fragments in RISK_LABS.get(task.name, ()) if labs else ():
        value = last_reading(past, prediction_time, fragments)
        if value is not None:
            readings += f" Last {name}: {value:g} {unit}."
    verdict = "yes, label 1" if positive else "no, label 0"
    years = age_at(events, prediction_time) if age else None
    aged = "" if years is None else f" Age: {years} years."
    return (f"The question is about {task.condition}.{aged} Risk factors recorded before the prediction time: {listed}."
            f"{readings} Weighing the history, my prediction is {verdict}.")


def last_reading(events: Any, prediction_time: Any, fragments: Sequence[str]) -> float | None:
    """The last numeric value, at or before ``prediction_time``, of a code containing one of ``fragments``."""
    import polars as pl

    values = events.filter(pl.col("time").is_not_null() & (pl.col("time") <= prediction_time)
                           & pl.any_horizontal([pl.col("code").str.contains(f, literal=True) for f in fragments])
                           & pl.col("numeric_value").is_not_null()).sort("time").get_column("numeric_value")
    return float(values[-1]) if values.len() else None


def _subject_frames(dataset: MedsDataset) -> dict[int, Any]:
    """subject id → that subject's events, computed once per dataset."""
    cached = getattr(dataset, "_by_subject", None)
    if cached is None:
        parts = dataset.events.partition_by("subject_id", as_dict=True, maintain_order=True)
        cached = {int(k[0] if isinstance(k, tuple) else k): v for k, v in parts.items()}
        dataset._by_subject = cached  # type: ignore[attr-defined]
    return cached
