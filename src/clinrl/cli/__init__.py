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


def main() -> None:
    _register()
    from clinrl.errors import ClinrlError

    try:
        app(standalone_mode=False)
    except ClinrlError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


_register()

__all__ = ["app", "main"]
