"""The task-agnostic training layer: TRL passthroughs."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinrl.errors import ConfigError
from clinrl.training.config import RunConfig, from_dict, load_recipe, parse_override


# -- trl_args --------------------------------------------------------------------------------------
def test_trl_args_are_merged_last_into_the_trl_configs():
    from clinrl.training.grpo import grpo_args
    from clinrl.training.sft import sft_args

    config = load_recipe("quickstart", {"sft": {"trl_args": {"max_grad_norm": 0.25, "learning_rate": 7e-4}},
                                        "grpo": {"trl_args": {"max_grad_norm": 0.5, "top_k": 20}}})
    config.model.device = "cpu"
    sft = sft_args(config, Path("/tmp/unused-sft"))
    assert sft.max_grad_norm == 0.25 and sft.learning_rate == 7e-4  # the passthrough wins over sft.learning_rate
    assert sft.max_steps == config.sft.max_steps                      # the rest is still the recipe's
    grpo = grpo_args(config, Path("/tmp/unused-grpo"), world_size=1)
    assert grpo.max_grad_norm == 0.5 and grpo.top_k == 20              # clinrl sets top_k=0; trl_args wins
    assert grpo.num_generations == config.grpo.num_generations


def test_trl_args_with_an_unknown_key_name_the_key_and_the_trl_class():
    from clinrl.training.grpo import grpo_args
    from clinrl.training.sft import sft_args

    config = RunConfig()
    config.model.device = "cpu"
    config.sft.trl_args = {"max_grad_nrom": 1.0}
    with pytest.raises(ConfigError, match=r"sft\.trl_args: 'max_grad_nrom' is not a field of trl\.SFTConfig "
                                          r"\(did you mean 'max_grad_norm'\?\)"):
        sft_args(config, Path("/tmp/unused"))
    config.sft.trl_args = {}
    config.grpo.trl_args = {"no_such_knob": 1}
    with pytest.raises(ConfigError, match=r"grpo\.trl_args: 'no_such_knob' is not a field of trl\.GRPOConfig"):
        grpo_args(config, Path("/tmp/unused"), world_size=1)


def test_trl_args_come_from_yaml_and_set():
    config = load_recipe("quickstart", parse_override("grpo.trl_args.max_prompt_length=512"))
    assert config.grpo.trl_args == {"max_prompt_length": 512} and config.sft.trl_args == {}
    with pytest.raises(ConfigError, match="trl_args"):
        from_dict(RunConfig, {"sft": {"trl_args": [1, 2]}})
