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

__all__ = ["REPLACEMENT", "literal", "literal_line", "safe_line", "safe_text", "storable"]


def literal(text: object, style: str = "") -> Content:
    """A ``Content`` showing ``text`` exactly as written (no markup, no escapes)."""
    from textual.content import Content

    return Content.styled(safe_text(text), style) if style else Content(safe_text(text))


def literal_line(text: object, style: str = "", limit: int | None = None) -> Content:
    """Like :func:`literal`, on one line."""
    from textual.content import Content

    s = safe_line(text, limit)
    return Content.styled(s, style) if style else Content(s)
