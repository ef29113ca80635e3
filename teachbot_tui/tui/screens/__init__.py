"""The app's screens, one Textual *mode* each, imported only when first shown.

To add a screen: write ``screens/<name>.py`` with a ``Screen`` subclass whose ``__init__``
takes no required arguments, add a :class:`ScreenSpec` below and a key to
:data:`teachbot_tui.tui.keys.KEYS` whose id equals the mode. Screens import nothing from
``app.py``: what they need from the app is in :mod:`teachbot_tui.tui.host`.
"""

from __future__ import annotations

import importlib
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

    def factory(self) -> Callable[[], Screen]:
        def make() -> Screen:
            module, _, name = self.target.partition(":")
            cls = getattr(importlib.import_module(module), name)
            return cls()

        return make


SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("chat", "Chat", "f2", "teachbot_tui.tui.screens.chat:ChatScreen"),
    ScreenSpec("library", "Library", "f3", "teachbot_tui.tui.screens.library:LibraryScreen"),
    ScreenSpec("settings", "Models & settings", "f4",
               "teachbot_tui.tui.screens.settings:SettingsScreen"),
    ScreenSpec("practice", "Practice", "f5", "teachbot_tui.tui.screens.practice:PracticeScreen"),
)
