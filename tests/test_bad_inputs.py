"""The reliability audit's bad-input set (docs/reliability.md, appendix A of the 2026-12 audit), rerun through
the `clinrl` entry point: 151 inputs to the loaders and the CLI, generated here.

Every input ends in one of two verdicts, and nothing else passes:

* ``clear`` — exit code 2 and one error line that names the file (and the row and field where there is one);
* ``ok`` — the input is valid, or its problem is counted and reported (exit 0, the note is printed).

A traceback (any exception escaping ``main``), a silent drop or overwrite fails the test.
"""

from __future__ import annotations

import csv
import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from clinrl.cli import main

CLEAR, OK = "clear", "ok"


@dataclass
class Case:
    area: str
    name: str
    build: Callable[[Path], tuple[list[str], Path]]   # tmp dir -> (clinrl argv, the path the error must name)
    verdict: str
    expect: tuple[str, ...] = field(default_factory=tuple)   # more text the output must hold


CASES: list[Case] = []


def case(area, name, verdict, *expect):
    def register(build):
        CASES.append(Case(area, name, build, verdict, expect))
        return build
    return register


# -- MedCalc CSV through `clinrl data show medcalc --source F -n 5` (23) ------------------------------------------
MC_COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
              "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit", "Upper Limit",
              "Ground Truth Explanation"]


def mc_row(number=1, **overrides):
    row = {"Row Number": str(number), "Calculator ID": "6", "Calculator Name": "Body Mass Index (BMI)",
           "Category": "physical", "Output Type": "decimal", "Note ID": f"n{number}", "Note Type": "Template",
           "Patient Note": "A 40-year-old man, 180 cm, 81 kg, 38.5 °C.", "Question": "What is the patient's BMI?",
           "Relevant Entities": "{'weight': [81.0, 'kg'], 'height': [180.0, 'cm']}", "Ground Truth Answer": "25.0",
           "Lower Limit": "23.75", "Upper Limit": "26.25", "Ground Truth Explanation": "81 / 1.8^2"}
    row.update(overrides)
    return row


def mc_csv(tmp, rows, *, columns=MC_COLUMNS, encoding="utf-8", name="mc.csv"):
    path = tmp / name
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def show_mc(path):
    return ["data", "show", "medcalc", "--source", str(path), "-n", "5"], path


def mc_case(name, verdict, rows_or_fn, *expect, **kw):
    def build(tmp):
        path = rows_or_fn(tmp) if callable(rows_or_fn) else mc_csv(tmp, rows_or_fn, **kw)
        return show_mc(path)
    CASES.append(Case("medcalc csv", name, build, verdict, expect))


def _text_edit(edit):
    def make(tmp):
        path = mc_csv(tmp, [mc_row(1), mc_row(2)])
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
        return path
    return make


mc_case("truncated inside a quoted field", CLEAR, _text_edit(lambda t: t[:t.rindex('"A 40')] + '"A 40-year-'),
        "row 2")
mc_case("short last row", CLEAR, _text_edit(lambda t: t.rstrip("\n").rsplit(",", 6)[0] + "\n"), "row 2")
mc_case("Upper Limit column removed", CLEAR, [mc_row()], "field 'Upper Limit': missing column",
        columns=[c for c in MC_COLUMNS if c != "Upper Limit"])
mc_case("Calculator ID = two", CLEAR, [mc_row(**{"Calculator ID": "two"})], "field 'Calculator ID'")
mc_case("Row Number = abc", CLEAR, [mc_row(**{"Row Number": "abc"})], "row 1, field 'Row Number'")
mc_case("limits nan / nan", CLEAR, [mc_row(**{"Lower Limit": "nan", "Upper Limit": "nan"})], "field 'Lower Limit'")
mc_case("limits -inf / inf", CLEAR, [mc_row(**{"Lower Limit": "-inf", "Upper Limit": "inf"})], "field 'Lower Limit'")
mc_case("ground truth nan", CLEAR, [mc_row(**{"Ground Truth Answer": "nan"})], "field 'Ground Truth Answer'")
mc_case("ground truth inf", CLEAR, [mc_row(**{"Ground Truth Answer": "inf"})], "field 'Ground Truth Answer'")
mc_case("lower > upper", OK, [mc_row(**{"Lower Limit": "26.25", "Upper Limit": "23.75"})], "1 sample(s) shown")
mc_case("calculator 999", CLEAR, [mc_row(**{"Calculator ID": "999"})], "field 'Calculator ID': unknown calculator")
mc_case("category banana", CLEAR, [mc_row(Category="banana")], "field 'Category'")
mc_case("Relevant Entities code injection", CLEAR, [mc_row(**{"Relevant Entities": "__import__('os').system('id')"})],
        "field 'Relevant Entities'")
