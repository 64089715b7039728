"""The calculator library's two errors, in a module of their own so that ``base`` and ``units`` (which
both raise them, and ``base`` converts units) do not import each other."""

from __future__ import annotations

from clinrl.errors import ClinrlError

__all__ = ["CalculatorInputError", "UnknownCalculatorError"]


class CalculatorInputError(ClinrlError, ValueError):
    """An input a calculator cannot use. ``field`` names it; ``calculator`` names the calculator."""

    def __init__(self, message: str, *, field: str | None = None, calculator: str | None = None):
        self.reason, self.field, self.calculator = message, field, calculator
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.calculator:
            where.append(f"calculator {self.calculator}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def within(self, calculator: str) -> "CalculatorInputError":
        """The same error, naming ``calculator`` too."""
        if not self.calculator:
            self.calculator = calculator
            self.args = (self._text(),)
        return self


class UnknownCalculatorError(ClinrlError, KeyError):
    """No calculator has that id or slug."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown calculator"
