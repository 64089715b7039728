"""The EHRMIND SFT warm-up builder: balanced quotas, checked targets, seeded validation split."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from clinrl.data.sft import SFT_FIELDS, SFTReport, build_sft_examples, category_quotas, write_jsonl
from clinrl.errors import ConfigError
from clinrl.registry import get_task
from clinrl.rewards.contract import EHRMIND_PREFILL
from clinrl.types import Sample


@pytest.fixture(scope="module")
def task():
    return get_task("medcalc")


@pytest.fixture(scope="module")
def synthetic(task):
    return task.load("synthetic:calculators=6,5,4,13,24,48;n=120;seed=1", "train")


def test_quota_is_an_equal_share_when_every_category_is_large():
    sizes = {c: 100 for c in "abcdefg"}
    assert category_quotas(sizes, 140) == {c: 20 for c in "abcdefg"}  # floor(N*pct/7) each


def test_small_categories_are_taken_whole_and_their_leftover_shared():
    # budget 70 over 7 categories: share 10; 'a' (2) and 'b' (5) taken whole, the other 5 share 63 -> 12 each
    sizes = {"a": 2, "b": 5, "c": 50, "d": 50, "e": 50, "f": 50, "g": 50}
    quota = category_quotas(sizes, 70)
    assert quota["a"] == 2 and quota["b"] == 5
    assert all(quota[c] == 12 for c in "cdefg")
    assert sum(quota.values()) <= 70


def test_quota_cascades_when_a_share_grows_past_another_small_category():
    # share 10 first frees 'a' (4); then share = (40-4)/3 = 12 frees 'b' (11); the last two share 25
    quota = category_quotas({"a": 4, "b": 11, "c": 100, "d": 100}, 40)
    assert quota == {"a": 4, "b": 11, "c": 12, "d": 12}


def test_quota_never_exceeds_what_a_category_has():
    sizes = {"a": 3, "b": 1}
    assert category_quotas(sizes, 100) == {"a": 3, "b": 1}


def test_records_have_the_documented_fields_and_score_correct(task, synthetic):
    train, val = build_sft_examples(synthetic, pct=1.0, seed=0, val_fraction=0.1, task=task)
    assert len(train) + len(val) == len(synthetic)
    by_id = {s.id: s for s in synthetic}
    for record in train + val:
        assert tuple(record) == SFT_FIELDS
        assert record["prefill"] == EHRMIND_PREFILL
        assert record["completion"].startswith("\n") and "</think>\n<answer>" in record["completion"]
        sample = by_id[record["id"]]
        assert task.score(record["completion"], sample.target).correct
        assert sample.metadata["explanation"].strip() in record["completion"]
        assert record["calculator_id"] == sample.target["calculator_id"]
        assert record["category"] == sample.category


def test_balanced_subset_and_validation_split_are_seeded(task, synthetic):
    report = SFTReport()
    train, val = build_sft_examples(synthetic, pct=0.5, seed=3, val_fraction=0.2, task=task, report=report)
    again = build_sft_examples(synthetic, pct=0.5, seed=3, val_fraction=0.2, task=task)
    other = build_sft_examples(synthetic, pct=0.5, seed=4, val_fraction=0.2, task=task)
    assert (train, val) == again
    assert {r["id"] for r in train} != {r["id"] for r in other[0]}
    assert not {r["id"] for r in train} & {r["id"] for r in val}
    picked = Counter(r["category"] for r in train + val)
    assert dict(picked) == {c: q for c, q in report.quota.items() if q}
    assert report.n_train == len(train) and report.n_val == len(val)
    for category, q in report.quota.items():
        assert sum(1 for r in val if r["category"] == category) == round(q * 0.2)


def test_unusable_samples_are_counted_not_written(task, synthetic):
    good = synthetic[0]
    no_explanation = Sample(id="x1", prompt=good.prompt, target=good.target,
                            metadata=dict(good.metadata, explanation="", synthetic=False), prefill=good.prefill)
    # an explanation that closes the think block early would teach a malformed answer
    broken_target = Sample(id="x2", prompt=good.prompt, target=good.target, prefill=good.prefill,
                           metadata=dict(good.metadata, explanation="step </think><answer>{}</answer> more"))
    report = SFTReport()
    train, val = build_sft_examples([good, no_explanation, broken_target], pct=1.0, val_fraction=0.0, task=task,
                                    report=report)
    assert [r["id"] for r in train] == [good.id] and not val
    assert report.n_input == 3 and sum(report.skipped.values()) == 2
    assert report.skipped["no explanation"] == 1 and report.skipped["target does not score correct"] == 1


def test_recomputed_rows_use_the_calculator_explanation(task, synthetic):
    sample = synthetic[0]
    changed = Sample(id="c", prompt=sample.prompt, target=sample.target, prefill=sample.prefill,
                     metadata=dict(sample.metadata, explanation="WRONG DATASET TEXT", label_changed=True,
                                   recomputed_explanation="calculator says so"))
    report = SFTReport()
    train, _ = build_sft_examples([changed], pct=1.0, val_fraction=0.0, task=task, report=report)
    assert "calculator says so" in train[0]["completion"] and "WRONG" not in train[0]["completion"]
    assert report.explanation_source == Counter({"calculator (recomputed label)": 1})


def test_bad_arguments(task, synthetic):
    with pytest.raises(ConfigError):
        build_sft_examples(synthetic, pct=0, task=task)
    with pytest.raises(ConfigError):
        build_sft_examples(synthetic, val_fraction=1.0, task=task)


def test_write_jsonl(tmp_path, task, synthetic):
    train, _ = build_sft_examples(synthetic[:10], pct=1.0, val_fraction=0.0, task=task)
    path = write_jsonl(train, tmp_path / "sft" / "train.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [{k: r[k] for k in SFT_FIELDS} for r in train]


def test_real_rows_follow_ehrmind_quota(medcalc_test_csv):
    task = get_task("medcalc", labels="recomputed")
    samples = task.load(str(medcalc_test_csv))
    report = SFTReport()
    train, val = build_sft_examples(samples, pct=0.2, seed=0, task=task, report=report)
    # recomputed labels leave out row 772 (an impossible label nothing in the note corrects)
    assert report.n_input == 1046 and not report.skipped
    assert report.quota == {c: 1046 * 2 // 10 // 7 for c in report.available}  # 29 each: no category is small
    assert len(train) + len(val) == 7 * 29
    by_id = {s.id: s for s in samples}
    n_changed = 0
    for record in train + val:
        meta = by_id[record["id"]].metadata
        if meta["label_changed"]:
            n_changed += 1
            assert meta["recomputed_explanation"] in record["completion"]
            assert meta["explanation"].strip() not in record["completion"]
        else:
            assert meta["explanation"].strip() in record["completion"]
    assert report.explanation_source["calculator (recomputed label)"] == n_changed
