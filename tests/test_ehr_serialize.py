"""Timeline serialisation: no leakage past the prediction time, dedup, order, descriptions, token budget."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pl = pytest.importorskip("polars")

from clinrl.data.meds import read_meds  # noqa: E402
from clinrl.errors import ConfigError  # noqa: E402
from clinrl.tasks.ehr.serialize import (SerializeConfig, estimate_tokens, package_description,  # noqa: E402
                                        serialize_timeline, short_code)

T = datetime(2020, 6, 1, 23, 59)


def _events(rows):
    return pl.DataFrame({"subject_id": [1] * len(rows), "time": [r[0] for r in rows], "code": [r[1] for r in rows],
                         "numeric_value": [r[2] if len(r) > 2 else None for r in rows]},
                        schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String,
                                "numeric_value": pl.Float32}).with_columns(text_value=pl.lit(None, pl.String))


ROWS = [
    (None, "GENDER//F"), (datetime(1950, 6, 1), "MEDS_BIRTH"),
    (datetime(2020, 1, 1, 8), "HOSPITAL_ADMISSION//EW EMER.//EMERGENCY ROOM"),
    (datetime(2020, 1, 2), "DIAGNOSIS//ICD//10//E119"),
    (datetime(2020, 1, 2), "PROCEDURE//ICD//10//02703ZZ"),
    (datetime(2020, 1, 2, 1), "LAB//50931//mg/dL", 180.0),
    (datetime(2020, 3, 5), "DIAGNOSIS//ICD//10//E119"),
    (datetime(2020, 3, 5), "DIAGNOSIS//ICD//9//4019"),
    (datetime(2020, 3, 5, 1), "LAB//50931//mg/dL", 150.0),
    (datetime(2020, 3, 5, 2), "MEDICATION//START//Metformin"),
    (datetime(2020, 6, 2), "DIAGNOSIS//ICD//10//C259"),  # after the prediction time: must not appear
]


def test_demographics_sections_dedup_and_no_leakage():
    out = serialize_timeline(_events(ROWS), T)
    text = out.text
    assert text.startswith("Patient: female, 70 years old at the prediction time.")
    assert "Hospital stays before it: 1." in text
    assert "C259" not in text and "pancreas" not in text.lower()  # future event left out
    assert text.count("E119") == 1 and "[ICD-10 E119] (88 d ago; 2x since 151 d ago)" in text
    assert "Metformin" not in text and "mg/dL" not in text  # labs and medications are opt-in
    assert text.index("Conditions") < text.index("Procedures")
    lines = text.splitlines()
    assert lines.index("Procedures (most recent last):") > max(i for i, l in enumerate(lines) if "E119" in l)
    if package_description("DIAGNOSIS//ICD//9//4019") is not None:
        assert "- Unspecified essential hypertension [ICD-9 4019] (88 d ago)" in lines


def test_optional_sections_show_last_lab_value_and_medications():
    cfg = SerializeConfig(sections=("conditions", "labs", "medications"))
    text = serialize_timeline(_events(ROWS), T, config=cfg).text
    assert "LAB//50931//mg/dL: 150 (88 d ago)" in text and ": 180" not in text
    assert "Metformin" in text and "Procedures" not in text


def test_descriptions_from_metadata_then_packages_then_code():
    text = serialize_timeline(_events(ROWS), T, descriptions={"PROCEDURE//ICD//10//02703ZZ": "Coronary dilation"}).text
    assert "Coronary dilation [ICD-10-PCS 02703ZZ]" in text
    if package_description("DIAGNOSIS//ICD//10//E119") is not None:
        assert "Type 2 diabetes mellitus without complications [ICD-10 E119]" in text
    assert package_description("PROCEDURE//ICD//10//02703ZZ") is None  # never looked up as a diagnosis
    assert package_description("DIAGNOSIS//ICD//10//NOTACODE") is None
    assert short_code("LAB//1//x") == "LAB//1//x"


def test_truncation_keeps_the_most_recent_entries():
    rows = [(None, "GENDER//M"), (datetime(1960, 1, 1), "MEDS_BIRTH")]
    rows += [(datetime(2019, 1, 1) + timedelta(days=i), f"DIAGNOSIS//TEST//Z{i:03d}") for i in range(200)]
    out = serialize_timeline(_events(rows), T, config=SerializeConfig(token_budget=300))
    assert out.n_tokens <= 300 and out.n_omitted > 0 and out.n_entries + out.n_omitted == 200
    assert "Z199" in out.text and "Z000" not in out.text
    assert f"({out.n_omitted} older entries omitted" in out.text
    kept = [int(line.split("Z")[-1][:3]) for line in out.text.splitlines() if "//Z" in line]
    assert kept == sorted(kept) and kept[-1] == 199 and kept == list(range(200 - len(kept), 200))


def test_config_is_validated():
    with pytest.raises(ConfigError):
        SerializeConfig(sections=("vibes",))
    with pytest.raises(ConfigError):
        SerializeConfig(token_budget=10)


def test_estimate_is_conservative_for_digits():
    assert estimate_tokens("2020-01-01") == 8 + 1
    assert estimate_tokens("abcdef") == 2


@pytest.fixture(scope="module")
def longest_timeline(shared_data):
    """The demo subject with the most events (36,581)."""
    path = shared_data / "mimic-iv-demo-meds" / "mimic_iv_demo_meds_events.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    events = read_meds(path).events
    longest = events.group_by("subject_id").len().sort("len").row(-1)[0]
    subject = events.filter(pl.col("subject_id") == longest)
    assert subject.height > 30_000
    return subject


@pytest.mark.conformance
def test_budget_holds_on_the_longest_real_timeline(longest_timeline):
    subject = longest_timeline
    end = subject.get_column("time").max()
    counter_calls = []

    def whitespace_counter(text: str) -> int:  # a second, different counter: the budget holds for it too
        counter_calls.append(1)
        return len(text.split())

    for budget in (256, 1024, 4096):
        for sections in (("conditions", "procedures"), ("conditions", "procedures", "labs", "medications")):
            cfg = SerializeConfig(sections=sections, token_budget=budget)
            out = serialize_timeline(subject, end, config=cfg)
            assert out.n_tokens == estimate_tokens(out.text) <= budget
            assert out.n_omitted > 0
            other = serialize_timeline(subject, end, config=cfg, count_tokens=whitespace_counter)
            assert whitespace_counter(other.text) <= budget
    assert counter_calls


@pytest.mark.conformance
def test_budget_holds_with_a_real_tokenizer_on_the_longest_timeline(longest_timeline):
    pytest.importorskip("transformers")
    from clinrl.models import load_tokenizer
    from clinrl.tasks.ehr.serialize import tokenizer_counter

    subject = longest_timeline
    count = tokenizer_counter(load_tokenizer("tiny"))
    cfg = SerializeConfig(sections=("conditions", "procedures", "labs", "medications"), token_budget=512)
    out = serialize_timeline(subject, subject.get_column("time").max(), config=cfg, count_tokens=count)
    assert out.n_tokens == count(out.text) <= 512 and out.n_entries > 0 and out.n_omitted > 0
