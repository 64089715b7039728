"""`tasks[].sft_source`: the warm-up's worked examples from one source, GRPO's answers-only prompts from another."""

from __future__ import annotations

import pytest

from clinrl.errors import ConfigError
from clinrl.tasks.medcalc import synth
from clinrl.training.config import TaskSettings, load_recipe, parse_override
from clinrl.training.mixtures import grpo_rows, load_mixture, sft_rows, sft_subset

SIMPLE = "synthetic:calculators=51,45;n=400;difficulty=simple"
TEMPLATE = "synthetic:calculators=51,45;n=400;difficulty=template"


class Tokenizer:
    """Renders the chat as plain text (what render_prompt needs from a tokenizer)."""

    chat_template = None

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True, **_):
        return "".join(m["content"] for m in messages)


def _settings(**kw):
    return TaskSettings(name="medcalc", source=SIMPLE, train_limit=60, heldout_limit=8, sft_fraction=0.25,
                        options={"prompt_style": "compact"}, **kw)


def test_warm_up_reads_its_own_source_and_grpo_keeps_the_training_one():
    (data,) = load_mixture([_settings(sft_source=TEMPLATE)]).tasks
    assert len(data.train) == 60 and len(data.warmup) == 60 and data.sft_pool is data.warmup
    template = [s for s in data.warmup if s.prompt[-1]["content"].startswith("The patient ")]
    assert len(template) == 60  # template notes: one 'The patient …' sentence per finding
    assert not any(s.prompt[-1]["content"].startswith("The patient ") for s in data.train)
    picked = sft_subset(data, seed=0)
    assert 12 <= len(picked) <= 15 and {s.id for s in picked} <= {s.id for s in data.warmup}
    assert all(s in data.warmup for s in picked)
    tokenizer = Tokenizer()
    from clinrl.training.mixtures import Mixture

    mixture = Mixture([data])
    sft_prompts = {r["prompt"] for r in sft_rows(mixture, tokenizer, think="steps")}
    grpo_prompts = {r["prompt"] for r in grpo_rows(mixture, tokenizer)}
    assert len(sft_prompts) == len(picked) and len(grpo_prompts) == 60 and not sft_prompts & grpo_prompts
    # a synthetic warm-up source has its own seed stream: it does not restate GRPO's patients in other words
    assert [s.target for s in data.warmup[:10]] != [s.target for s in data.train[:10]]


def test_without_sft_source_the_warm_up_is_a_subset_of_training():
    (data,) = load_mixture([_settings()]).tasks
    assert data.warmup is None and data.sft_pool is data.train
    assert {s.id for s in sft_subset(data, seed=0)} <= {s.id for s in data.train}


def test_heldout_samples_seen_in_the_warm_up_are_dropped(tmp_path):
    path = tmp_path / "worked.csv"
    synth.write_rows(synth.generate_rows(12, calculators="51", seed=3, difficulty="template"), str(path))
    mixture = load_mixture([TaskSettings(name="medcalc", source=SIMPLE, train_limit=20, sft_source=str(path),
                                         heldout_source=str(path), heldout_limit=12,
                                         options={"prompt_style": "compact"})])
    (data,) = mixture.tasks
    assert data.heldout == [] and data.dropped_overlap == 12
    assert any("12 held-out sample(s) also in training" in note for note in mixture.notes)


def test_an_empty_or_unknown_sft_source_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="difficulty"):
        load_mixture([_settings(sft_source="synthetic:calculators=51;n=10;difficulty=hard")])
    empty = tmp_path / "empty.csv"
    synth.write_rows([], str(empty))
    with pytest.raises(ConfigError, match=f"sft_source '{empty}' split 'train' gave no samples"):
        load_mixture([_settings(sft_source=str(empty))])


def test_sft_source_is_a_recipe_field():
    config = load_recipe("quickstart", parse_override(f"tasks.0.sft_source={TEMPLATE}"))
    assert config.tasks[0].sft_source == TEMPLATE and config.tasks[0].source != TEMPLATE
