"""Small modal dialogs: ask for a line of text, or confirm."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Static

from ..keys import bindings
from ..text import safe_text


class InputDialog(ModalScreen[str | None]):
    """Ask for one line. Enter confirms, Esc cancels (returns None)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("dialog")

    def __init__(self, title: str, value: str = "", placeholder: str = "",
                 suggester: Suggester | None = None, confirm: str = "OK") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.suggester = suggester
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content(safe_text(self.title_text)), classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, suggester=self.suggester,
                        id="dialog-input")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.dismiss(self.query_one(Input).value)
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no. Enter/y confirms, Esc/n cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings("dialog"),
        ("y", "yes", "Yes"),
        ("n", "close", "No"),
    ]

    def __init__(self, question: str, confirm: str = "Delete") -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content(safe_text(self.question)), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm, variant="error", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "ok")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
