"""An unreachable hub fails fast with a clear error, and nothing leaks offline mode into other tests."""

from __future__ import annotations

import time

import pytest

from clinrl.errors import ConfigError, DataError


@pytest.fixture
def unreachable_hub(monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants")
    datasets = pytest.importorskip("datasets")
    # monkeypatch records the originals, so whatever the code switches on is undone after the test
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", datasets.config.HF_HUB_OFFLINE)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", datasets.config.HF_DATASETS_OFFLINE)
    monkeypatch.setattr(constants, "ENDPOINT", "https://clinrl-hub-test.invalid")
    return constants


def test_unresolvable_host_switches_to_offline_mode(unreachable_hub):
    from clinrl.hub import offline_if_unreachable

    assert offline_if_unreachable() is True
    assert unreachable_hub.HF_HUB_OFFLINE is True


def test_hub_dataset_fails_fast_and_says_dataset(unreachable_hub):
    from clinrl.data.tables import read_rows

    started = time.perf_counter()
    with pytest.raises(DataError) as info:
        list(read_rows("clinrl-test/no-such-dataset", split="test"))
    assert time.perf_counter() - started < 15
    message = str(info.value)
    assert message.startswith("dataset clinrl-test/no-such-dataset:") and "cannot reach the hub" in message


def test_hub_model_fails_fast_naming_the_alternatives(unreachable_hub):
    from clinrl.models import resolve_model

    started = time.perf_counter()
    with pytest.raises(ConfigError, match="offline.*'tiny'"):
        resolve_model("clinrl-test/no-such-model")
    assert time.perf_counter() - started < 15