mc_case("Relevant Entities a list", CLEAR, [mc_row(**{"Relevant Entities": "[1, 2]"})], "not a dict")
mc_case("empty Patient Note", CLEAR, [mc_row(**{"Patient Note": ""})], "field 'Patient Note': empty value")
mc_case("empty file", OK, lambda tmp: (tmp / "mc.csv", (tmp / "mc.csv").write_text(""))[0], "0 sample(s) shown")
mc_case("header only", OK, [], "0 sample(s) shown")
mc_case("latin-1", CLEAR, [mc_row()], "not UTF-8", "line 2", encoding="latin-1")
mc_case("\\xff\\xfe bytes", CLEAR, lambda tmp: (tmp / "mc.csv", (tmp / "mc.csv").write_bytes(
    b"\xff\xfe" + ",".join(MC_COLUMNS).encode("utf-16-le")))[0], "not UTF-8", "line 1")
mc_case("UTF-8 BOM (Excel)", OK, [mc_row()], "1 sample(s) shown", encoding="utf-8-sig")
mc_case("duplicate Row Number", CLEAR, [mc_row(1), mc_row(1, **{"Ground Truth Answer": "30"})],
        "row 2, field 'Row Number': duplicate Row Number 1")
mc_case("extra fields beyond the header", CLEAR, _text_edit(lambda t: t.rstrip("\n") + ",EXTRA\n"),
        "row 2", "more field(s) than the header")
mc_case("NUL byte inside a note", OK, [mc_row(**{"Patient Note": "A 40-year-old\x00 man, 180 cm, 81 kg."})],
        "1 sample(s) shown")


# -- MedCalc JSONL / parquet (8) ----------------------------------------------------------------------------------
def mc_jsonl(tmp, lines, name="mc.jsonl"):
    path = tmp / name
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines),
                    encoding="utf-8")
    return path


