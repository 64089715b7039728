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
assistant pre-fill. verl renders the prompt with the model's chat template and does not pre-fill
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
    """Write ``OUT/<split>.parquet`` for each split; returns rows written per split."""
    pa = require("pyarrow", "data")
    pq = require("pyarrow.parquet", "data")
    task = get_task(task_name, **(task_options or {}))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split in splits:
        samples = task.load(source, split, limit=limit, seed=seed)
        rows = [verl_row(task, s, split, i) for i, s in enumerate(samples)]
        if not rows:
            raise ConfigError(f"task {task_name!r}: source {source!r} split {split!r} gave no samples")
        pq.write_table(pa.Table.from_pylist(rows), out / f"{split}.parquet")
        written[split] = len(rows)
    return written


@lru_cache(maxsize=None)
def _task(name: str):
    return get_task(name)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None) -> float | None:
    """verl's reward hook: the task's EHRMIND scheme value (−2 malformed, 0 wrong, 1.1 correct).

    Returns ``None`` when the completion cannot be scored (verifier crash), never a silent 0.
    """
    if not str(data_source).startswith(DATA_SOURCE_PREFIX):
        raise ConfigError(f"data_source {data_source!r} was not exported by clinrl (expected '{DATA_SOURCE_PREFIX}"
                          "<task>')")
    task = _task(str(data_source)[len(DATA_SOURCE_PREFIX):])
    target = json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)
    return task.score(solution_str, target, contract="ehrmind").value
