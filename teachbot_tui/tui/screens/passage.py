"""The full passage behind a source, with the cited chunk highlighted and scrolled into view."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from ..keys import bindings
from ..text import safe_text
from ..widgets.sources import where

CONTEXT_CHARS = 12_000
"""How much of the document is shown on each side of the chunk."""


def passage_parts(text: str, start: int, end: int,
                  context: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(before, chunk, after), each made safe separately so the offsets stay right."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    lo = max(0, start - context)
    hi = min(len(text), end + context)
    before = ("…\n" if lo > 0 else "") + text[lo:start]
    after = text[end:hi] + ("\n…" if hi < len(text) else "")
    return safe_text(before), safe_text(text[start:end]), safe_text(after)


class PassageScreen(ModalScreen[None]):
    """Opened from a source; Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("dialog")

    def __init__(self, source: dict[str, Any]) -> None:
        super().__init__(classes="dialog")
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical(classes="passage-box"):
            yield Static(Content.assemble((f"[{self.source.get('n', '?')}] ", "bold $accent"),
                                          (where(self.source), "bold")), id="passage-title")
            with VerticalScroll(id="passage-scroll"):
                yield Static(Content.styled("Loading the passage…", "italic $text-muted"),
                             id="passage-before")
                yield Static("", id="passage-chunk")
                yield Static("", id="passage-after")
            yield Static(Content("Esc closes · the highlighted part is what the answer used"),
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#passage-scroll").focus()
        self.load()

    @work(thread=True, exclusive=True, group="passage")
    def load(self) -> None:
        backend = getattr(self.app, "backend", None)
        chunk_id = self.source.get("chunk_id")
        try:
            if backend is None or chunk_id is None:
                raise LookupError("this source has no passage to open")
            backend.library.wait(timeout=30)
            lib = backend.library.value
            if lib is None:
                raise LookupError(backend.library.error or "the library is not open")
            passage = lib.passage(int(chunk_id))
        except Exception as exc:  # noqa: BLE001 - one line for the user
            from ..backend import one_line

            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_error, one_line(exc))
            return
        parts = passage_parts(passage.text, passage.start, passage.end)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, *parts)

    def _show_error(self, message: str) -> None:
        self.query_one("#passage-before", Static).update(
            Content.styled(safe_text(message), "$error"))

    def _show(self, before: str, chunk: str, after: str) -> None:
        self.query_one("#passage-before", Static).update(Content(before))
        chunk_widget = self.query_one("#passage-chunk", Static)
        chunk_widget.update(Content.styled(chunk, "bold on $accent 30%"))
        self.query_one("#passage-after", Static).update(Content(after))
        self.call_after_refresh(chunk_widget.scroll_visible, top=True, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
