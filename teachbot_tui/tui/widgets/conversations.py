"""The sidebar list of saved conversations: one line each, a long title shortened at a word
to the list's width (the highlighted one's full title is its tooltip, and the chat pane shows
it when the conversation is open)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..keys import bindings
from ..text import literal_line, safe_line, shorten


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
        self.titles: list[str] = []
        self.current: int | None = None
        self._width = 0

    def set_conversations(self, conversations: list[Any], current: int | None) -> None:
        highlighted = self.highlighted_id
        self.ids = [c.id for c in conversations]
        self.titles = [safe_line(c.title or "Untitled") for c in conversations]
        self.current = current
        self._show()
        target = current if current in self.ids else highlighted
        if target in self.ids:
            self.highlighted = self.ids.index(target)

    def _line_width(self) -> int:
        return self.scrollable_content_region.width - 1 if self.is_mounted else 0

    def _show(self) -> None:
        highlighted = self.highlighted
        width = self._line_width()
        self._width = width
        self.set_options(
            Option(literal_line(shorten(title, width) if width > 0 else title,
                                "bold" if i == self.current else ""), id=f"c{i}")
            for i, title in zip(self.ids, self.titles, strict=True)
        )
        if highlighted is not None and highlighted < self.option_count:
            self.highlighted = highlighted

    def on_resize(self, event: events.Resize) -> None:
        if self._line_width() != self._width:
            self._show()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = event.option_index
        title = self.titles[index] if 0 <= index < len(self.titles) else ""
        self.tooltip = title if title and shorten(title, self._width) != title else None

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
