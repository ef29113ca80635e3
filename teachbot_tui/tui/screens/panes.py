"""A side pane that makes way on narrow terminals and comes back on wide ones.

The chat screen's conversation list and the practice screen's scenario list are side panes.
app.tcss hides them on ``-narrow`` screens; a key toggles them at any width. The toggle is a
class on the screen (``-show-pane`` / ``-hide-pane``), and it is forgotten when the terminal
crosses a width breakpoint, so the pane comes back when the terminal gets wide again and
makes way again when it gets narrow.
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen

from ..host import width_class


class SidePaneScreen(Screen[None]):
    SIDE_PANE = "#side-pane"
    """The selector of the pane."""

    _width_class = ""

    @property
    def side_pane_shown(self) -> bool:
        return bool(self.query_one(self.SIDE_PANE).display)

    def toggle_side_pane(self) -> bool:
        """Show the pane if hidden, hide it if shown; returns whether it is shown now."""
        show = not self.side_pane_shown
        self.set_class(show, "-show-pane")
        self.set_class(not show, "-hide-pane")
        return show

    def show_side_pane(self) -> None:
        self.set_class(True, "-show-pane")
        self.set_class(False, "-hide-pane")

    def on_resize(self, event: events.Resize) -> None:
        self.width_changed(event.size.width)

    def width_changed(self, width: int) -> None:
        """Forget the toggle when the terminal crosses a width breakpoint (the app calls
        this for screens in the background too)."""
        now = width_class(width)
        if now != self._width_class:
            self._width_class = now
            self.set_class(False, "-show-pane")
            self.set_class(False, "-hide-pane")
