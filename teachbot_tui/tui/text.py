"""Text is text: show document and model text literally, never as markup or escapes.

Two dangers, two defences:

* **Markup.** Textual and Rich interpret ``[bold]``, ``[link=...]`` and ``[@click=...]`` in
  strings handed to most widgets. The app never builds markup from data: it wraps data in
  :class:`textual.content.Content` (see :func:`literal` and :func:`literal_line`), which is
  plain text plus spans.
* **Terminal control sequences.** :func:`safe_text` and :func:`safe_line` (from
  :mod:`teachbot_tui.text`, the one literal-text policy) turn C0/C1 controls into visible
  Unicode "control pictures" (ESC becomes ``␛``) and drop invisible formatting characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..text import REPLACEMENT, safe_line, safe_text, storable

if TYPE_CHECKING:
    from textual.content import Content

__all__ = ["REPLACEMENT", "literal", "literal_line", "safe_line", "safe_text", "short_line",
           "storable"]


def literal(text: object, style: str = "") -> Content:
    """A ``Content`` showing ``text`` exactly as written (no markup, no escapes)."""
    from textual.content import Content

    return Content.styled(safe_text(text), style) if style else Content(safe_text(text))


def literal_line(text: object, style: str = "", limit: int | None = None) -> Content:
    """Like :func:`literal`, on one line."""
    from textual.content import Content

    s = safe_line(text, limit)
    return Content.styled(s, style) if style else Content(s)


def shorten(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` terminal cells at a word boundary, ending with ``ellipsis``.

    Text that fits is returned unchanged. A first word longer than ``width`` is cut inside
    the word (there is no boundary to cut at). Widths are terminal cells (wide characters
    count two)."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    room = width - cell_len(ellipsis)
    if room <= 0:
        return ellipsis[:width]
    head = set_cell_size(text, room + 1)  # one more cell: is the cut on a space?
    if head[-1:].isspace():
        cut = head.rstrip()
    else:
        head = head[:-1] if cell_len(head) > room else head
        space = head.rfind(" ")
        cut = head[:space].rstrip() if space > 0 else head.rstrip()
    return cut.rstrip(" ,;:-–—·") + ellipsis


def short_line(text: object, limit: int) -> str:
    """:func:`safe_line`, shortened to ``limit`` cells at a word boundary with "…" (not
    inside a word, as ``safe_line(text, limit)`` cuts)."""
    return shorten(safe_line(text), limit)


def fitting(candidates: tuple[str, ...] | list[str], width: int) -> str:
    """The first of ``candidates`` (longest first) that fits ``width`` cells; else the last,
    shortened."""
    from rich.cells import cell_len

    for text in candidates:
        if cell_len(text) <= width:
            return text
    return shorten(candidates[-1], width) if candidates else ""
