"""F1: every key of the app, grouped by where it works, with the keys actually in effect.

The list is a table per group (key, id, what it does); a description too long for its
column wraps under that column, not back at the left margin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import KEYS, SCOPE_TITLES, bindings, display_key, keys_for
from ..text import safe_line

if TYPE_CHECKING:
    from rich.console import RenderableType

INTRO = ("Keys can be remapped in config.toml under [keys], by the id in the middle column, "
         "e.g.  stop = \"ctrl+c\".  Ctrl+P opens the command palette: every action by name.")
KEY_COLUMN = 16
"""The widest the key column gets; longer key lists wrap at " / "."""


def help_rows(keymap: dict[str, str]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """``[(group title, [(keys, id, what it does), ...]), ...]`` with the keys in effect."""
    groups = []
    for scope, title in SCOPE_TITLES.items():
        entries = [k for k in KEYS if k.scope == scope]
        if entries:
            rows = [(" / ".join(display_key(x) for x in keys_for(k.id, keymap)), k.id, k.help)
                    for k in entries]
            groups.append((title, rows))
    return groups


def help_renderable(keymap: dict[str, str]) -> RenderableType:
    """The help text: a heading and a three-column table per group."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    for title, rows in help_rows(keymap):
        parts.append(Text("\n" + title, style="bold"))
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column("key", style="bold", max_width=KEY_COLUMN, no_wrap=False)
        table.add_column("id", style="dim", no_wrap=True)
        table.add_column("what it does", ratio=1)
        for keys, key_id, text in rows:
            # config.toml's keys are data: shown literally (Text, never markup)
            table.add_row(Text(safe_line(keys)), Text(key_id), Text(text))
        parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*bindings("dialog"), ("f1", "close", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        with Vertical(classes="help-box"):
            yield Static(Content.styled("teachbot keys", "bold"), id="help-title")
            yield Static(Content(INTRO), classes="dialog-hint")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_renderable(self.keymap), id="help-keys")
            yield Static(Content("Esc or F1 closes"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
