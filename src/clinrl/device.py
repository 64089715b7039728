"""Where a model runs and in which precision: one resolution for training, evaluation and scoring.

``device: auto`` picks the first accelerator present — CUDA, then Apple's MPS — and the CPU otherwise;
``dtype: auto`` picks bfloat16 on a CUDA device that supports it and float32 everywhere else (bf16 is
2.6× slower than fp32 on the CPUs clinrl was measured on, GUIDE §4). Every caller that loads a model
(the training stages, the held-out evaluation, ``clinrl eval``, the reward model, the curation
encoder) goes through :func:`resolve_device` / :func:`resolve_dtype`, so evaluation cannot silently
stay on the CPU while training uses the GPU.

Training keeps float32 master weights and gets bf16 through autocast (``bf16=True`` in TRL's config):
an optimizer step of lr × update ≈ 1e-6 is below bf16's resolution (≈ 4e-3 relative) and would vanish
on bf16 weights. Inference loads the weights directly in the resolved dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinrl.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")


def _torch():
    from clinrl.errors import require

    return require("torch", "train")


def _mps_available(torch: Any) -> bool:
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` → ``cuda`` / ``mps`` / ``cpu`` (first available); an explicit device is checked."""
    text = str(device or "auto").strip().lower()
    kind = text.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise ConfigError(f"device {device!r}: use one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    torch = _torch()
    if kind == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available(torch) else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r}: no CUDA device is visible (torch {torch.__version__}); use "
                              "device auto or cpu")
        if ":" in text:
            index = text.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise ConfigError(f"device {device!r}: {torch.cuda.device_count()} CUDA device(s) are visible")
    if kind == "mps" and not _mps_available(torch):
        raise ConfigError(f"device {device!r}: MPS is not available on this machine; use device auto or cpu")
    return text


def resolve_dtype(dtype: Any = "auto", device: str = "cpu"):
    """The torch dtype for ``dtype`` on ``device``: ``auto`` → bf16 on a bf16-capable CUDA device, else fp32."""
    torch = _torch()
    if isinstance(dtype, torch.dtype):
        return dtype
    text = str(dtype or "auto").strip().lower()
    if text == "auto":
        if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16", "float": "float32"}
    text = aliases.get(text, text)
    if text not in DTYPE_CHOICES:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPE_CHOICES)}")
    return getattr(torch, text)


@dataclass(frozen=True)
class Placement:
    """A resolved (device, dtype) pair, with what a run records about it."""

    device: str
    dtype: Any

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")

    @property
    def on_cpu(self) -> bool:
        return self.device == "cpu"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device": self.device, "dtype": self.dtype_name}
        torch = _torch()
        if self.device.startswith("cuda"):
            index = int(self.device.split(":", 1)[1]) if ":" in self.device else torch.cuda.current_device()
            out["accelerator"] = torch.cuda.get_device_name(index)
        elif self.on_cpu:
            out.update(cpu_numerics(torch))
        return out


#: environment variables that change which CPU kernels run, hence the float results of CPU training
NUMERICS_ENV = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")

#: what ``pin_cpu_kernels`` sets: PyTorch's own kernels and MKL's BLAS on their AVX2 code paths
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
KERNELS_ENV = "CLINRL_CPU_KERNELS"


