"""The chat screen: conversations on the left, the conversation and the question box.

One streaming loop serves both a new question and "regenerate" (:meth:`ChatScreen._reply`).
The reply is written by a thread worker that only *posts* events (``chat_reply.py``); this
screen, on the UI thread, appends each piece to the Markdown stream, saves the partial reply
about twice a second, and re-renders the whole reply once at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from ...text import slug
from ..keys import bindings
from ..text import literal_line, safe_line, safe_text, shorten, storable
from ..widgets.conversations import ConversationList
from ..widgets.fit import FitLabel
from ..widgets.footer import Footer
from ..widgets.log import MessageLog
from ..widgets.message import MessageView
from ..widgets.nav import NavBar
from ..widgets.prompt import PromptArea
from ..widgets.sources import SourcesList
from ..widgets.status import StatusBar
from .chat_reply import SEARCH_FAILED, WAITING_FOR_MODEL, ReplyEvent, ReplyJob, write_reply
from .panes import SidePaneScreen

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from ..host import Host

SAVE_EVERY_S = 0.5
TITLE_LIMIT = 100
"""A new conversation is titled by its question, shortened at a word to this many cells."""
PROMPT_HINTS = (
    "Ask about your classroom…  (Enter sends · Ctrl+J new line)",
    "Ask about your classroom…  (Enter sends)",
    "Ask about your classroom…",
)
EMPTY_STATE = (
    "Ask a question about your classroom, e.g. \"How should I handle a student who "
    "consistently disrupts class?\"\n\n"
    "teachbot answers from your own documents (import them in Library, F3) and lists the "
    "sources of every answer. Enter sends, Ctrl+J starts a new line, Esc stops a reply, "
    "Ctrl+B shows or hides your conversations, F1 lists every key."
)


def export_name(title: str) -> str:
    """The Markdown file a conversation is exported to by default, named after its title."""
    return f"teachbot-{slug(title, 50) or 'conversation'}.md"


class ChatScreen(SidePaneScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("chat")
    SIDE_PANE = "#sidebar"
    AUTO_FOCUS = "#prompt"
    """The question box takes keys from the first paint (and focus moves only once)."""

    def __init__(self) -> None:
        super().__init__(id="chat-screen")
        self.conversation_id: int | None = None
        self.job: ReplyJob | None = None

    @property
    def tapp(self) -> Host:
        return self.app  # type: ignore[return-value]

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NavBar("chat")
        with Horizontal(id="chat-main"):
            with Vertical(id="sidebar"):
                yield Button("+ New conversation", id="new-conversation", compact=True)
                yield ConversationList(id="conversations")
            with Vertical(id="chat-pane"):
                yield FitLabel(Content("New conversation"), id="conversation-title")
                with MessageLog(id="messages"):
                    yield Static(Content(EMPTY_STATE), id="empty-state")
                yield PromptArea(
                    keymap=getattr(self.app, "keymap_settings", {}), id="prompt",
                    placeholders=PROMPT_HINTS)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_conversations()
        prompt = self.query_one(PromptArea)
        if self.focused is not prompt:  # AUTO_FOCUS has normally done it
            prompt.focus()

    def on_screen_resume(self) -> None:
        self.tapp.refresh_status()

    @property
    def messages(self) -> VerticalScroll:
        return self.query_one("#messages", VerticalScroll)

    def views(self) -> list[MessageView]:
        return list(self.messages.query_children(MessageView))

    # -- conversations ---------------------------------------------------------------------
    def refresh_conversations(self) -> None:
        store = self.tapp.backend.store
        self.query_one(ConversationList).set_conversations(store.list(), self.conversation_id)

    def _set_title(self, title: str) -> None:
        self.query_one("#conversation-title", FitLabel).update(literal_line(title, "bold"))

    async def _clear_messages(self) -> None:
        await self.messages.remove_children(MessageView)
        self.query_one("#empty-state").display = True

    def _stop_job(self) -> None:
        if self.job is not None:
            self.job.cancel.set()

    async def action_new_conversation(self) -> None:
        self._stop_job()
        self.conversation_id = None
        await self._clear_messages()
        self._set_title("New conversation")
        self.refresh_conversations()
        self.query_one(PromptArea).focus()

    async def resume(self, conversation_id: int) -> None:
        from ...conversations import ConversationError

        self._stop_job()
        try:
            conv = self.tapp.backend.store.get(conversation_id)
        except ConversationError as exc:
            self.notify(safe_line(exc), severity="error", markup=False)
            return
        self.conversation_id = conv.id
        await self._clear_messages()
        views = [
            MessageView(m.role, m.content, status=m.status, sources=m.sources,
                        no_context=(m.role == "assistant" and not m.sources
                                    and m.status == "complete"),
                        message_id=m.id)
            for m in conv.messages if m.role in ("user", "assistant")
        ]
        self.query_one("#empty-state").display = not views
        if views:
            await self.messages.mount_all(views)
        self._set_title(conv.title)
        self.refresh_conversations()
        self.messages.scroll_end(animate=False)
        self.query_one(PromptArea).focus()

    @on(ConversationList.Action)
    async def _on_list_action(self, event: ConversationList.Action) -> None:
        event.stop()
        if event.action == "resume":
            await self.resume(event.conversation_id)
        elif event.action == "delete":
            self._ask_delete(event.conversation_id)
        elif event.action == "rename":
            self._ask_rename(event.conversation_id)

    @on(Button.Pressed, "#new-conversation")
    async def _on_new_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_new_conversation()

    def _title_of(self, conversation_id: int) -> str:
        for conv in self.tapp.backend.store.list():
            if conv.id == conversation_id:
                return conv.title
        return ""

    def action_rename_conversation(self) -> None:
        if self.conversation_id is None:
            self.notify("Ask a question first: a new conversation is saved with it.",
                        markup=False)
            return
        self._ask_rename(self.conversation_id)

    def _ask_rename(self, conversation_id: int) -> None:
        from ...conversations import ConversationError
        from .dialogs import InputDialog

        def done(title: str | None) -> None:
            if title is None:
                return
            try:
                self.tapp.backend.store.rename(conversation_id, title)
            except ConversationError as exc:
                self.notify(safe_line(exc), severity="error", markup=False)
                return
            if conversation_id == self.conversation_id:
                self._set_title(self._title_of(conversation_id))
            self.refresh_conversations()

        self.app.push_screen(InputDialog("Rename the conversation",
                                         self._title_of(conversation_id), confirm="Rename"),
                             done)

    def action_delete_conversation(self) -> None:
        if self.conversation_id is None:
            self.notify("This conversation is not saved yet: nothing to delete.", markup=False)
            return
        self._ask_delete(self.conversation_id)

    def _ask_delete(self, conversation_id: int) -> None:
        from .dialogs import ConfirmDialog

        async def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            if conversation_id == self.conversation_id:
                self._stop_job()
            self.tapp.backend.store.delete(conversation_id)
            if conversation_id == self.conversation_id:
                await self.action_new_conversation()
            else:
                self.refresh_conversations()
            self.notify("Conversation deleted.", markup=False)

        title = shorten(safe_line(self._title_of(conversation_id)), 60)
        self.app.push_screen(ConfirmDialog(f"Delete the conversation “{title}”? "
                                           "This cannot be undone."), done)

    def action_export_conversation(self) -> None:
        if self.conversation_id is None:
            self.notify("Nothing to export yet: ask a question first.", markup=False)
            return
        from ..widgets.path_input import PathSuggester
        from .dialogs import InputDialog

        conversation_id = self.conversation_id
        default = Path.home() / export_name(self._title_of(conversation_id))

        def done(target: str | None) -> None:
            if not target:
                return
            self.export_to(conversation_id, Path(target).expanduser())

        self.app.push_screen(InputDialog("Export to a Markdown file", str(default),
                                         suggester=PathSuggester(), confirm="Export"), done)

    def export_to(self, conversation_id: int, path: Path) -> bool:
        try:
            text = self.tapp.backend.store.export_markdown(conversation_id)
            if path.is_dir():
                path = path / export_name(self._title_of(conversation_id))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(safe_line(f"Could not export: {exc.strerror or exc} ({path}). Pick "
                                  "another path."),
                        severity="error", markup=False)
            return False
        self.notify(f"Exported to {path}", markup=False)
        return True

    def action_toggle_sidebar(self) -> None:
        if not self.toggle_side_pane() and self.focused is not None \
                and self.query_one("#sidebar") in self.focused.ancestors_with_self:
            self.query_one(PromptArea).focus()

    def action_focus_conversations(self) -> None:
        self.show_side_pane()
        self.query_one(ConversationList).focus()

    # -- asking ----------------------------------------------------------------------------
    @on(PromptArea.Submitted)
    async def _on_submitted(self, event: PromptArea.Submitted) -> None:
        event.stop()
        await self.ask(event.text)

    def _history(self, before_message_id: int | None = None) -> list[dict[str, str]]:
        if self.conversation_id is None:
            return []
        conv = self.tapp.backend.store.get(self.conversation_id)
        history: list[dict[str, str]] = []
        for m in conv.messages:
            if before_message_id is not None and m.id >= before_message_id:
                break
            if m.role in ("user", "assistant") and m.content.strip() and m.status != "error":
                history.append(m.history_entry())
        return history

    async def ask(self, text: str) -> None:
        """Send a question (what Enter does)."""
        question = storable(text.strip())
        if not question:
            return
        if self.job is not None:
            self.notify("A reply is being written: wait for it, or press Esc to stop it.",
                        markup=False)
            return
        store = self.tapp.backend.store
        if self.conversation_id is None:
            title = shorten(" ".join(question.split()), TITLE_LIMIT)
            conv = store.create(title=title, model=self.tapp.settings.chat_model)
            self.conversation_id = conv.id
            self._set_title(conv.title)
        history = self._history()
        message_id = store.add_message(self.conversation_id, "user", question)
        self.query_one(PromptArea).clear()
        self.refresh_conversations()
        self.query_one("#empty-state").display = False
        await self.messages.mount(MessageView("user", question, message_id=message_id))
        await self._reply(question, history, message_id)

    async def _reply(self, question: str, history: list[dict[str, Any]],
                     user_message_id: int | None = None) -> None:
        """The one streaming loop (new question and regenerate)."""
        assert self.conversation_id is not None
        view = MessageView("assistant", "", status="streaming")
        await self.messages.mount(view)
        view.set_status("streaming")
        job = ReplyJob(self.conversation_id, question, history, view,
                       user_message_id=user_message_id)
        self.job = job
        backend = self.tapp.backend
        if not backend.engine.done:
            view.set_notice(WAITING_FOR_MODEL)
        else:
            view.set_notice("Thinking…")
        from textual.widgets import Markdown  # not at import: the first paint doesn't need it

        job.stream = Markdown.get_stream(view.markdown)
        self.messages.anchor()
        self._generate(job)

    @work(thread=True, group="reply")
    def _generate(self, job: ReplyJob) -> None:
        write_reply(self.tapp.backend, job,
                    lambda kind, **kw: self.post_message(ReplyEvent(job, kind, **kw)))

    @on(ReplyEvent)
    async def _on_reply_event(self, event: ReplyEvent) -> None:
        event.stop()
        job = event.job
        if job.finished:
            return
        store = self.tapp.backend.store
        view = job.view
        alive = view.is_attached
        if event.kind == "notice":
            if alive and not job.text:
                view.set_notice(event.text)
        elif event.kind == "sources":
            job.sources = event.sources or []
            job.no_context = event.no_context
            if event.record is not None and job.user_message_id is not None:
                store.record_sent(job.user_message_id, **event.record)
            job.message_id = store.add_message(job.conversation_id, "assistant", "",
                                               sources=job.sources, status="streaming")
            view.message_id = job.message_id
            job.last_save = time.monotonic()
            if alive:
                view.set_notice(event.text, "$warning") if event.text else view.set_notice("")
                view.set_sources(job.sources, job.no_context)
        elif event.kind == "piece":
            job.text += storable(event.text)
            view.text = job.text
            if alive and job.stream is not None:
                if view._notice and not view._notice.startswith(SEARCH_FAILED):
                    view.set_notice("")
                await job.stream.write(safe_text(event.text))
            now = time.monotonic()
            if job.message_id is not None and now - job.last_save >= SAVE_EVERY_S:
                store.update_message(job.message_id, job.text)
                job.last_save = now
        elif event.kind in ("done", "error"):
            await self._finish(job, event)

    async def _finish(self, job: ReplyJob, event: ReplyEvent) -> None:
        job.finished = True
        store = self.tapp.backend.store
        status = event.status if event.kind == "done" else "error"
        if event.sources is not None:
            job.sources = event.sources
            job.no_context = event.no_context
        text = job.text
        if job.message_id is None:
            job.message_id = store.add_message(job.conversation_id, "assistant",
                                               text or (event.text if status == "error" else ""),
                                               sources=job.sources, status=status)
        else:
            store.update_message(job.message_id, text, status=status, sources=job.sources,
                                 sent=event.said)
        if job.stream is not None:
            await job.stream.stop()
        view = job.view
        if view.is_attached:
            view.message_id = job.message_id
            await view.set_text(text)  # re-render once, in full
            view.set_status(status)
            view.set_sources(job.sources, job.no_context)
            if status == "error":
                view.set_notice(event.text, "$error")
            elif status == "stopped":
                view.set_notice("Stopped." if text else "Stopped before the reply started.")
            elif not (view._notice or "").startswith(SEARCH_FAILED):
                view.set_notice("")
        if self.job is job:
            self.job = None
        self.refresh_conversations()

    def action_stop(self) -> None:
        if self.job is None or self.job.finished:
            self.query_one(PromptArea).focus()
            return
        self.job.cancel.set()
        if not self.job.text:
            self.job.view.set_notice("Stopping…")

    async def action_regenerate(self) -> None:
        if self.job is not None:
            self.notify("A reply is being written: wait for it, or press Esc to stop it.",
                        markup=False)
            return
        if self.conversation_id is None:
            self.notify("Nothing to regenerate yet.", markup=False)
            return
        store = self.tapp.backend.store
        conv = store.get(self.conversation_id)
        last_user = next((m for m in reversed(conv.messages) if m.role == "user"), None)
        if last_user is None:
            self.notify("Nothing to regenerate yet.", markup=False)
            return
        # drop the replies after the last question, in the store and on screen
        for m in conv.messages:
            if m.id > last_user.id and m.role == "assistant":
                store.delete_message(m.id)
        for view in self.views():
            if view.role == "assistant" and (view.message_id is None
                                             or view.message_id > last_user.id):
                await view.remove()
        await self._reply(last_user.content, self._history(before_message_id=last_user.id),
                          last_user.id)

    def _last_answer(self) -> MessageView | None:
        return next((v for v in reversed(self.views()) if v.role == "assistant"), None)

    def action_show_sources(self) -> None:
        view = self._last_answer()
        if view is None:
            self.notify("No answer yet.", markup=False)
        elif view.sources:
            view.sources_list.focus()
            view.sources_list.scroll_visible()
        elif view.no_context:
            self.notify("No relevant documents were found for the last answer.", markup=False)
        else:
            self.notify("The last answer has no sources.", markup=False)

    def action_copy_last_reply(self) -> None:
        view = self._last_answer()
        if view is None or not view.text:
            self.notify("No reply to copy yet.", markup=False)
            return
        view.action_copy_message()

    @on(SourcesList.OpenPassage)
    def _open_passage(self, event: SourcesList.OpenPassage) -> None:
        event.stop()
        from .passage import PassageScreen

        self.app.push_screen(PassageScreen(event.source))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        event.prevent_default()
        # teachbot is offline: show the link, never open it
        self.notify(f"Link: {safe_line(event.href, limit=200)}", markup=False)

    def question_text(self) -> str:
        return self.query_one(PromptArea).text

    def set_question(self, text: str) -> None:
        self.query_one(PromptArea).load_text(safe_text(text))
