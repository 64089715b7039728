"""bench/pretrain_tiny.py: its corpus is the generator's worked explanations, disjoint from the held-out notes,
and a short run writes a model directory whose weights moved."""

from __future__ import annotations

import json

import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def pre():
    return load_bench_script("pretrain_tiny")


def test_corpus_is_note_question_explanation_answer(pre):
    texts = pre.corpus_texts(6, seed=pre.CORPUS_SEED, eos="<|im_end|>")
    assert len(texts) == 6
    for text in texts:
        assert text.endswith("<|im_end|>")
        assert "\nAnswer: " in text and "?" in text  # the question is kept
        assert len(text.split("\n")) >= 4  # note, question, explanation lines, answer


def test_heldout_overlap_counts_verbatim_notes(pre):
    from clinrl.cli.quickstart import quickstart_config
    from clinrl.training.mixtures import load_mixture

    data = load_mixture(quickstart_config("medcalc", "tiny", "quickstart", ["seed=0"], "none").tasks, seed=0).tasks[0]
    note = data.heldout[0].prompt[-1]["content"].split("\n\nWhat is")[0]
    assert pre.heldout_overlap([f"{note}\nWhat is it?\nrule\nAnswer: 1", "another note\nq\nx\nAnswer: 0"], 0) == 1
    assert pre.heldout_overlap(pre.corpus_texts(50, seed=pre.CORPUS_SEED, eos=""), 0) == 0


@pytest.mark.parametrize("flag,value", [("--rows", "0"), ("--steps", "-3"), ("--batch", "0"), ("--lr", "0")])
def test_absurd_sizes_are_refused_naming_the_flag(pre, capsys, tmp_path, flag, value):
    with pytest.raises(SystemExit) as stopped:
        pre.main(["--out", str(tmp_path / "x"), flag, value])
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_short_run_writes_a_loadable_model_whose_weights_moved(pre, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from clinrl.models.tiny import tiny_dir

    out = tmp_path / "pre"
    assert pre.main(["--out", str(out), "--rows", "24", "--steps", "3", "--batch", "4", "--max-length", "256",
                     "--overlap-seeds"]) == 0
    summary = json.loads((out / "pretrain.json").read_text())
    assert summary["steps"] == 3 and summary["rows"] == 24
    before = AutoModelForCausalLM.from_pretrained(tiny_dir()).state_dict()
    after = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)
