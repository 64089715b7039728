"""Device and dtype resolution (clinrl.device), with the accelerator mocked on CPU machines."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from clinrl.errors import ConfigError  # noqa: E402
from clinrl import device as dev  # noqa: E402


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda t: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")


def test_auto_is_cpu_and_float32_without_accelerator(no_accelerator):
    placement = dev.resolve_placement("auto", "auto")
    assert placement.device == "cpu" and placement.dtype == torch.float32
    described = placement.describe()
    assert {k: described[k] for k in ("device", "dtype")} == {"device": "cpu", "dtype": "float32"}
    # what decides a CPU run's float results is recorded with it
    assert described["threads"] == torch.get_num_threads()
    assert described["kernels"] == torch.backends.cpu.get_cpu_capability()


def test_cpu_numerics_names_the_processor_and_the_overrides(monkeypatch, tmp_path):
    for name in dev.NUMERICS_ENV:
        monkeypatch.delenv(name, raising=False)
    assert "env" not in dev.cpu_numerics(torch)
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert dev.cpu_numerics(torch)["env"] == {"OMP_NUM_THREADS": "1", "MKL_CBWR": "AVX2"}
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path,
                                                                         *a, **k))
    assert dev.cpu_model() == "AMD EPYC 9R14"


def test_the_report_says_which_machine_a_cpu_run_ran_on():
    from clinrl.training.report import where_text

    assert where_text({"device": "cpu", "dtype": "float32", "cpu": "AMD EPYC", "kernels": "AVX512",
                       "threads": 2}) == "cpu (AMD EPYC, AVX512 kernels, 2 threads)"
    assert where_text({"device": "cpu", "cpu": "Intel Xeon", "kernels": "AVX2", "threads": 1,
                       "env": {"MKL_CBWR": "AVX2"}}) == "cpu (Intel Xeon, AVX2 kernels, 1 thread; MKL_CBWR=AVX2)"
    assert where_text({"device": "cuda", "accelerator": "NVIDIA H200"}) == "cuda (NVIDIA H200)"
    assert where_text({"device": "cpu"}) == "cpu"  # a run directory from before these fields


def test_auto_prefers_cuda_then_bf16(fake_cuda):
    placement = dev.resolve_placement("auto", "auto")
    assert placement.device == "cuda" and placement.dtype == torch.bfloat16
    assert placement.describe()["accelerator"] == "Fake GPU"


def test_auto_dtype_is_float32_on_cuda_without_bf16(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert dev.resolve_dtype("auto", "cuda") == torch.float32


def test_mps_when_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda t: True)
    assert dev.resolve_device("auto") == "mps"
    assert dev.resolve_dtype("auto", "mps") == torch.float32


def test_explicit_devices_are_checked(no_accelerator):
    assert dev.resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA device"):
        dev.resolve_device("cuda")
    with pytest.raises(ConfigError, match="MPS is not available"):
        dev.resolve_device("mps")
    with pytest.raises(ConfigError, match="use one of"):
        dev.resolve_device("tpu")


def test_cuda_index_is_checked(fake_cuda):
    assert dev.resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match="2 CUDA device"):
        dev.resolve_device("cuda:5")


def test_dtype_names_and_aliases():
    assert dev.resolve_dtype("bf16", "cpu") == torch.bfloat16
    assert dev.resolve_dtype("float32", "cuda") == torch.float32
    assert dev.resolve_dtype(torch.float16, "cuda") == torch.float16
    with pytest.raises(ConfigError, match="unknown dtype"):
        dev.resolve_dtype("int8", "cpu")


def test_training_and_evaluation_resolve_the_same_device(fake_cuda):
    from clinrl.training.common import device_kwargs, placement, training_dtype
    from clinrl.training.config import RunConfig

    config = RunConfig()
    kwargs = device_kwargs(config)
    assert placement(config).device == "cuda" and kwargs["use_cpu"] is False
    assert kwargs["bf16"] is True and kwargs["fp16"] is False
    assert training_dtype(config) == "float32"  # bf16 as autocast over float32 master weights
    config.model.lora.enabled = True
    assert training_dtype(config) == "bfloat16"  # a frozen LoRA base can stay in bf16
    config.model.device = "cpu"
    config.model.dtype = "auto"
    assert device_kwargs(config)["use_cpu"] is True and device_kwargs(config)["bf16"] is False


def test_training_refuses_bf16_on_cpu(no_accelerator):
    from clinrl.training.common import device_kwargs
    from clinrl.training.config import RunConfig

    config = RunConfig()
    config.model.dtype = "bfloat16"
    with pytest.raises(ConfigError, match="float32 only"):
        device_kwargs(config)


def test_config_validates_device_and_dtype_names():
    from clinrl.training.config import ModelSettings

    with pytest.raises(ConfigError, match="model.device"):
        ModelSettings(device="gpu0")
    with pytest.raises(ConfigError, match="model.dtype"):
        ModelSettings(dtype="fp8")
    assert ModelSettings(device="cuda:1").device == "cuda:1"


@pytest.mark.slow
def test_hf_backend_inputs_land_on_the_models_device(no_accelerator, monkeypatch):
    """The backend sends its token tensors to ``model.device`` (the GPU defect: inputs stayed on the CPU)."""
    from clinrl.evaluation.backends import HFBackend
    from clinrl.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer("tiny", device="cpu")
    seen = []
    real_generate = model.generate

    def spy(**kwargs):
        seen.append({k: v.device for k, v in kwargs.items() if hasattr(v, "device")})
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    sentinel = torch.device("cpu")
    monkeypatch.setattr(type(model), "device", property(lambda self: sentinel))
    backend = HFBackend(model, tokenizer)
    backend.generate(["hello"], max_new_tokens=2)
    assert seen and all(d == sentinel for d in seen[0].values())
    assert backend.describe()["device"] == "cpu" and backend.batch_size == 16


def test_load_model_moves_an_inference_model_to_the_device(monkeypatch):
    """``load_model_and_tokenizer`` places an evaluation model on the resolved device (training models stay)."""
    import clinrl.models as models

    moved = []

    class FakeModel:
        generation_config = type("G", (), {"pad_token_id": 0})()
        config = type("C", (), {"use_cache": True})()

        def to(self, device):
            moved.append(device)
            return self

        def eval(self):
            return self

        def train(self):
            return self

    class FakeAuto:
        @staticmethod
        def from_pretrained(directory, dtype=None):
            moved.append(("dtype", dtype))
            return FakeModel()

    import transformers

    monkeypatch.setattr(transformers, "AutoModelForCausalLM", FakeAuto)
    monkeypatch.setattr(models, "resolve_model", lambda spec: "/nowhere")
    monkeypatch.setattr(models, "load_tokenizer", lambda d: type("T", (), {"pad_token_id": 0})())
    monkeypatch.setattr(dev, "resolve_device", lambda d="auto": "cuda")
    monkeypatch.setattr(dev, "resolve_dtype", lambda d="auto", device="cpu": torch.bfloat16)
    models.load_model_and_tokenizer("x")
    assert moved == [("dtype", torch.bfloat16), "cuda"]
    moved.clear()
    models.load_model_and_tokenizer("x", for_training=True)
    assert moved == [("dtype", torch.bfloat16)]  # the trainer places a training model


def test_stage_evaluation_uses_the_runs_device_and_dtype(monkeypatch):
    """Stage evaluations build their generator from model.device / model.dtype, like the trainers."""
    from clinrl.evaluation import backends
    from clinrl.training.config import RunConfig
    from clinrl.training.run import stage_backend

    seen = {}
    monkeypatch.setattr(backends, "local_backend", lambda kind, spec, **kw: seen.update(kind=kind, spec=spec, **kw))
    config = RunConfig()
    config.model.device, config.model.dtype, config.eval.backend = "cuda:1", "bfloat16", "vllm"
    stage_backend("RUN/sft/final", config)
    assert (seen["kind"], seen["spec"], seen["device"], seen["dtype"]) == ("vllm", "RUN/sft/final", "cuda:1", "bfloat16")


def test_cpu_kernels_are_pinned_to_avx2_unless_asked_otherwise(monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    avx512 = "fpu sse2 avx avx2 fma avx512f avx512bw"
    env: dict[str, str] = {}
    assert dev.pin_cpu_kernels(env, avx512) == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
    assert env == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
    # a variable the user set wins; native turns the pin off
    env = {"ATEN_CPU_CAPABILITY": "avx512"}
    assert dev.pin_cpu_kernels(env, avx512) == {"MKL_CBWR": "AVX2"} and env["ATEN_CPU_CAPABILITY"] == "avx512"
    env = {"CLINRL_CPU_KERNELS": "native"}
    assert dev.pin_cpu_kernels(env, avx512) == {} and set(env) == {"CLINRL_CPU_KERNELS"}
    # nothing to pin without AVX2 ("avx" alone does not count), or off x86
    assert dev.pin_cpu_kernels({}, "fpu sse2 avx") == {}
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert dev.pin_cpu_kernels({}, avx512) == {}
    with pytest.raises(ConfigError, match="CLINRL_CPU_KERNELS='avx512'.*avx2.*native"):
        dev.pin_cpu_kernels({"CLINRL_CPU_KERNELS": "avx512"}, avx512)


def test_a_run_whose_torch_started_unpinned_says_so(monkeypatch):
    """Python code that ran torch before calling clinrl gets the kernels torch chose; the run says so, once it would
    have pinned them, and stays quiet where the kernels are the pinned ones or the user chose others."""
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    avx512 = "fpu sse2 avx avx2 fma avx512f avx512bw"
    note = dev.unpinned_kernels_note("AVX512", {}, avx512)
    assert note and "run on AVX512 here, not on the AVX2 paths" in note and "ATEN_CPU_CAPABILITY=avx2" in note
    assert dev.unpinned_kernels_note("AVX512", {"ATEN_CPU_CAPABILITY": "avx2"}, avx512)  # set too late
    assert dev.unpinned_kernels_note("AVX2", {}, avx512) is None
    assert dev.unpinned_kernels_note("AVX512", {"ATEN_CPU_CAPABILITY": "avx512"}, avx512) is None
    assert dev.unpinned_kernels_note("AVX512", {"CLINRL_CPU_KERNELS": "native"}, avx512) is None
    assert dev.unpinned_kernels_note("DEFAULT", {}, "fpu sse2 avx") is None  # the command would not pin either
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert dev.unpinned_kernels_note("DEFAULT", {}, avx512) is None


def test_the_cli_pins_the_kernels_before_torch_runs(tmp_path):
    """A fresh `clinrl` process runs torch on the AVX2 paths (on an x86 machine with AVX2), and records it."""
    import os
    import platform
    import subprocess
    import sys

    flags = dev._cpuinfo("flags") or ""
    if platform.machine().lower() not in ("x86_64", "amd64") or "avx2" not in flags.split():
        pytest.skip("not an x86 machine with AVX2: nothing is pinned")
    env = {k: v for k, v in os.environ.items() if k not in dev.PINNED_KERNELS and k != dev.KERNELS_ENV}
    code = ("import sys, clinrl.cli\n"
            "sys.argv = ['clinrl', '--help']\n"
            "try:\n    clinrl.cli.main()\nexcept SystemExit:\n    pass\n"
            "import os, torch\n"
            "print(os.environ.get('ATEN_CPU_CAPABILITY'), torch.backends.cpu.get_cpu_capability())\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "avx2 AVX2", out.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-c", code], env={**env, "CLINRL_CPU_KERNELS": "fast"},
                         capture_output=True, text=True, timeout=120)
    assert "CLINRL_CPU_KERNELS='fast'" in bad.stderr
