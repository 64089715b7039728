"""verl export: a task's samples as verl's parquet rows, and a ``compute_score`` verl can import.

verl (Ray-scale RL) reads parquet rows with ``data_source``, ``prompt`` (chat messages), ``ability``,
``reward_model: {style, ground_truth}`` and ``extra_info``, and calls a reward function
``compute_score(data_source, solution_str, ground_truth, extra_info)``. clinrl writes the rows and
provides the function, so verl users train with clinrl's verifiers::

    clinrl export verl --task medcalc --source synthetic --out data/medcalc_verl
    python -m verl.trainer.main_ppo data.train_files=data/medcalc_verl/train.parquet \\
        custom_reward_function.path=$(python -c 'import clinrl.export.verl as m; print(m.__file__)') \\
        custom_reward_function.name=compute_score ...

``data_source`` is ``clinrl/<task>``; ``ground_truth`` is the sample's target as JSON text (verl
passes strings through unchanged); ``extra_info`` carries the sample id, split, category and the
assistant pre-fill. ``compute_score`` returns ``{"score", "unscored", "correct", "format_ok"}`` (never
``None``: an unscored completion scores the scheme's wrong value, 0.0, flagged ``unscored``). verl renders the prompt with the model's chat template and does not pre-fill
the assistant turn, so a verl model writes the opening ``<think>`` itself; the contract parser
accepts both forms.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from clinrl.errors import ConfigError, require
from clinrl.registry import get_task
from clinrl.types import Sample

DATA_SOURCE_PREFIX = "clinrl/"


def verl_row(task: Any, sample: Sample, split: str, index: int) -> dict[str, Any]:
    return {
        "data_source": f"{DATA_SOURCE_PREFIX}{task.name}",
        "prompt": [dict(m) for m in sample.prompt],
        "ability": "clinical_reasoning",
        "reward_model": {"style": "rule", "ground_truth": json.dumps(sample.target, sort_keys=True, default=str)},
        "extra_info": {"split": split, "index": index, "id": sample.id, "category": str(sample.category or ""),
                       "prefill": sample.prefill},
    }


def export_verl(task_name: str, out_dir: str | Path, *, source: str | None = None,
                splits: Sequence[str] = ("train", "test"), limit: int | None = None, seed: int = 0,
                task_options: dict[str, Any] | None = None) -> dict[str, int]:
    """Write ``OUT/<split>.parquet`` for each split; returns rows written per split.

    Nothing is written unless every split loads, and a source that gives the same rows for two splits (a
    single file has no splits) is refused: its rows would land in ``train.parquet`` and ``test.parquet``
    alike. Ask for one split explicitly instead (``splits=("test",)``). A task may refuse to load a
    benchmark's test file as training rows at all (MedCalc does, unless ``allow_test_rows_in_train``)."""
    pa = require("pyarrow", "data")
    pq = require("pyarrow.parquet", "data")
    task = get_task(task_name, **(task_options or {}))
    if len(set(splits)) != len(splits):
        raise ConfigError(f"split(s) named twice: {', '.join(splits)}")
    loaded = {split: task.load(source, split, limit=limit, seed=seed) for split in splits}
    for split, samples in loaded.items():
        if not samples:
            raise ConfigError(f"task {task_name!r}: source {source!r} split {split!r} gave no samples")
    _refuse_shared_rows(loaded, source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, samples in loaded.items():
        rows = [verl_row(task, s, split, i) for i, s in enumerate(samples)]
        pq.write_table(pa.Table.from_pylist(rows), out / f"{split}.parquet")
        written[split] = len(rows)
    return written


def _fingerprint(sample: Sample) -> str:
    return json.dumps([sample.prompt, sample.target], sort_keys=True, default=str)


def _refuse_shared_rows(loaded: dict[str, list[Sample]], source: str | None) -> None:
    """Refuse splits that share rows: a training split must never hold the rows another split evaluates on."""
    names = list(loaded)
    prints = {split: {_fingerprint(s) for s in samples} for split, samples in loaded.items()}
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            shared = prints[first] & prints[second]
            if shared:
                raise ConfigError(
                    f"source {source!r} gives {len(shared)} identical row(s) for the splits {first!r} and "
                    f"{second!r} (a single file has no splits), so the same rows would be written to "
                    f"{first}.parquet and {second}.parquet. Export one split deliberately: --split test to evaluate "
                    "on these rows, or --split train to train on them (never a benchmark's test rows; a task may "
                    "require --allow-test-rows-in-train for those).")


@lru_cache(maxsize=None)
def _task(name: str):
    return get_task(name)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None) -> dict[str, Any]:
    """verl's reward hook: ``{"score": float, "unscored": bool, "correct": bool, "format_ok": bool}``.

    ``score`` is the task's EHRMIND scheme value (−2 malformed, 0 wrong, 1.1 correct). verl writes it into
    a reward tensor, so it is always a float: a completion the verifier could not score (a crash) gets the
    scheme's *wrong* value (0.0: neither rewarded nor penalised as malformed) and ``unscored: True``. verl's
    reward manager takes ``score`` from the dict and collects every other key per sample in
    ``reward_extra_info`` (validation logs their means, so the unscored rate is visible); every call returns
    the same keys, as that collection requires.
    """
    if not str(data_source).startswith(DATA_SOURCE_PREFIX):
        raise ConfigError(f"data_source {data_source!r} was not exported by clinrl (expected '{DATA_SOURCE_PREFIX}"
                          "<task>')")
    task = _task(str(data_source)[len(DATA_SOURCE_PREFIX):])
    target = json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)
    score = task.score(solution_str, target)  # the task's default reading: the EHRMIND contract, or a rubric's judge
    if score.value is None:  # 0.0: the default scheme's wrong value, for every task (a rubric task has no scheme)
        return {"score": 0.0, "unscored": True, "correct": False, "format_ok": bool(score.format_ok)}
    return {"score": float(score.value), "unscored": False, "correct": bool(score.correct),
            "format_ok": bool(score.format_ok)}
