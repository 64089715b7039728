"""Rubric schema, validation errors and the HealthBench / Rubrics-as-Rewards formats."""

from __future__ import annotations

import json

import pytest

from clinrl.errors import DataError
from clinrl.rubrics import Rubric, RubricError, RubricItem, from_rar, make_rubric, read_rubrics, to_healthbench
from clinrl.rubrics.formats import from_healthbench, write_rubrics

HB_FILE = "healthbench-sample/context_seeking_consensus_hard_104.jsonl"


def _items():
    return [
        {"id": "acc", "text": "States the correct dose", "dimension": "proficiency", "weight": 0.6, "points": 6},
        {"id": "ref", "text": "Advises seeing a doctor", "dimension": "proficiency", "weight": 0.4, "points": 4},
        {"id": "emp", "text": "Acknowledges the worry", "dimension": "excellence", "points": 1},
        {"id": "od", "text": "Recommends a dose above the maximum", "dimension": "safety", "points": -10},
    ]


def test_valid_rubric_and_views():
    r = make_rubric("r1", _items(), prompt="How much paracetamol?", tags=["category:dosing"])
    assert [it.id for it in r.proficiency] == ["acc", "ref"]
    assert [it.id for it in r.excellence] == ["emp"] and [it.id for it in r.safety] == ["od"]
    assert r.instruction == "How much paracetamol?"
    assert Rubric.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("patch, field, words", [
    ({"dimension": "style"}, "items[0].dimension", "unknown dimension"),
    ({"text": "  "}, "items[0].text", "empty criterion"),
    ({"weight": "heavy"}, "items[0].weight", "must be a number"),
    ({"points": -1}, "items[0].points", "negative points"),
])
def test_invalid_items_name_rubric_item_and_field(patch, field, words):
    items = _items()
    items[0] = {**items[0], **patch}
    with pytest.raises(RubricError) as err:
        make_rubric("r1", items)
    msg = str(err.value)
    assert "rubric 'r1'" in msg and field in msg
    assert words.split()[0] in msg or words in msg


def test_weight_sum_error_and_normalized():
    items = _items()
    items[0]["weight"] = 3
    items[1]["weight"] = 1
    with pytest.raises(RubricError, match="sum to 4"):
        make_rubric("r", items)
    r = make_rubric("r", items, normalize=True)
    assert [it.weight for it in r.proficiency] == [0.75, 0.25]


def test_other_invalid_rubrics():
    with pytest.raises(RubricError, match="no criteria"):
        make_rubric("empty", [])
    dup = _items()
    dup[1]["id"] = "acc"
    with pytest.raises(RubricError, match="duplicate item id"):
        make_rubric("r", dup)
    bad_safety = _items()
    bad_safety[3]["points"] = 5
    with pytest.raises(RubricError, match="items\\[3\\].points"):
        make_rubric("r", bad_safety)
    weighted_bonus = _items()
    weighted_bonus[2]["weight"] = 0.1
    with pytest.raises(RubricError, match="only used by proficiency"):
        make_rubric("r", weighted_bonus)
    assert issubclass(RubricError, DataError)
    with pytest.raises(RubricError, match="not an object"):
        Rubric.from_dict({"id": "x", "items": ["just text"]})


def test_rar_import_pitfalls_negative():
    row = {"question": "Child with fever 40C and stiff neck?", "rubric": [
        {"title": "Essential Criteria", "description": "Advises emergency care now", "weight": 5},
        {"title": "Important Criteria", "description": "Mentions meningitis", "weight": 3},
        {"title": "Optional Criteria", "description": "Explains why", "weight": 1},
        {"title": "Pitfall Criteria", "description": "Suggests waiting until morning", "weight": -2},
    ]}
    r = from_rar(row, index=3)
    assert r.id == "rar-3"
    assert [it.dimension for it in r.items] == ["proficiency", "proficiency", "excellence", "safety"]
    assert [it.weight for it in r.proficiency] == [5 / 8, 3 / 8]
    assert r.items[3].points == -2 and r.items[3].tags == ("title:Pitfall Criteria",)
    with pytest.raises(RubricError, match="rubric\\[0\\].weight"):
        from_rar({"rubric": [{"title": "E", "description": "x", "weight": 2.5}]})


def test_healthbench_negative_items_become_safety(tmp_path):
    row = {"prompt": [{"role": "user", "content": "q"}], "prompt_id": "p1", "example_tags": ["theme:x"],
           "rubrics": [{"criterion": "good", "points": 6, "tags": ["axis:accuracy"]},
                       {"criterion": "ok", "points": 4, "tags": []},
                       {"criterion": "harmful", "points": -8, "tags": ["axis:safety"]}],
           "ideal_completions_data": None}
    r = from_healthbench(row)
    assert [it.dimension for it in r.items] == ["proficiency", "proficiency", "safety"]
    assert [it.weight for it in r.proficiency] == [0.6, 0.4]
    assert to_healthbench(r) == row
    path = tmp_path / "hb.jsonl"
    path.write_text(json.dumps(row) + "\n" + '{"prompt_id": "p2", "rubrics": [{"criterion": "c", "points": "5"}]}\n')
    with pytest.raises(RubricError) as err:
        read_rubrics(path)
    assert "hb.jsonl" in str(err.value) and "row 2" in str(err.value) and "rubrics[0].points" in str(err.value)


def test_read_rubrics_reports_bad_json_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('\n{"id": "a", "items": []}\n')
    with pytest.raises(RubricError, match="row 2.*no criteria"):
        read_rubrics(path)
    path.write_text(json.dumps(make_rubric("a", _items()).to_dict()) + "\n{not json\n")
    with pytest.raises(RubricError, match="row 2.*invalid JSON"):
        read_rubrics(path)


@pytest.mark.conformance
def test_healthbench_sample_imports_and_round_trips(shared_data, tmp_path):
    path = shared_data / HB_FILE
    if not path.exists():
        pytest.skip(f"{path} not found")
    rubrics = read_rubrics(path)
    assert len(rubrics) == 104
    originals = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    for rubric, row in zip(rubrics, originals):
        assert to_healthbench(rubric) == row
        assert [it.points for it in rubric.items] == [it["points"] for it in row["rubrics"]]
        assert all(it.tag_values("axis") for it in rubric.items)
    out = tmp_path / "hb.jsonl"
    assert write_rubrics(out, rubrics, fmt="healthbench") == 104
    again = read_rubrics(out)
    assert again == rubrics
    assert [json.loads(line) for line in out.read_text().split("\n") if line] == originals
    clinrl_out = tmp_path / "clinrl.jsonl"
    write_rubrics(clinrl_out, rubrics)
    assert read_rubrics(clinrl_out) == rubrics


def test_item_tag_values():
    it = RubricItem(id="a", text="t", dimension="proficiency", weight=1.0, tags=("axis:accuracy", "level:x"))
    assert it.tag_values("axis") == ["accuracy"] and it.tag_values("theme") == []
