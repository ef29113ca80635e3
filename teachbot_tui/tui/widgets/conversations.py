"""The sidebar list of saved conversations."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..keys import bindings
from ..text import literal_line


class ConversationList(OptionList):
    """Enter resumes; Del deletes (asks first); r renames."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("sidebar")

    class Action(Message):
        def __init__(self, action: str, conversation_id: int) -> None:
            super().__init__()
            self.action = action
            self.conversation_id = conversation_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids: list[int] = []

    def set_conversations(self, conversations: list[Any], current: int | None) -> None:
        highlighted = self.highlighted_id
        self.ids = [c.id for c in conversations]
        self.set_options(
            Option(literal_line(c.title or "Untitled", "bold" if c.id == current else "",
                                limit=60), id=f"c{c.id}")
            for c in conversations
        )
        target = current if current in self.ids else highlighted
        if target in self.ids:
            self.highlighted = self.ids.index(target)

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    @property
    def highlighted_id(self) -> int | None:
        if self.highlighted is None or not (0 <= self.highlighted < len(self.ids)):
            return None
        return self.ids[self.highlighted]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.ids):
            self.post_message(self.Action("resume", self.ids[event.option_index]))

    def action_delete_conversation(self) -> None:
        if self.highlighted_id is not None:
            self.post_message(self.Action("delete", self.highlighted_id))

    def action_rename_conversation(self) -> None:
        if self.highlighted_id is not None:
            self.post_message(self.Action("rename", self.highlighted_id))
