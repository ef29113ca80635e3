"""The question box: multi-line, Enter sends, Ctrl+J (or Shift/Alt+Enter) inserts a newline."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from ..keys import keys_for
from .fit import fit_placeholder


class PromptArea(TextArea):
    """A ``TextArea`` where the send key posts :class:`PromptArea.Submitted`.

    The send and newline keys come from the ``send`` and ``newline`` ids of the key table,
    so they can be remapped in config.toml like every other key.
    """

    DEFAULT_CSS = """
    PromptArea { height: auto; max-height: 10; min-height: 3; }
    """

    HELP: ClassVar[str] = "Enter sends; Ctrl+J inserts a new line."

    class Submitted(Message):
        def __init__(self, prompt: PromptArea, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, keymap: dict[str, str] | None = None,
                 placeholders: tuple[str, ...] = (), **kwargs: object) -> None:
        if placeholders:
            kwargs.setdefault("placeholder", placeholders[0])
        super().__init__(soft_wrap=True, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.placeholders = placeholders
        self.set_keymap(keymap or {})

    def on_resize(self, event: events.Resize) -> None:
        """The longest hint that fits the box (the send and new-line keys go first)."""
        fit_placeholder(self, self.placeholders)

    def set_keymap(self, keymap: dict[str, str]) -> None:
        self.send_keys = set(keys_for("send", keymap))
        self.newline_keys = set(keys_for("newline", keymap))
        # a key is either "send" or "newline", never both
        self.newline_keys -= self.send_keys

    async def _on_key(self, event: events.Key) -> None:
        if event.key in self.send_keys:
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in self.newline_keys:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)
