"""The ``clinrl`` command line.

Each area of the toolkit adds its commands from its own module under ``clinrl.cli`` (listed in
``COMMAND_MODULES``); the groups they hang on are created in :mod:`clinrl.cli.app`.
"""

from __future__ import annotations

import importlib
import sys

from clinrl.cli.app import app

#: modules that register commands on the groups in clinrl.cli.app, in --help order
COMMAND_MODULES = (
    "clinrl.cli.core",
    "clinrl.cli.calc",
    "clinrl.cli.ehr",
    "clinrl.cli.trials",
    "clinrl.cli.quickstart",
    "clinrl.cli.train",
    "clinrl.cli.export",
    "clinrl.cli.evaluate",
    "clinrl.cli.review",
    "clinrl.cli.rubrics",
)


def _register() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # escape: messages quote user data ("[value, unit]", "[redacted]") that rich would eat as markup
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """clinrl's own warnings (data counted and reported) as one plain line, without a source location."""
    if not getattr(category, "__module__", "").startswith("clinrl"):
        return _default_showwarning(message, category, filename, lineno, file, line)
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold yellow]warning:[/] {escape(str(message))}", highlight=False)


_default_showwarning = None


def main() -> None:
    global _default_showwarning
    import warnings

    from clinrl.errors import ClinrlError

    try:  # before torch runs anything: the same floats with and without AVX-512 (clinrl.device.pin_cpu_kernels)
        from clinrl.device import pin_cpu_kernels

        pin_cpu_kernels()
    except ClinrlError as exc:
        _print_error(str(exc))
        sys.exit(2)
    _register()

    _default_showwarning = warnings.showwarning
    warnings.showwarning = _show_warning
    # TRL calls transformers' renamed gradient-checkpointing methods on every training run; the user
    # cannot act on that deprecation, and it buries clinrl's own output.
    warnings.filterwarnings("ignore", message=r"`(is_)?gradient_checkpointing\w*` is deprecated", category=FutureWarning)
    try:
        app(standalone_mode=False)
    except ClinrlError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except OSError as exc:  # an output folder that cannot be made, a directory given for a file, ...
        if exc.filename is None or not exc.strerror:
            raise
        _print_error(f"file {exc.filename}: {exc.strerror.lower()}")
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors: a missing option, a bad number, a path that does not exist
        # Typer >= 0.26 vendors its own click, whose exceptions are not click's: match by shape, so the
        # message is shown the way click shows it (usage line + "Error: ...") whichever click raised it
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        raise


_register()

__all__ = ["app", "main"]
