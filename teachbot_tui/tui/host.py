"""What the screens need from the app, without importing the app.

The app (``app.py``) imports the screens; the screens import only this module: the
:class:`Host` protocol (the app's attributes and methods screens use), the messages screens
post to the app, and the app's width and height breakpoints. So no import goes from a screen
back to ``app.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from textual.message import Message

if TYPE_CHECKING:
    from ..config import Settings
    from ..paths import Paths
    from .backend import Backend
    from .widgets.status import StatusState

HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-narrow"), (100, "-medium"),
                                                  (140, "-wide")]
"""Screen classes by terminal width (Textual sets one on every screen as it resizes):
``-narrow`` below 100 columns (side panes start hidden, input rows stack), ``-medium`` up to
139, ``-wide`` from 140. The CSS in app.tcss lays each screen out per class."""
VERTICAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-short"), (30, "-tall")]
"""``-short`` below 30 rows: fixed-height parts (the practice card, reports) get less room."""
WIDTH_CLASSES = tuple(name for _, name in HORIZONTAL_BREAKPOINTS)


def breakpoint_classes(width: int, height: int) -> dict[str, bool]:
    """Which breakpoint classes a screen of this size has (the others are off)."""
    on = {width_class(width), height_class(height)}
    return {name: name in on
            for _, name in (*HORIZONTAL_BREAKPOINTS, *VERTICAL_BREAKPOINTS)}


def height_class(height: int) -> str:
    found = VERTICAL_BREAKPOINTS[0][1]
    for minimum, name in VERTICAL_BREAKPOINTS:
        if height >= minimum:
            found = name
    return found


def width_class(width: int) -> str:
    """The breakpoint class for a terminal ``width``."""
    found = WIDTH_CLASSES[0]
    for minimum, name in HORIZONTAL_BREAKPOINTS:
        if width >= minimum:
            found = name
    return found


class Host(Protocol):
    """The app as the screens see it."""

    paths: Paths
    settings: Settings
    backend: Backend
    status: StatusState
    keymap_settings: dict[str, str]

    def refresh_status(self) -> None: ...

    def library_summary(self) -> str: ...

    def apply_settings(self, new: Settings) -> list[str]: ...


class EngineState(Message):
    """The chat model's loading state (posted by the app's loader)."""

    def __init__(self, state: str, text: str, progress: float | None = None) -> None:
        super().__init__()
        self.state = state
        self.text = text
        self.progress = progress


class LibraryState(Message):
    """One line about the library for the status bar (posted by the app and the library
    screen)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LibraryActivity(Message):
    """An import or sync has started (its line) or ended (""). While one runs the status bar
    says so, whatever library state arrives meanwhile (the start-up load may finish later)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
