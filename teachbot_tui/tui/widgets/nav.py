"""The top line: the app's name and its screens (click or press the F-key)."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static


class NavItem(Static):
    DEFAULT_CSS = """
    NavItem { width: auto; padding: 0 2; color: $text-muted; }
    NavItem:hover { background: $boost; color: $text; }
    NavItem.-current { color: $text; background: $primary 40%; text-style: bold; }
    """

    def __init__(self, mode: str, title: str, key: str, current: bool) -> None:
        super().__init__(Content(f"{title} {key}"), classes="-current" if current else "")
        self.mode = mode

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.app.switch_mode(self.mode)


class NavBar(Horizontal):
    DEFAULT_CSS = """
    NavBar { height: 1; dock: top; background: $panel; }
    NavBar > #nav-brand { width: auto; padding: 0 2; text-style: bold; color: $accent; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        from ..keys import display_key, keys_for
        from ..screens import SCREENS

        yield Static(Content("teachbot"), id="nav-brand")
        keymap = getattr(self.app, "keymap_settings", {})
        for spec in SCREENS:
            keys = keys_for(spec.mode, keymap) if spec.mode in _ids() else [spec.key]
            key = display_key(keys[0]) if keys else ""
            yield NavItem(spec.mode, spec.title, key, spec.mode == self.current)


def _ids() -> set[str]:
    from ..keys import BY_ID

    return set(BY_ID)
