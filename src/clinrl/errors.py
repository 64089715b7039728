"""Error types. Every data error names the file, the row and the field."""

from __future__ import annotations


class ClinrlError(Exception):
    """Base class for errors clinrl raises on purpose (bad input, bad configuration)."""


class ConfigError(ClinrlError):
    """A configuration value is invalid."""


class DataError(ClinrlError):
    """A data row cannot be used. The message names the source, the row and the field."""

    def __init__(self, message: str, *, source: str | None = None, row: int | str | None = None,
                 field: str | None = None, kind: str = "file"):
        self.source, self.row, self.field = source, row, field
        where = []
        if source is not None:
            where.append(f"{kind} {source}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class TargetError(ClinrlError, ValueError):
    """A sample target that cannot be scored honestly (e.g. an infinite interval bound, which would make every
    answer correct). It names the target field; callers that know the file and row turn it into a
    :class:`DataError`, and scoring turns it into an unscored result, never a verdict."""

    def __init__(self, message: str, *, field: str):
        self.field, self.message = field, message
        super().__init__(f"field {field!r}: {message}")


class MissingExtraError(ClinrlError, ImportError):
    """An optional dependency is missing; the message gives the exact install command."""

    def __init__(self, extra: str, package: str):
        super().__init__(
            f"this feature needs the optional dependency {package!r}. Install it with:\n"
            f"    pip install 'clinrl[{extra}]' -c constraints.txt"
        )


def require(module: str, extra: str):
    """Import an optional module or raise ``MissingExtraError`` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError(extra, module.split(".")[0]) from exc
