"""The scrolling column of a conversation's messages."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult


class MessageLog(VerticalScroll):
    """A ``VerticalScroll`` that, while anchored, stays scrolled to the newest message, and
    shows content shorter than itself from the top.

    Textual 8.2 scrolls an anchored container to "bottom of the content minus the height of
    the view" without clamping that at 0 (textual#6652). Content shorter than the view (a
    first short answer on a tall terminal, a terminal made taller, a new conversation) was
    then drawn at the bottom under an empty gap as high as the view was taller. Here the
    anchor holds only while the content is taller than the view; shorter content needs no
    scrolling and starts at the top.
    """

    _wants_anchor = False
    _content_fits = True

    @property  # type: ignore[override]
    def _anchored(self) -> bool:
        """Whether the anchor applies now (Textual's compositor and scroll code read it)."""
        return self._wants_anchor and not self._content_fits

    @_anchored.setter
    def _anchored(self, value: bool) -> None:
        self._wants_anchor = value

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        result = super().arrange(size, optimal)
        if not optimal:  # the arrangement that is shown (``size``: the view)
            self._content_fits = result.spatial_map.total_region.bottom <= size.height
        return result
