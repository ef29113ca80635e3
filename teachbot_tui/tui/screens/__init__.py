"""The app's screens, one Textual *mode* each, imported only when first shown.

To add a screen (practice mode does this): write ``screens/<name>.py`` with a ``Screen``
subclass whose ``__init__`` takes no required arguments, add a :class:`ScreenSpec` below and
a key to :data:`teachbot_tui.tui.keys.KEYS` whose id equals the mode. A spec whose module
is missing is left out of the app (so a screen can be listed before it lands).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenSpec:
    mode: str
    """Textual mode name; also the key id that switches to it."""
    title: str
    key: str
    """Default key (the key table holds the remappable binding)."""
    target: str
    """``module:Class``, imported lazily."""

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    def available(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def factory(self) -> Callable[[], Screen]:
        def make() -> Screen:
            module, _, name = self.target.partition(":")
            cls = getattr(importlib.import_module(module), name)
            return cls()

        return make


_ALL: tuple[ScreenSpec, ...] = (
    ScreenSpec("chat", "Chat", "f2", "teachbot_tui.tui.screens.chat:ChatScreen"),
    ScreenSpec("library", "Library", "f3", "teachbot_tui.tui.screens.library:LibraryScreen"),
    ScreenSpec("settings", "Models & settings", "f4",
               "teachbot_tui.tui.screens.settings:SettingsScreen"),
    # Practice mode (issue 6) lands here: screens/practice.py with PracticeScreen.
    ScreenSpec("practice", "Practice", "f5", "teachbot_tui.tui.screens.practice:PracticeScreen"),
)

SCREENS: tuple[ScreenSpec, ...] = tuple(s for s in _ALL if s.mode != "practice" or s.available())