def mc_parquet(tmp, mangle=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp / "mc.parquet"
    pq.write_table(pa.Table.from_pylist([mc_row(1), mc_row(2)]), path)
    if mangle:
        path.write_bytes(mangle(path.read_bytes()))
    return path


for _name, _verdict, _lines, _expect in [
    ("bad JSON line", CLEAR, [mc_row(1), '{"Row Number": 2,\n'], ("row 2", "invalid JSON")),
    ("non-object line", CLEAR, [mc_row(1), "[1, 2]\n"], ("row 2", "not a JSON object")),
    ("Row Number null", CLEAR, [mc_row(1, **{"Row Number": None})], ("field 'Row Number'",)),
    ("Calculator ID true", CLEAR, [mc_row(1, **{"Calculator ID": True})], ("field 'Calculator ID'",)),
    ("NaN / inf limits", CLEAR, [mc_row(1, **{"Lower Limit": float("nan"), "Upper Limit": float("inf")})],
     ("field 'Lower Limit'",)),
]:
    CASES.append(Case("medcalc jsonl/parquet", _name, lambda tmp, lines=_lines: show_mc(mc_jsonl(tmp, lines)),
                      _verdict, _expect))
CASES.append(Case("medcalc jsonl/parquet", "50 MB note", lambda tmp: show_mc(mc_jsonl(
    tmp, [mc_row(1, **{"Patient Note": "A 40-year-old man, 180 cm, 81 kg. " * 1_450_000})])), OK,
    ("1 sample(s) shown",)))
CASES.append(Case("medcalc jsonl/parquet", "truncated parquet",
                  lambda tmp: show_mc(mc_parquet(tmp, lambda b: b[:len(b) // 2])), CLEAR,
                  ("not a readable parquet file",)))
CASES.append(Case("medcalc jsonl/parquet", "non-parquet file",
                  lambda tmp: show_mc(mc_parquet(tmp, lambda b: b"this is a CSV, not parquet\n")), CLEAR,
                  ("not a readable parquet file",)))


# -- completions for `clinrl score medcalc --source mc_ok.csv -c F -o O` (20) --------------------------------------
ANSWER = "<think>81 / 1.8^2</think><answer>{\"answer\": 25.0}</answer>"


def completions(lines, *, encoding="utf-8", raw: bytes | None = None):
    def build(tmp):
        source = mc_csv(tmp, [mc_row(1), mc_row(2), mc_row(3)], name="mc_ok.csv")
        path = tmp / "preds.jsonl"
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines),
                            encoding=encoding)
        return ["score", "medcalc", "--source", str(source), "-c", str(path), "-o", str(tmp / "scored.jsonl")], path
    return build


for _name, _verdict, _build, _expect in [
    ("bad JSON line", CLEAR, completions([{"id": "1", "completion": ANSWER}, "{oops\n"]), ("row 2",)),
    ("missing id", CLEAR, completions([{"completion": ANSWER}]), ("field 'id'",)),
    ("missing completion", CLEAR, completions([{"id": "1"}]), ("field 'completion'",)),
    ("id not in the source", CLEAR, completions([{"id": "77", "completion": ANSWER}]), ("id '77' is not in",)),
    ("empty file", CLEAR, completions([]), ("no completions",)),
    ("blank lines", CLEAR, completions(["\n", "  \n", "\n"]), ("no completions",)),
    ("BOM", OK, completions([{"id": "1", "completion": ANSWER}], encoding="utf-8-sig"), ("wrote 1 scored rows",)),
    ("number completion", CLEAR, completions([{"id": "1", "completion": 25}]), ("field 'completion'",)),
    ("null completion", CLEAR, completions([{"id": "1", "completion": None}]), ("field 'completion'",)),
    ("null id", CLEAR, completions([{"id": None, "completion": ANSWER}]), ("field 'id'",)),
    ("float id 1.0", CLEAR, completions([{"id": 1.0, "completion": ANSWER}]), ("id '1.0' is not in",)),
    ("message list without content", CLEAR, completions([{"id": "1", "completion": [{"role": "assistant"}]}]),
     ("field 'completion'",)),
    ("array line", CLEAR, completions(["[1, 2]\n"]), ("not a JSON object",)),
    ("truncated line", CLEAR, completions([{"id": "1", "completion": ANSWER}, '{"id": "2", "compl']), ("row 2",)),
    ("latin-1", CLEAR, completions([], raw=json.dumps({"id": "1", "completion": "fièvre " + ANSWER},
                                                      ensure_ascii=False).encode("latin-1")), ("not UTF-8",)),
    ("duplicate ids", OK, completions([{"id": "1", "completion": ANSWER}, {"id": "1", "completion": "x"}]),
     ("appear on more than one row", "wrote 2 scored rows")),
    ("int id 1", OK, completions([{"id": 1, "completion": ANSWER}]), ("wrote 1 scored rows",)),
    ("chat-message list", OK, completions([{"id": "1", "completion": [{"role": "assistant", "content": ANSWER}]}]),
     ("wrote 1 scored rows",)),
    ("extra NaN field", OK, completions(['{"id": "1", "completion": "%s", "x": NaN}\n' % ANSWER.replace('"', '\\"')]),
     ("wrote 1 scored rows",)),
    ("10 MB line", OK, completions([{"id": "1", "completion": "x" * 10_000_000 + ANSWER}]), ("wrote 1 scored rows",)),
]:
    CASES.append(Case("completions", _name, _build, _verdict, _expect))


# -- target-less rows, scored without --source (6) ----------------------------------------------------------------
def targetless(**target):
    def build(tmp):
        path = tmp / "preds.jsonl"
        row = {"id": "a", "completion": ANSWER, "calculator_id": 6, "ground_truth": "25", "lower_limit": "24",
               "upper_limit": "26", **target}
        path.write_text(json.dumps(row) + "\n")
        return ["score", "medcalc", "-c", str(path), "-o", str(tmp / "scored.jsonl")], path
    return build


for _name, _target, _field in [
    ("bad calculator_id", {"calculator_id": "x"}, "calculator_id"),
    ("bad ground_truth", {"ground_truth": "abc"}, "ground_truth"),
    ("null limit", {"lower_limit": None}, "lower_limit"),
    ("bad date", {"calculator_id": 13, "ground_truth": "13/45/2020"}, "ground_truth"),
    ("-inf / inf limits", {"lower_limit": "-inf", "upper_limit": "inf"}, "lower_limit"),
    ("calculator 999", {"calculator_id": 999}, "calculator_id"),
]:
    CASES.append(Case("target-less rows", _name, targetless(**_target), CLEAR, ("row 1", f"field {_field!r}")))


# -- trial pairs through `clinrl data show trials -O missing_criteria=keep` (17) ----------------------------------
def pair(**overrides):
    row = {"query_id": "q1", "trial_id": "NCT1", "label": 2, "label_name": "eligible", "patient_note": "A man.",
           "trial_title": "T", "inclusion_criteria": "adults", "exclusion_criteria": "none"}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not KeyError}


def pairs_file(lines):
    def build(tmp):
        path = tmp / "pairs.jsonl"
        path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
        return ["data", "show", "trials", "--source", str(path), "-O", "missing_criteria=keep"], path
    return build


for _name, _verdict, _lines, _expect in [
    ("label 3", CLEAR, [pair(label=3, label_name=None)], ("field 'label'",)),
    ("label -1", CLEAR, [pair(label=-1, label_name=None)], ("field 'label'",)),
    ("label '2.5'", CLEAR, [pair(label="2.5", label_name=None)], ("field 'label'",)),
    ("label 'eligible'", CLEAR, [pair(label="eligible", label_name=None)], ("field 'label'",)),
    ("label true", CLEAR, [pair(label=True, label_name=None)], ("field 'label'",)),
    ("label null", CLEAR, [pair(label=None, label_name=None)], ("field 'label'",)),
    ("label 'x'", CLEAR, [pair(label="x", label_name=None)], ("field 'label'",)),
    ("label NaN", CLEAR, ['{"query_id": "q1", "trial_id": "NCT1", "label": NaN, "patient_note": "A man.", '
                          '"trial_title": "T", "inclusion_criteria": "a", "exclusion_criteria": "b"}\n'],
     ("field 'label'",)),
    ("label_name contradiction", CLEAR, [pair(label=0)], ("field 'label_name'",)),
    ("missing inclusion_criteria", CLEAR, [pair(inclusion_criteria=KeyError)], ("field 'inclusion_criteria'",)),
    ("empty note", CLEAR, [pair(patient_note="  ")], ("field 'patient_note'",)),
    ("integer query_id", CLEAR, [pair(query_id=7)], ("field 'query_id'",)),
    ("duplicate pair", CLEAR, [pair(), pair()], ("row 2", "duplicate pair")),
    ("truncated line", CLEAR, [pair(), '{"query_id": "q2", "tri'], ("row 2",)),
    ("list criteria", CLEAR, [pair(inclusion_criteria=["a", "b"])], ("field 'inclusion_criteria'",)),
    ("label 2.0", OK, [pair(label=2.0)], ("1 sample(s) shown",)),
    ("empty file", OK, [], ("0 sample(s) shown",)),
]:
    CASES.append(Case("trial pairs", _name, pairs_file(_lines), _verdict, _expect))


# -- TrialGPT directories (12) ------------------------------------------------------------------------------------
def trialgpt(qrels="query-id\tcorpus-id\tscore\np1\tNCT1\t2\np1\tNCT2\t0\n", queries=None, corpus=None,
             raw_qrels: bytes | None = None):
    def build(tmp):
        folder = tmp / "trialgpt"
        folder.mkdir()
        rows = queries if queries is not None else [{"_id": "p1", "text": "A 60-year-old man."}]
        (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if raw_qrels is not None:
            (folder / "qrels_test.tsv").write_bytes(raw_qrels)
        else:
            (folder / "qrels_test.tsv").write_text(qrels)
        records = corpus if corpus is not None else [
            {"_id": "NCT1", "title": "T1", "inclusion_criteria": "adults", "exclusion_criteria": "none"},
            {"_id": "NCT2", "title": "T2", "inclusion_criteria": "women", "exclusion_criteria": "men"}]
        (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        return ["data", "show", "trials", "--source", str(folder), "-O", "missing_criteria=keep", "-n", "5"], folder
    return build


for _name, _verdict, _build, _expect in [
    ("1-column qrels row", CLEAR, trialgpt(qrels="p1\n"), ("qrels_test.tsv", "row 1")),
    ("qrels label 3", CLEAR, trialgpt(qrels="p1\tNCT1\t3\n"), ("field 'score'",)),
    ("bad queries.jsonl", CLEAR, trialgpt(queries=[{"_id": "p1"}]), ("queries.jsonl", "field 'text'")),
    ("corpus record without criteria", CLEAR, trialgpt(corpus=[{"_id": "NCT1", "title": "T", "metadata": {}}]),
     ("corpus.jsonl", "field 'inclusion_criteria'")),
    ("conflicting duplicate judgment", CLEAR, trialgpt(qrels="p1\tNCT1\t2\np1\tNCT1\t0\n"), ("row 2", "judged 2")),
    ("duplicate patient", CLEAR, trialgpt(queries=[{"_id": "p1", "text": "a"}, {"_id": "p1", "text": "b"}]),
     ("duplicate patient id",)),
    ("judgment for an absent patient", OK, trialgpt(qrels="p1\tNCT1\t2\np9\tNCT1\t0\n"),
     ("1 judgment(s) name 1 patient(s) absent", "1 sample(s) shown")),
    ("judgment for a trial absent from the corpus", OK, trialgpt(qrels="p1\tNCT1\t2\np1\tNCT9\t0\n"),
     ("have no criteria text", "2 sample(s) shown")),
    ("empty qrels", OK, trialgpt(qrels=""), ("0 sample(s) shown",)),
    ("duplicate corpus id", CLEAR, trialgpt(corpus=[
        {"_id": "NCT1", "title": "T", "inclusion_criteria": "adults", "exclusion_criteria": "none"},
        {"_id": "NCT1", "title": "T", "inclusion_criteria": "different", "exclusion_criteria": "none"}]),
     ("row 2", "duplicate trial id 'NCT1'")),
    ("same-label duplicate qrels line", OK, trialgpt(qrels="p1\tNCT1\t2\np1\tNCT1\t2\n"),
     ("1 pair(s) skipped: repeated judgment line", "1 sample(s) shown")),
    ("latin-1 qrels", CLEAR, trialgpt(raw_qrels="p1\tNCT1\t2\np1\tNCTé\t0\n".encode("latin-1")),
     ("qrels_test.tsv", "not UTF-8", "line 2")),
]:
    CASES.append(Case("trialgpt dirs", _name, _build, _verdict, _expect))


# -- MEDS through `clinrl data labels ehr --meds F --task new_hypertension --task guo_los` (26) -------------------
def _events():
    from clinrl.data.meds import events_to_arrow
    from clinrl.data.meds_synth import generate_cohort

    return events_to_arrow(generate_cohort(3, seed=0).events)


def _set(table, column, index, value, type_=None):
    import pyarrow as pa

    values = table.column(column).to_pylist()
    values[index] = value
    return table.set_column(table.column_names.index(column), column,
                            pa.array(values, type_ or table.schema.field(column).type))


def _cast(table, column, type_):
    return table.set_column(table.column_names.index(column), column, table.column(column).cast(type_))


def _subject_rows(table, position=0):
    ids = table.column("subject_id").to_pylist()
    first = sorted(set(ids))[position]
    return [i for i, s in enumerate(ids) if s == first]


def meds_file(mutate):
    def build(tmp):
        import pyarrow.parquet as pq

        path = tmp / "events.parquet"
        pq.write_table(mutate(_events()), path)
        return ["data", "labels", "ehr", "--meds", str(path), "--task", "new_hypertension", "--task", "guo_los"], path
    return build


def _noncontiguous(t):
    s0, s1 = _subject_rows(t, 0), _subject_rows(t, 1)
    rest = [i for i in range(t.num_rows) if i not in s0 and i not in s1]
    return t.take(s0[:3] + s1 + s0[3:] + rest)


def _unsorted(t):
    s0 = _subject_rows(t, 0)
    order = list(range(t.num_rows))
    order[s0[2]], order[s0[-1]] = order[s0[-1]], order[s0[2]]
    return t.take(order)


def _duplicated_row(t):
    return t.take(list(range(4)) + [3] + list(range(4, t.num_rows)))


for _name, _verdict, _mutate, _expect in [
    ("missing code", CLEAR, lambda t: t.drop(["code"]), ("field 'code'",)),
    ("non-contiguous subject", CLEAR, _noncontiguous, ("is not contiguous",)),
    ("null code", CLEAR, lambda t: _set(t, "code", 5, None), ("row 6, field 'code'",)),
    ("null subject", CLEAR, lambda t: _set(t, "subject_id", 5, None), ("row 6, field 'subject_id'",)),
    ("string ids", CLEAR, lambda t: _cast(t, "subject_id", "string"), ("field 'subject_id'",)),
    ("date time", CLEAR, lambda t: _cast(t, "time", "date32"), ("field 'time'",)),
    ("string time", CLEAR, lambda t: _cast(t, "time", "string"), ("field 'time'",)),
    ("tz-aware time", CLEAR, lambda t: _cast(t, "time", __import__("pyarrow").timestamp("us", tz="UTC")),
     ("field 'time'", "time zone")),
    ("unsorted subject", CLEAR, _unsorted, ("field 'time'", "not sorted")),
    ("string value", CLEAR, lambda t: _cast(t, "numeric_value", "string"), ("field 'numeric_value'",)),
    ("null time between timed events", CLEAR, lambda t: _set(t, "time", 3, None), ("row 4, field 'time'",)),
    ("fully duplicated rows", OK, _duplicated_row, ("guo_los",)),
    ("empty table", OK, lambda t: t.slice(0, 0), ("guo_los",)),
    ("empty-string code", OK, lambda t: _set(t, "code", 3, ""), ("guo_los",)),
    ("NaN values", OK, lambda t: _set(t, "numeric_value", 3, float("nan")), ("guo_los",)),
    ("inf values", OK, lambda t: _set(t, "numeric_value", 3, float("inf")), ("guo_los",)),
    ("negative ids", OK, lambda t: _cast(t, "subject_id", "int64").set_column(
        0, "subject_id", __import__("pyarrow").compute.negate(t.column("subject_id"))), ("guo_los",)),
]:
    CASES.append(Case("meds", _name, meds_file(_mutate), _verdict, _expect))


def meds_dir(mutate):
    def build(tmp):
        from clinrl.data.meds_synth import write_cohort

        folder = tmp / "cohort"
        write_cohort(folder, n_subjects=3, seed=0, subjects_per_shard=2)
        named = mutate(folder) or folder
        return ["data", "labels", "ehr", "--meds", str(folder), "--task", "new_hypertension", "--task",
                "guo_los"], named
    return build


def _rewrite(path, mutate):
    import pyarrow.parquet as pq

    pq.write_table(mutate(pq.read_table(path)), path)
    return path


def _splits_table(subject_ids, splits, id_type="int64"):
    import pyarrow as pa

    return pa.table({"subject_id": pa.array(subject_ids, id_type), "split": pa.array(splits, pa.string())})


def _no_shards(folder):
    for shard in (folder / "data").glob("*.parquet"):
        shard.unlink()
    (folder / ".clinrl-complete.json").unlink(missing_ok=True)   # as a dataset from another tool would be


def _split_across_shards(folder):
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = pq.read_table(folder / "data" / "0.parquet")
    moved = first.take(_subject_rows(first, 0)[-2:])
    _rewrite(folder / "data" / "1.parquet", lambda t: pa.concat_tables([moved, t]))
    return folder / "data" / "1.parquet"


def _meta(folder, **changes):
    path = folder / "metadata" / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def _split_rows(folder):
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "metadata" / "subject_splits.parquet")
    return table.column("subject_id").to_pylist(), table.column("split").to_pylist()


for _name, _verdict, _mutate, _expect in [
    ("bad codes.parquet", CLEAR, lambda f: ((f / "metadata" / "codes.parquet").write_bytes(b"nope"),
                                            f / "metadata" / "codes.parquet")[1], ("not a readable parquet",)),
    ("invalid dataset.json", CLEAR, lambda f: ((f / "metadata" / "dataset.json").write_text("{"),
                                               f / "metadata" / "dataset.json")[1], ("invalid JSON",)),
    ("wrong-typed splits file", CLEAR, lambda f: _rewrite(f / "metadata" / "subject_splits.parquet", lambda t:
                                                          _splits_table([str(s) for s in _split_rows(f)[0]],
                                                                        _split_rows(f)[1], "string")),
     ("SubjectSplitSchema",)),
    ("meds_version 5", CLEAR, lambda f: _meta(f, meds_version=5), ("DatasetMetadataSchema",)),
    ("no shards", CLEAR, _no_shards, ("no event shards",)),
    ("subject split across shards", CLEAR, _split_across_shards, ("split across shards",)),
    ("unsorted subject in a shard", CLEAR, lambda f: _rewrite(f / "data" / "1.parquet", lambda t: t.take(
        list(range(t.num_rows))[::-1])), ("field 'time'", "not sorted")),
    ("subject in two splits", CLEAR, lambda f: _rewrite(f / "metadata" / "subject_splits.parquet", lambda t:
                                                        _splits_table(_split_rows(f)[0] + _split_rows(f)[0][:1],
                                                                      _split_rows(f)[1] + ["held_out"])),
     ("row 4, field 'subject_id'", "listed twice")),
    ("unknown split names", OK, lambda f: (_rewrite(f / "metadata" / "subject_splits.parquet", lambda t:
                                                    _splits_table(_split_rows(f)[0], ["fold-a"] * 3)), f)[1],
     ("guo_los",)),
]:
    CASES.append(Case("meds", _name, meds_dir(_mutate), _verdict, _expect))


# -- rubric files through `clinrl data show rubric -s F` (39) -----------------------------------------------------
def rubric(**changes):
    row = {"id": "r1", "prompt": "How much paracetamol may I take?", "items": [
        {"id": "p1", "text": "Gives 4 g a day as the maximum", "dimension": "proficiency", "weight": 1.0,
         "points": 5},
        {"id": "s1", "text": "Advises more than 4 g a day", "dimension": "safety", "weight": 0, "points": -5}]}
    row.update(changes)
    return row


def item(index, **changes):
    row = rubric()
    row["items"][index].update(changes)
    return row


def healthbench(**changes):
    row = {"prompt_id": "hb1", "prompt": [{"role": "user", "content": "Chest pain, what now?"}],
           "rubrics": [{"criterion": "Advises calling emergency services", "points": 8, "tags": ["axis:accuracy"]},
                       {"criterion": "Suggests waiting", "points": -6, "tags": []}],
           "example_tags": ["theme:emergency_referrals"], "ideal_completions_data": None}
    row.update(changes)
    return row


def rar(*weights):
    return {"id": "rar1", "question": "Is ibuprofen safe with warfarin?",
            "rubric": [{"title": f"t{i}", "description": f"criterion {i}", "weight": w} for i, w in enumerate(weights)]}


def rubric_file(*lines, raw: bytes | None = None, prefix: str = ""):
    def build(tmp):
        path = tmp / "rubrics.jsonl"
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(prefix + "".join(line if isinstance(line, str) else json.dumps(line) + "\n"
                                             for line in lines), encoding="utf-8")
        return ["data", "show", "rubric", "-s", str(path), "-n", "5"], path
    return build


for _name, _verdict, _build, _expect in [
    ("weights do not sum to 1", CLEAR, rubric_file(item(0, weight=0.5)), ("weights sum to 0.5",)),
    ("negative weight", CLEAR, rubric_file(item(0, weight=-1.0)), ("field 'items[0].weight'",)),
    ("string weight", CLEAR, rubric_file(item(0, weight="1")), ("field 'items[0].weight'",)),
    ("bool weight", CLEAR, rubric_file(item(0, weight=True)), ("field 'items[0].weight'",)),
    ("NaN weight", CLEAR, rubric_file(json.dumps(item(0, weight=float("nan"))) + "\n"), ("field 'items[0].weight'",)),
    ("inf weight", CLEAR, rubric_file(json.dumps(item(0, weight=float("inf"))) + "\n"), ("field 'items[0].weight'",)),
    ("safety item with positive points", CLEAR, rubric_file(item(1, points=5)), ("field 'items[1].points'",)),
    ("unknown dimension", CLEAR, rubric_file(item(1, dimension="style")), ("field 'items[1].dimension'",)),
    ("empty text", CLEAR, rubric_file(item(1, text="")), ("field 'items[1].text'",)),
    ("string points", CLEAR, rubric_file(item(0, points="5")), ("field 'items[0].points'",)),
    ("bool points", CLEAR, rubric_file(item(0, points=True)), ("field 'items[0].points'",)),
    ("NaN points", CLEAR, rubric_file(json.dumps(item(0, points=float("nan"))) + "\n"), ("field 'items[0].points'",)),
    ("weight on a safety item", CLEAR, rubric_file(item(1, weight=0.5)), ("field 'items[1].weight'",)),
    ("negative points on a proficiency item", CLEAR, rubric_file(item(0, points=-3)), ("field 'items[0].points'",)),
    ("missing id", CLEAR, rubric_file(rubric(id="")), ("field 'id'",)),
    ("duplicate item id", CLEAR, rubric_file(item(1, id="p1")), ("field 'items[1].id'",)),
    ("items not a list", CLEAR, rubric_file(rubric(items=5)), ("field 'items'",)),
    ("no items", CLEAR, rubric_file(rubric(items=[])), ("field 'items'",)),
    ("unknown format", CLEAR, rubric_file({"foo": 1}), ("unknown rubric format",)),
    ("invalid JSON line", CLEAR, rubric_file(rubric(), "{oops\n"), ("row 2", "invalid JSON")),
    ("not an object", CLEAR, rubric_file("[1]\n"), ("not a JSON object",)),
    ("invalid match: regex", CLEAR, rubric_file(item(1, tags=["match:(unclosed"])),
     ("field 'items[1].tags'", "not a valid regular expression")),
    ("byte-order mark", OK, rubric_file(rubric(), prefix="\ufeff"), ("1 sample(s) shown",)),
    ("all-negative HealthBench items", OK, rubric_file(healthbench(rubrics=[
        {"criterion": "Bad a", "points": -3, "tags": []}, {"criterion": "Bad b", "points": -1, "tags": []}])),
     ("1 sample(s) shown",)),
    ("all-zero HealthBench items", OK, rubric_file(healthbench(rubrics=[{"criterion": "Nice", "points": 0,
                                                                         "tags": []}])), ("1 sample(s) shown",)),
    ("string ideal_completions_data", OK, rubric_file(healthbench(ideal_completions_data="x")), ("1 sample(s) shown",)),
    ("RaR with only pitfalls", OK, rubric_file(rar(-3, -1)), ("1 sample(s) shown",)),
    ("RaR weight 1e300", OK, rubric_file(rar(1e300, 2)), ("1 sample(s) shown",)),
    ("empty file", OK, rubric_file(), ("0 sample(s) shown",)),
    ("rubric tags: 5", CLEAR, rubric_file(rubric(tags=5)), ("field 'tags'",)),
    ("HealthBench example_tags: 5", CLEAR, rubric_file(healthbench(example_tags=5)), ("field 'example_tags'",)),
    ("HealthBench item tags: 5", CLEAR, rubric_file(healthbench(rubrics=[{"criterion": "c", "points": 5, "tags": 5}])),
     ("field 'rubrics[0].tags'",)),
    ("HealthBench prompt: 5", CLEAR, rubric_file(healthbench(prompt=5)), ("field 'prompt'",)),
    ("clinrl prompt: 5", CLEAR, rubric_file(rubric(prompt=5)), ("field 'prompt'",)),
    ("metadata: 'x'", CLEAR, rubric_file(rubric(metadata="x")), ("field 'metadata'",)),
    ("prompt: ['a', 'b']", CLEAR, rubric_file(rubric(prompt=["a", "b"])), ("field 'prompt'",)),
    ("RaR weight 1e309", CLEAR, rubric_file('{"id": "x", "question": "q", "rubric": [{"title": "a", '
                                            '"description": "d", "weight": 1e309}]}\n'), ("field 'rubric[0].weight'",)),
    ("RaR weight NaN", CLEAR, rubric_file('{"id": "x", "question": "q", "rubric": [{"title": "a", '
                                          '"description": "d", "weight": NaN}]}\n'), ("field 'rubric[0].weight'",)),
    ("duplicate rubric id", CLEAR, rubric_file(rubric(), rubric(prompt="Another question?")),
     ("row 2", "duplicate rubric id")),
]:
    CASES.append(Case("rubric files", _name, _build, _verdict, _expect))


# -- the run ------------------------------------------------------------------------------------------------------
AREAS = {"medcalc csv": 23, "medcalc jsonl/parquet": 8, "completions": 20, "target-less rows": 6,
         "trial pairs": 17, "trialgpt dirs": 12, "meds": 26, "rubric files": 39}


def test_the_set_is_the_audits_151_inputs():
    counts = {area: sum(c.area == area for c in CASES) for area in AREAS}
    assert counts == AREAS and len(CASES) == 151
    assert len({(c.area, c.name) for c in CASES}) == 151


def run_clinrl(monkeypatch, capsys, argv):
    monkeypatch.setenv("COLUMNS", "4000")   # one error line, never wrapped inside a path
    monkeypatch.setattr(sys, "argv", ["clinrl", *argv])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() installs its own
    code = 0
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        try:
            main()          # a traceback would escape here and fail the test
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.name}" for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    argv, named = case.build(tmp_path)
    code, out, err = run_clinrl(monkeypatch, capsys, argv)
    text = " ".join((out + err).split())
    if case.verdict == CLEAR:
        assert code == 2, f"exit {code}: {text[-500:]}"
        assert "error:" in err and str(named) in text, text[-500:]
    else:
        assert code == 0 and "error:" not in err, text[-500:]
    for piece in case.expect:
        assert piece in text, f"{piece!r} not in {text[-800:]!r}"
