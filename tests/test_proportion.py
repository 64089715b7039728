"""Proportion: the typed (value, ci_low, ci_high, n) that metrics carry, JSON unchanged."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

from clinrl.evaluation.metrics import bootstrap_mean
from clinrl.metrics import Proportion, headline_rows, proportion


def test_proportion_is_typed_and_writes_the_same_json():
    p = proportion(3, 4)
    assert isinstance(p, Proportion)
    assert (p.value, p.n) == (0.75, 4) and p.interval == (p.ci_low, p.ci_high) and 0 < p.ci_low < 0.75 < p.ci_high
    assert json.loads(json.dumps(p)) == {"value": 0.75, "ci_low": p.ci_low, "ci_high": p.ci_high, "n": 4}
    assert list(p) == ["value", "ci_low", "ci_high", "n"]
    empty = proportion(0, 0)
    assert math.isnan(empty.value) and empty.n == 0


def test_bootstrap_mean_returns_a_proportion():
    b = bootstrap_mean([1.0, 0.0, 1.0, 1.0], seed=2)
    assert isinstance(b, Proportion) and b.n == 4 and b.value == 0.75 and b.ci_low <= 0.75 <= b.ci_high
    assert isinstance(bootstrap_mean([]), Proportion) and bootstrap_mean([]).n == 0


def test_read_lifts_a_plain_dict_from_json_and_refuses_other_shapes():
    p = proportion(1, 2)
    back = Proportion.read(json.loads(json.dumps(p)))
    assert isinstance(back, Proportion) and back == p
    assert Proportion.read(p) is p
    assert Proportion.read({"value": 1, "n": 2}) is None and Proportion.read(0.5) is None
    assert Proportion.read({"low": 0.1, "high": 0.2, "value": 0.1, "n": 1}) is None


def test_copies_and_dataclass_conversion_keep_it():
    @dataclasses.dataclass
    class Holder:
        metric: Proportion

    p = proportion(2, 5)
    assert copy.deepcopy(p) == p and isinstance(copy.deepcopy(p), Proportion)
    assert dataclasses.asdict(Holder(p))["metric"] == p


def test_headline_rows_show_a_proportion_by_type():
    rows = dict(headline_rows({"task": "x", "violation_rate": proportion(1, 4), "macro_f1": 0.5}))
    assert rows["violation rate"].startswith("25.0%") and rows["macro f1"] == "0.5000"
