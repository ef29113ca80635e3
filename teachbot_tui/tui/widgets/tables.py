"""A ``DataTable`` that lays its columns out for the width it has.

Each column says how narrow it may get, how it shares spare width and how useful it is. When
the table is too narrow for every column, the least useful ones are left out first; the
rest share the width, and a cell too long for its column wraps under that column (rows grow
as tall as they need), so nothing is cut off or laid out wider than the table. The columns
are laid out again whenever the table's width changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from ..text import safe_line


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    min_width: int
    """The narrowest the column gets (its label fits in it)."""
    weight: int = 0
    """Its share of the spare width (0: it stays at ``min_width``)."""
    max_width: int | None = None
    priority: int = 0
    """Columns with the lowest priority are left out first when the table is too narrow."""


def plan_columns(columns: Sequence[Col], width: int, padding: int = 1) -> list[tuple[Col, int]]:
    """The columns that fit ``width`` cells (each also takes ``2 * padding``) and their
    widths, in their original order."""
    kept = list(columns)

    def needed(cols: Sequence[Col]) -> int:
        return sum(c.min_width + 2 * padding for c in cols)

    while len(kept) > 1 and needed(kept) > width:
        kept.remove(min(reversed(kept), key=lambda c: c.priority))
    widths = {c.key: c.min_width for c in kept}
    spare = max(0, width - needed(kept))
    growing = [c for c in kept if c.weight > 0]
    while spare > 0 and growing:
        total = sum(c.weight for c in growing)
        given = 0
        for c in growing:
            share = max(1, spare * c.weight // total)
            if c.max_width is not None:
                share = min(share, c.max_width - widths[c.key])
            share = min(share, spare - given)
            widths[c.key] += share
            given += share
        spare -= given
        growing = [c for c in growing
                   if c.max_width is None or widths[c.key] < c.max_width]
        if given == 0:
            break
    return [(c, widths[c.key]) for c in kept]


def wrapping(value: object, style: str = "") -> Text:
    """A cell that is always literal text (a DataTable parses ``str`` as markup) and wraps
    within its column."""
    return Text(safe_line(value), style=style, overflow="fold")


class FitTable(DataTable):
    """A ``DataTable`` of :class:`Col` columns, laid out for its width (see the module)."""

    SCROLLBAR_RESERVE = 2
    """Cells kept free for the vertical scrollbar, so a long table never scrolls sideways."""

    def __init__(self, columns: Sequence[Col], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.specs = tuple(columns)
        self._source_rows: list[tuple[Any, dict[str, Any]]] = []
        self._laid_out_for = -1

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns shown now."""
        return [str(c.key.value) for c in self.ordered_columns]

    def set_rows(self, rows: Iterable[tuple[Any, dict[str, Any]]]) -> None:
        """Replace the rows: ``(row key or None, {column key: cell})``."""
        self._source_rows = list(rows)
        self._layout(force=True)

    def row_data(self, index: int) -> dict[str, Any]:
        return self._source_rows[index][1]

    def on_resize(self, event: events.Resize) -> None:
        self._layout()

    def on_mount(self) -> None:
        self._layout()

    def _width(self) -> int:
        return max(1, self.size.width - self.SCROLLBAR_RESERVE)

    def _layout(self, force: bool = False) -> None:
        if not self.is_mounted:
            return
        width = self._width() if self.size.width else 0
        if not force and width == self._laid_out_for:
            return
        self._laid_out_for = width
        plan = plan_columns(self.specs, width or 200, self.cell_padding)
        row, column = self.cursor_coordinate
        with self.prevent(DataTable.RowHighlighted, DataTable.CellHighlighted):
            self.clear(columns=True)
            for col, w in plan:
                self.add_column(Text(col.label), key=col.key, width=w)
            for key, cells in self._source_rows:
                self.add_row(*(cells.get(col.key, "") for col, _ in plan),
                             key=None if key is None else str(key), height=None)
            if self.row_count:
                self.move_cursor(row=min(row, self.row_count - 1), animate=False)
