"""One message of a conversation: who, the text, a status note and (answers) the sources."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ..keys import bindings
from ..text import safe_text
from .sources import SourcesList

if TYPE_CHECKING:
    from textual.widgets import Markdown

FENCE_RE = re.compile(r"^(```+|~~~+)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)

STATUS_NOTES = {
    "streaming": "writing…",
    "stopped": "stopped",
    "interrupted": "interrupted (teachbot was closed while writing)",
    "error": "error",
}

NO_CONTEXT = "No relevant documents found in your library for this question."


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown text."""
    return [m.group(2).rstrip("\n") for m in FENCE_RE.finditer(markdown)]


class MessageView(Vertical, can_focus=True):
    """A message. Focus it (Tab, click) to copy it or its code, or to reach its sources."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("message")

    def __init__(self, role: str, text: str = "", status: str = "complete",
                 sources: list[dict[str, Any]] | None = None, no_context: bool = False,
                 message_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(classes=f"message {role}", **kwargs)
        self.role = role
        self.text = text
        self.status = status
        self.sources = list(sources or [])
        self.no_context = no_context
        self.message_id = message_id
        self._notice = ""

    # -- parts ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="header")
        if self.role == "assistant":
            # imported here, not at module import: the chat screen's first paint shows no
            # reply, and Markdown (markdown-it) is the heaviest widget it would import
            from textual.widgets import Markdown

            md = Markdown(safe_text(self.text), open_links=False, classes="body")
            yield md
        else:
            yield Static(Content(safe_text(self.text)), classes="body")
        # after the body: "Searching…" shows while it is empty, "Stopped." after a partial reply
        yield Static("", classes="notice")
        yield Static(Content(NO_CONTEXT), classes="no-context")
        yield SourcesList(self.sources, classes="sources")

    def on_mount(self) -> None:
        self._sync_visibility()

    def _header(self) -> Content:
        who = "You" if self.role == "user" else "teachbot"
        parts: list[str | tuple[str, str]] = [(who, "bold")]
        note = STATUS_NOTES.get(self.status)
        if note:
            style = {"error": "$error", "streaming": "$text-muted"}.get(self.status, "$warning")
            parts.append(("  · " + note, style))
        if self.role == "assistant" and self.sources:
            n = len(self.sources)
            parts.append((f"  · {n} source{'s' if n != 1 else ''}", "$text-muted"))
        return Content.assemble(*parts)

    def _sync_visibility(self) -> None:
        notice = self.query_one(".notice", Static)
        notice.display = bool(self._notice)
        self.query_one(".no-context", Static).display = (
            self.role == "assistant" and self.no_context and self.status != "streaming-wait"
        )
        self.query_one(SourcesList).display = bool(self.sources)

    @property
    def markdown(self) -> Markdown:
        from textual.widgets import Markdown

        return self.query_one(".body", Markdown)

    @property
    def sources_list(self) -> SourcesList:
        return self.query_one(SourcesList)

    # -- updates from the chat screen ------------------------------------------------------
    def set_notice(self, text: str, style: str = "$text-muted italic") -> None:
        self._notice = text
        notice = self.query_one(".notice", Static)
        notice.update(Content.styled(safe_text(text), style) if text else Content(""))
        self._sync_visibility()

    def set_status(self, status: str) -> None:
        self.status = status
        self.query_one(".header", Static).update(self._header())
        self.set_class(status == "streaming", "-streaming")

    def set_sources(self, sources: list[dict[str, Any]], no_context: bool) -> None:
        self.sources = list(sources)
        self.no_context = no_context
        self.sources_list.set_sources(self.sources)
        self.query_one(".header", Static).update(self._header())
        self._sync_visibility()

    async def set_text(self, text: str) -> None:
        """Replace the whole text (once, at the end of a stream)."""
        self.text = text
        if self.role == "assistant":
            await self.markdown.update(safe_text(text))
        else:
            self.query_one(".body", Static).update(Content(safe_text(text)))

    # -- keys ------------------------------------------------------------------------------
    def action_copy_message(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.app.notify("Message copied to the clipboard.", markup=False)

    def action_copy_code(self) -> None:
        blocks = code_blocks(self.text)
        if not blocks:
            self.app.notify("This message has no code blocks.", markup=False)
            return
        self.app.copy_to_clipboard("\n\n".join(blocks))
        n = len(blocks)
        self.app.notify(f"{n} code block{'s' if n > 1 else ''} copied to the clipboard.",
                        markup=False)

    def action_focus_sources(self) -> None:
        if self.sources:
            self.sources_list.focus()
        else:
            self.app.notify("This message has no sources.", markup=False)

    def action_previous(self) -> None:
        self._move(-1)

    def action_next(self) -> None:
        self._move(1)

    def _move(self, step: int) -> None:
        parent = self.parent
        if parent is None:
            return
        views = list(parent.query_children(MessageView))
        i = views.index(self) + step
        if 0 <= i < len(views):
            views[i].focus()
            views[i].scroll_visible()
