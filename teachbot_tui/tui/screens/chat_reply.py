"""Writing one reply: what the chat screen's worker thread does, and what it tells the screen.

:func:`write_reply` runs on a worker thread. It waits for the model (and the library, and the
embedder the first time), takes the model's turn, asks the assistant and streams the answer,
and reports every step through ``post`` as a :class:`ReplyEvent`; it never touches a widget.
The chat screen handles the events in order on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ...engine.base import Cancel, EngineError
from ...text import one_line
from ..widgets.message import MessageView
from ..widgets.sources import source_dict

if TYPE_CHECKING:
    from textual.widgets.markdown import MarkdownStream

    from ..backend import Backend

WAITING_FOR_MODEL = "Loading model… your question will be sent when it's ready."
SEARCH_FAILED = "Library search failed"
"""How the notice starts when the reply was written without the documents."""


@dataclass
class ReplyJob:
    """One reply being written: the question, the view it streams into, and what has been
    received and saved so far."""

    conversation_id: int
    question: str
    history: list[dict[str, str]]
    view: MessageView
    cancel: Cancel = field(default_factory=Cancel)
    message_id: int | None = None
    text: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    no_context: bool = False
    stream: MarkdownStream | None = None
    last_save: float = 0.0
    finished: bool = False
    user_message_id: int | None = None  # the question: what was sent is kept with it


class ReplyEvent(Message):
    """Posted by the reply worker (any thread); handled in order on the UI thread."""

    def __init__(self, job: ReplyJob, kind: str, text: str = "", status: str = "",
                 sources: list[dict[str, Any]] | None = None, no_context: bool = False,
                 record: dict[str, Any] | None = None, said: str | None = None) -> None:
        super().__init__()
        self.said = said  # done: the reply as the model wrote it
        self.record = record
        self.job = job
        self.kind = kind
        self.text = text
        self.status = status
        self.sources = sources
        self.no_context = no_context


Post = Callable[..., None]
"""``post(kind, **fields)``: send a :class:`ReplyEvent` of this kind for the job to the screen."""


def write_reply(backend: Backend, job: ReplyJob, post: Post) -> None:
    """Write the reply to ``job.question`` (on a worker thread). Posts, in order: ``notice``
    events while it waits, ``sources``, one ``piece`` per piece of text, then ``done``
    (complete or stopped) or ``error``."""
    if not backend.engine.done:
        post("notice", text=WAITING_FOR_MODEL)
        if not backend.engine.wait(job.cancel):
            post("done", status="stopped")
            return
    if backend.engine.error:
        post("error", text=f"The model could not be loaded: {backend.engine.error}. "
                           "Pick a model in Models & settings (F4).")
        return
    backend.library.wait(job.cancel, timeout=15)
    if backend.library.value is not None and not backend.embedder.done:
        post("notice", text="Preparing document search (first time only)…")
        backend.embedder.wait(job.cancel, timeout=120)
    if job.cancel.is_set:
        post("done", status="stopped")
        return
    if backend.model_busy:
        post("notice", text="Waiting for the model (a practice turn is using it)…")
    with backend.model_turn(job.cancel) as held:
        if not held:
            post("done", status="stopped")
            return
        post("notice", text="Searching your library…" if backend.library.value is not None
             else "Thinking…")
        note = ""

        def reading(label: str, fraction: float) -> None:
            post("notice", text=f"{label}… {fraction:.0%}")

        try:
            assistant = backend.assistant()
            try:
                answer = assistant.answer(job.question, job.history, cancel=job.cancel,
                                          progress=reading)
            except Exception as exc:  # noqa: BLE001 - retrieval failed: answer without it
                if isinstance(exc, EngineError):
                    raise
                note = f"{SEARCH_FAILED} ({one_line(exc)}); answered without your documents."
                answer = assistant.answer(job.question, job.history, cancel=job.cancel,
                                          retrieval=False, progress=reading)
            post("sources", sources=[source_dict(s) for s in answer.sources],
                 no_context=bool(getattr(answer, "no_context", False)), text=note,
                 record=getattr(answer, "record", None))
            for piece in answer:
                if piece:
                    post("piece", text=piece)
                if job.cancel.is_set:
                    break
        except Exception as exc:  # noqa: BLE001 - one line for the user
            post("error", text=f"The reply failed: {one_line(exc)}")
            return
    status = "stopped" if job.cancel.is_set else "complete"
    post("done", status=status, sources=[source_dict(s) for s in answer.sources],
         no_context=bool(getattr(answer, "no_context", False)),
         said=getattr(answer, "said", None))
