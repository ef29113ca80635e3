"""F1: every key of the app, grouped by where it works, with the keys actually in effect."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import KEYS, SCOPE_TITLES, bindings, display_key, keys_for

INTRO = ("Keys can be remapped in config.toml under [keys], by the id in the middle column, "
         "e.g.  stop = \"ctrl+c\".  Ctrl+P opens the command palette: every action by name.")


def help_content(keymap: dict[str, str], available: set[str] | None = None) -> Content:
    """The help text: one line per key, grouped by scope."""
    parts: list[str | tuple[str, str]] = []
    for scope, title in SCOPE_TITLES.items():
        entries = [k for k in KEYS if k.scope == scope
                   and (available is None or k.id in available)]
        if not entries:
            continue
        parts.append((f"\n{title}\n", "bold $accent"))
        for k in entries:
            keys = " / ".join(display_key(x) for x in keys_for(k.id, keymap))
            parts.append((f"  {keys:<14}", "bold"))
            parts.append((f" {k.id:<22}", "$text-muted"))
            parts.append(f" {k.help}\n")
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*bindings("dialog"), ("f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        from ..app import MODES_AVAILABLE, _available

        keymap = getattr(self.app, "keymap_settings", {})
        available = {k.id for k in KEYS if _available(k)} if MODES_AVAILABLE else None
        with Vertical(classes="help-box"):
            yield Static(Content.styled("teachbot keys", "bold"), id="help-title")
            yield Static(Content(INTRO), classes="dialog-hint")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_content(keymap, available), id="help-keys")
            yield Static(Content("Esc or F1 closes"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