def pin_cpu_kernels(environ: Any = None, cpu_flags: str | None = None) -> dict[str, str]:
    """Run PyTorch's CPU kernels (and MKL's BLAS) on their AVX2 code paths, so that a seed gives the same floats
    on x86 machines with and without AVX-512. Returns the variables it set.

    PyTorch dispatches its CPU kernels to the widest instruction set the processor has, and a seed's training
    run then differs from one kind of machine to the next: the quickstart's seed 0 gave a GRPO gain of +4.5
    points on an AVX-512 machine and +8.2 on others, each to the digit on its own kind of machine. With the AVX2
    paths pinned, the AVX-512 machine gives the others' +8.2 run to the digit (BENCHMARKS.md); on it only
    ``ATEN_CPU_CAPABILITY`` changed the weights, and ``MKL_CBWR`` is Intel's documented switch for the same
    reproducibility of MKL on Intel processors (not measured here). AVX2 is the one choice that every x86-64
    server of the last decade runs; the pin cost 1–5 % of a reduced quickstart's time on the AVX-512 machine.

    Must run before torch executes its first operation (the CLI and the bench scripts call it first thing); a
    variable already set is left as it is, and ``CLINRL_CPU_KERNELS=native`` turns the pin off. Not x86, or no
    AVX2 in ``/proc/cpuinfo``: nothing to pin. The run records the kernels it used either way (:func:`cpu_numerics`).
    """
    import os
    import platform

    env = os.environ if environ is None else environ
    choice = str(env.get(KERNELS_ENV, "avx2")).strip().lower()
    if choice not in ("avx2", "native"):
        raise ConfigError(f"{KERNELS_ENV}={env.get(KERNELS_ENV)!r}: use avx2 (the default: the same floats with and "
                          "without AVX-512) or native (the widest instruction set this processor has)")
    if choice == "native" or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    if cpu_flags is None:
        cpu_flags = _cpuinfo("flags") or ""
    if "avx2" not in cpu_flags.split():
        return {}
    pinned = {name: value for name, value in PINNED_KERNELS.items() if name not in env}
    env.update(pinned)
    return pinned


def unpinned_kernels_note(capability: str, environ: Any = None, cpu_flags: str | None = None) -> str | None:
    """A line for a run whose torch chose its CPU kernels before :func:`pin_cpu_kernels` could pin them (Python code
    that ran torch before calling clinrl): on a machine the ``clinrl`` command would pin, torch runs ``capability``
    (``torch.backends.cpu.get_cpu_capability()``) instead of AVX2. None when the kernels are the pinned ones, the
    user chose others (``ATEN_CPU_CAPABILITY`` set to another value, ``CLINRL_CPU_KERNELS=native``) or nothing pins."""
    import os

    env = os.environ if environ is None else environ
    if str(capability).upper() in ("AVX2", "") or str(env.get(KERNELS_ENV, "avx2")).strip().lower() == "native":
        return None
    chosen = env.get("ATEN_CPU_CAPABILITY")
    if chosen is not None and str(chosen).strip().lower() != "avx2":
        return None
    if pin_cpu_kernels(environ={KERNELS_ENV: "avx2"}, cpu_flags=cpu_flags) == {}:
        return None  # not an x86 machine with AVX2: the clinrl command would not pin either
    return (f"torch's CPU kernels run on {capability} here, not on the AVX2 paths the clinrl command pins: torch "
            "started before clinrl could pin them, so this run's floats may differ from the same seed's through the "
            "command (set ATEN_CPU_CAPABILITY=avx2 before Python starts, or CLINRL_CPU_KERNELS=native to choose this)")


def _cpuinfo(field: str) -> str | None:
    """The first ``field : value`` of ``/proc/cpuinfo`` (Linux), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip().lower() == field:
                    return value.strip() or None
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """The processor's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere), or None."""
    import platform

    return _cpuinfo("model name") or platform.processor() or None


def cpu_numerics(torch: Any) -> dict[str, Any]:
    """What decides the float results of training on this CPU: the processor, the instruction set PyTorch's
    kernels were dispatched to (``AVX512``, ``AVX2``, ...), the thread count, and any environment variable that
    overrides them. CPU training is deterministic for a seed on one kind of machine, not across kinds
    (BENCHMARKS.md: one quickstart seed gave +3.2, +4.5 and +8.2 points on three), so a run records them."""
    import os

    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    out: dict[str, Any] = {"cpu": cpu_model(), "kernels": capability() if capability else None,
                           "threads": torch.get_num_threads()}
    overrides = {name: os.environ[name] for name in NUMERICS_ENV if os.environ.get(name)}
    if overrides:
        out["env"] = overrides
    return out


def resolve_placement(device: str | None = "auto", dtype: Any = "auto") -> Placement:
    resolved = resolve_device(device)
    placement = Placement(resolved, resolve_dtype(dtype, resolved))
    torch = _torch()
    if placement.on_cpu and placement.dtype == torch.float16:
        raise ConfigError("dtype float16 on the CPU is not supported for generation; use float32 (or bfloat16)")
    return placement
