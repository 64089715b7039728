"""Command output that survives pipes and narrow terminals: fitted tables and ``--json``.

:func:`print_table` draws a table when every column can keep its words whole, and otherwise switches to
a vertical layout (one block per row, ``column: value`` pairs wrapped at the terminal width), so a cell is
never squeezed to one letter. Behind a pipe rich assumes 80 columns; ``COLUMNS`` overrides it.
:func:`echo_json` prints machine-readable output (nothing else may reach stdout when ``--json`` is given).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

#: a wrapping column narrower than this many characters reads as a ribbon of fragments
COMFORTABLE = 18
JSON_HELP = "Print JSON instead of a table (for scripts; nothing else goes to stdout)."


def echo_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (dates, paths and other objects as text, NaN as null)."""
    import typer

    from clinrl.provenance import jsonable

    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str))


def _cell_widths(text: str) -> tuple[int, int]:
    """(whole width of the longest line, longest word)."""
    lines = text.splitlines() or [""]
    words = text.split() or [""]
    return max(Text(line).cell_len for line in lines), max(Text(word).cell_len for word in words)


def fits(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> bool:
    """Whether a bordered table can give each column its longest word and wrapping columns some room."""
    need = 1  # the left border
    for i, header in enumerate(columns):
        cells = [str(header), *(str(r[i]) for r in rows)]
        whole = max(_cell_widths(c)[0] for c in cells)
        word = max(_cell_widths(c)[1] for c in cells)
        need += min(whole, max(word, COMFORTABLE)) + 3  # padding on both sides and a border
    return need <= width


def print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                title: str | None = None, right: Sequence[str] = (), first_style: str | None = "bold cyan") -> None:
    """A table that fits the console, or the same rows as blocks when it cannot (see the module doc)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    if fits(columns, cells, console.width):
        table = Table(title=title, show_lines=False)
        for i, name in enumerate(columns):
            table.add_column(name, overflow="fold", justify="right" if name in right else "left",
                             style=first_style if i == 0 else None)
        for row in cells:
            table.add_row(*(escape(c) for c in row))
        console.print(table)
        return
    print_blocks(console, columns, cells, title=title, first_style=first_style)


def print_blocks(console: Console, columns: Sequence[str], rows: Sequence[Sequence[str]], *,
                 title: str | None = None, first_style: str | None = "bold cyan") -> None:
    """Vertical layout: the first column as a heading, the other columns as ``name: value`` below it,
    wrapped at word boundaries (a word longer than the line is split, never dropped)."""
    import textwrap

    width = max(20, console.width)
    if title:
        console.print(Text(title, style="italic"))
    half = max(20, width // 2)
    for row in rows:
        console.print(Text(row[0], style=first_style or ""), soft_wrap=True)
        pairs = [(name, value or "–") for name, value in zip(columns[1:], row[1:])]
        short = " · ".join(f"{name}: {value}" for name, value in pairs if len(value) <= half)
        paragraphs = ([short] if short else []) + [f"{name}: {value}" for name, value in pairs if len(value) > half]
        for paragraph in paragraphs:
            for line in textwrap.wrap(paragraph, width=width, initial_indent="  ", subsequent_indent="    ",
                                      break_on_hyphens=False) or ["  "]:
                console.print(Text(line), soft_wrap=True)
