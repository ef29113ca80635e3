"""Text that fits the width it is given.

* :class:`FitLabel`: one line (a title, a label, a status) shortened at a word boundary with
  an ellipsis when the line is narrower than the text; the full text is its tooltip.
* :func:`fit_placeholder`: the longest of a few wordings of a box's hint that fits the box
  (``"Folder or file to import, e.g. ~/Documents/lessons (Tab completes)"`` at 100
  columns, ``"Folder or file to import"`` at 40); :class:`path_input.HintInput` is an
  ``Input`` that does it.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual import events
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

from ..text import fitting, shorten


class FitLabel(Static):
    """One line of text, shortened to its width at a word boundary (full text: tooltip)."""

    DEFAULT_CSS = """
    FitLabel { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, content: Content | str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._full = content if isinstance(content, Content) else Content(content)
        self._fit()

    @property
    def full_text(self) -> str:
        """The whole text, however much of it is shown."""
        return self._full.plain

    @property
    def shown_text(self) -> str:
        """The text as shown (shortened to the width, if it had to be)."""
        visual = self.visual
        return str(getattr(visual, "plain", visual))

    def update(self, content: Any = "", *, layout: bool = True) -> None:  # type: ignore[override]
        self._full = content if isinstance(content, Content) else Content(str(content))
        self._fit()
        if self.is_mounted:
            # a new text may change an auto width: fit again once laid out
            self.refresh(layout=True)
            self.call_after_refresh(self._fit)

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """The full text's width (``width: auto`` grows back when there is room again)."""
        return cell_len(self._full.plain)

    def _fit(self) -> None:
        width = self.content_size.width if self.is_mounted else 0
        full = self._full
        shown = full
        if width > 0:
            short = shorten(full.plain, width)
            if short != full.plain:
                # shorten() keeps a prefix of the text (then "…"): keep its styles too
                shown = Content.assemble(full[: len(short) - 1], "…")
        self.tooltip = full.plain if shown is not full else None
        super().update(shown, layout=False)


def hint_wordings(placeholder: str) -> tuple[str, ...]:
    """A hint and its shorter wording without the trailing ``(...)`` aside, if it has one:
    ``"path to a .gguf file (Tab completes)"`` -> that, ``"path to a .gguf file"``."""
    text = placeholder.rstrip()
    if text.endswith(")") and "(" in text:
        short = text[: text.rindex("(")].rstrip()
        if short:
            return (placeholder, short)
    return (placeholder,) if placeholder else ()


def fit_placeholder(widget: Widget, placeholders: tuple[str, ...]) -> None:
    """Give ``widget`` the longest of ``placeholders`` that fits its content width."""
    width = widget.content_size.width - 1  # the cursor takes a cell
    if placeholders and width > 0:
        widget.placeholder = fitting(placeholders, width)  # type: ignore[attr-defined]
