"""Shared fixtures.

Conformance tests read the real benchmark files from ``../shared/data`` (override with
``CLINRL_SHARED_DATA``). They skip with a reason when the folder is absent, except in CI where
``CLINRL_REQUIRE_SHARED_DATA=1`` turns a missing folder into a failure.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_bench_script(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` (the bench scripts are not a package) so a test can call its functions."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_data_dir() -> Path:
    return Path(os.environ.get("CLINRL_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CLINRL_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"shared data folder {path} is missing but CLINRL_REQUIRE_SHARED_DATA=1")
        pytest.skip(f"benchmark data not found at {path} (set CLINRL_SHARED_DATA to run conformance tests)")
    return path


@pytest.fixture(scope="session")
def medcalc_test_csv(shared_data: Path) -> Path:
    path = shared_data / "medcalc-bench" / "test_data.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


# The local OpenAI-compatible test server, available to every test as the `fake_llm` fixture.
from fake_llm import FakeLLMServer, FakeReply, fake_llm  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _cpu_kernel_pin_stays_in_its_test():
    """Tests that call ``clinrl.cli.main()`` in this process pin the CPU kernels through os.environ
    (clinrl.device.pin_cpu_kernels); put the variables back, so later tests and their subprocesses start as the
    suite did."""
    from clinrl.device import KERNELS_ENV, PINNED_KERNELS

    names = (*PINNED_KERNELS, KERNELS_ENV)
    before = {name: os.environ.get(name) for name in names}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    """Review-app tests log in many times; full-strength PBKDF2 would only slow them down."""
    try:
        import clinrl.review.store as store
    except ImportError:  # the review extra is not installed
        return
    monkeypatch.setattr(store, "PASSWORD_ITERATIONS", 1_000)
