"""The library screen: collections and documents, search them, import a folder with
progress, sync, remove.

The tables lay their columns out for the width they have (a document's file name first, then
its folder; the least useful columns go first on narrow terminals) and the line under them
shows every detail of the highlighted document. The search box above the documents lists
the documents that best match what it says (``Library.search_documents``: the document as a
whole and its passages), best first, in the selected collection; the line under the table
then also shows the highlighted document's best passages. An empty search lists them all.
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
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, ProgressBar, Static
from textual.worker import get_current_worker

from ...engine.base import Cancel
from ..keys import bindings
from ..text import safe_line, safe_text, short_line
from ..widgets.fit import FitLabel
from ..widgets.footer import Footer
from ..widgets.nav import NavBar
from ..widgets.path_input import HintInput, PathInput
from ..widgets.sources import short_path
from ..widgets.status import StatusBar
from ..widgets.tables import Col, FitTable, wrapping

if TYPE_CHECKING:
    from ..host import Host

ALL = "\x00all"  # row key of "All documents" (cannot be a collection name)
PROGRESS_EVERY_S = 0.1
SEARCH_DOCUMENTS = 10  # documents a search lists
SEARCH_PASSAGES = 2  # best passages shown with the highlighted one
SEARCH_HINTS = (
    "Search the documents: say what a document is about, in your own words (Enter)",
    "Search the documents (Enter)",
    "Search",
)


IMPORT_HINTS = (
    "Folder or file to import, e.g. ~/Documents/lessons  (Tab completes)",
    "Folder or file to import  (Tab completes)",
    "Folder or file to import",
)
COLLECTION_COLUMNS = (
    Col("name", "Collection", 10, weight=1, priority=100),
    Col("docs", "Docs", 4, priority=50),
    Col("chunks", "Chunks", 6, priority=10),
)
DOCUMENT_COLUMNS = (
    Col("name", "Document", 16, weight=4, priority=100),
    Col("folder", "Folder", 12, weight=3, priority=60),
    Col("collection", "Collection", 10, weight=1, max_width=24, priority=40),
    Col("chunks", "Chunks", 6, priority=30),
    Col("format", "Format", 8, priority=20),
    Col("imported", "Imported", 10, priority=10),
)


def split_path(path: str) -> tuple[str, str]:
    """(file name, folder) of a document's path, the folder under ``~`` shortened."""
    p = Path(path)
    return p.name or path, short_path(str(p.parent))


def document_cells(d: Any) -> dict[str, Any]:
    name, folder = split_path(d.path)
    return {"name": wrapping(name, "bold"), "folder": wrapping(folder),
            "collection": wrapping(d.collection), "chunks": d.chunks,
            "format": wrapping(d.format), "imported": wrapping((d.imported_at or "")[:10])}


def document_detail(d: Any) -> Content:
    """Everything about one document, for the line under the table."""
    name, folder = split_path(d.path)
    return Content.assemble((safe_line(name), "bold"), f" in {safe_line(folder)} · "
                            f"collection {safe_line(d.collection)} · {safe_line(d.format)} · "
                            f"{d.chunks} chunk{'s' if d.chunks != 1 else ''} · imported "
                            f"{safe_line((d.imported_at or '?')[:10])}")


def match_detail(match: Any) -> Content:
    """A found document's best passages, for the line under the table."""
    parts: list[str | tuple[str, str]] = []
    for h in match.hits[:SEARCH_PASSAGES]:
        where = f"p. {h.page} · " if h.page else ""
        heading = f"{h.heading}: " if h.heading else ""
        parts.append((f"\n{h.score:.2f} ", "bold"))
        parts.append(short_line(f"{where}{heading}{' '.join(h.text.split())}", 240))
    return Content.assemble(*parts)


def progress_line(p: Any) -> str:
    if p.phase == "scan":
        return f"Scanning for files… {p.files_total or ''}".rstrip()
    parts = [f"{p.files_done}/{p.files_total} files", f"{p.chunks_done} chunks"]
    if p.chunks_per_s:
        parts.append(f"{p.chunks_per_s:.0f} chunks/s")
    if p.eta_s is not None and p.phase != "done":
        parts.append(f"ETA {p.eta_s:.0f} s")
    if p.current and p.phase != "done":
        parts.append(Path(p.current).name)
    return " · ".join(parts)


def report_content(report: Any, what: str = "Import") -> Content:
    """The end-of-import report: counts, then every failed file with its reason."""
    summary = (f"{what} finished in {report.seconds:.1f} s: {report.added} added, "
               f"{report.updated} updated, {report.unchanged} unchanged (skipped), "
               f"{report.removed} removed, {report.moved} moved, "
               f"{len(report.failed)} failed · {report.chunks_added} new chunks")
    parts: list[str | tuple[str, str]] = [(summary, "bold")]
    if report.failed:
        parts.append(("\n\nFailed files (the rest of the import went on):", "bold $error"))
        for f in report.failed:
            parts.append(("\n  " + short_line(short_path(f.path), 120), "$error"))
            parts.append("\n      " + short_line(f.reason, 300))
    return Content.assemble(*parts)


class ImportUpdate(Message):
    def __init__(self, progress: Any) -> None:
        super().__init__()
        self.progress = progress


class LibraryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings("library")

    def __init__(self) -> None:
        super().__init__(id="library-screen")
        self.cancel: Cancel | None = None
        self.collection: str | None = None
        self.documents: list[Any] = []
        self.collections: list[Any] = []
        self.last_report: Any = None
        self.search_text = ""  # the search the documents are listed for ("": all of them)
        self.matches: dict[str, Any] = {}  # path -> DocumentHit of the listed search

    @property
    def tapp(self) -> Host:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield NavBar("library")
        with Horizontal(id="library-main"):
            with Vertical(id="collections-pane"):
                yield FitLabel(Content.styled("Collections", "bold"), classes="pane-title")
                yield FitTable(COLLECTION_COLUMNS, id="collections")
            with Vertical(id="documents-pane"):
                yield FitLabel(Content.styled("Documents", "bold"), classes="pane-title",
                               id="documents-title")
                yield HintInput(id="document-search", placeholders=SEARCH_HINTS, compact=True)
                yield FitTable(DOCUMENT_COLUMNS, id="documents")
                yield Static("", id="document-detail")
        with Vertical(id="import-panel"):
            with Horizontal(id="import-row"):
                yield PathInput(id="import-path", dirs_only=False, placeholders=IMPORT_HINTS)
                with Horizontal(id="import-options"):
                    yield HintInput(id="import-collection",
                                    placeholders=("Collection (optional)", "Collection"))
                    yield Button("Import", id="import-button", variant="primary",
                                 compact=True)
                    yield Button("Sync all", id="sync-button", compact=True)
            with Horizontal(id="import-progress"):
                yield ProgressBar(total=None, show_eta=False, id="import-bar")
                yield Static("", id="import-status")
                yield Button("Cancel", id="cancel-button", variant="error", compact=True)
            with VerticalScroll(id="import-report"):
                yield Static("", id="import-report-text")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#import-progress").display = False
        self.query_one("#import-report").display = False
        self.query_one("#import-path", Input).focus()
        self.refresh_lists()

    def on_screen_resume(self) -> None:
        self.tapp.refresh_status()
        self.refresh_lists()

    # -- lists -----------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.refresh_lists()

    @work(thread=True, group="library-lists", exclusive=True, exit_on_error=False)
    def refresh_lists(self) -> None:
        from ..backend import one_line

        backend = self.tapp.backend
        backend.library.wait(timeout=30)
        lib = backend.library.value
        if lib is None:
            self.app.call_from_thread(self._show_message,
                                      f"The library is not available: {backend.library.error}",
                                      True)
            return
        collection, search = self.collection, self.search_text
        try:
            collections = lib.collections()
            documents = lib.documents(collection)
            matches = lib.search_documents(search, k=SEARCH_DOCUMENTS, collection=collection,
                                           passages=SEARCH_PASSAGES) if search else None
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._show_message, one_line(exc), True)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._fill, collections, documents, collection, search,
                                      matches)

    def _fill(self, collections: list[Any], documents: list[Any],
              collection: str | None = None, search: str = "",
              matches: list[Any] | None = None) -> None:
        if collection != self.collection or search != self.search_text:
            return  # fetched for a collection or search no longer chosen: a newer one follows
        self.matches = {m.path: m for m in matches or []}
        if matches is not None:  # the found documents, best first
            by_path = {d.path: d for d in documents}
            documents = [by_path[m.path] for m in matches if m.path in by_path]
        self.collections, self.documents = collections, documents
        cols = self.query_one("#collections", FitTable)
        # refilling moves the cursor (to row 0, then back to the selected collection): that
        # is not the teacher picking a collection, which would refresh again, and again
        with cols.prevent(DataTable.RowHighlighted):
            total_docs = sum(c.documents for c in collections)
            total_chunks = sum(c.chunks for c in collections)
            cols.set_rows([(ALL, {"name": wrapping("All documents"), "docs": total_docs,
                                  "chunks": total_chunks})]
                          + [(c.name, {"name": wrapping(c.name), "docs": c.documents,
                                       "chunks": c.chunks}) for c in collections])
            keys = [ALL] + [c.name for c in collections]
            target = self.collection if self.collection in keys else ALL
            cols.move_cursor(row=keys.index(target), animate=False)
        docs = self.query_one("#documents", FitTable)
        docs.set_rows((d.path, document_cells(d)) for d in documents)
        self._show_detail(docs.cursor_row)
        where = "all collections" if self.collection is None else f"“{self.collection}”"
        if search:
            title = (f"{len(documents)} best matches in {safe_line(where)} for "
                     f"“{short_line(search, 60)}” (empty the search box for all)")
        else:
            title = (f"Documents in {safe_line(where)}: {len(documents)}" if documents
                     else "No documents yet: type a folder below and press Enter to import it")
        self.query_one("#documents-title", FitLabel).update(Content.styled(title, "bold"))

    def _show_detail(self, row: int) -> None:
        detail = self.query_one("#document-detail", Static)
        detail.display = bool(self.documents)
        if self.documents:
            doc = self.documents[max(0, min(row, len(self.documents) - 1))]
            match = self.matches.get(doc.path)
            detail.update(document_detail(doc) if match is None else
                          Content.assemble(document_detail(doc), match_detail(match)))

    @on(DataTable.RowHighlighted, "#documents")
    def _on_document(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    @on(DataTable.RowHighlighted, "#collections")
    def _on_collection(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else ALL
        new = None if key == ALL else key
        if new != self.collection:
            self.collection = new
            self.refresh_lists()

    @on(Input.Submitted, "#document-search")
    def _on_search(self, event: Input.Submitted) -> None:
        event.stop()
        self.search_text = event.value.strip()
        self.refresh_lists()

    # -- import and sync -------------------------------------------------------------------
    @on(Input.Submitted, "#import-path")
    @on(Input.Submitted, "#import-collection")
    @on(Button.Pressed, "#import-button")
    def _on_import(self, event: Message) -> None:
        event.stop()
        self.action_import_folder()

    @on(Button.Pressed, "#sync-button")
    def _on_sync(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_sync()

    @on(Button.Pressed, "#cancel-button")
    def _on_cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel_import()

    @property
    def busy(self) -> bool:
        return self.cancel is not None

    def action_import_folder(self) -> None:
        raw = self.query_one("#import-path", Input).value.strip()
        if not raw:
            self.query_one("#import-path", Input).focus()
            self._show_message("Type the folder (or file) to import, then press Enter.")
            return
        path = Path(raw).expanduser()
        if not path.exists():
            self._show_message(f"{path}: no such file or folder; check the path (Tab completes).",
                               True)
            return
        collection = self.query_one("#import-collection", Input).value.strip() or None
        self._start("Import", path, collection)

    def action_sync(self) -> None:
        self._start("Sync", None, None)

    def _start(self, what: str, path: Path | None, collection: str | None) -> None:
        if self.busy:
            self._show_message("An import is running: wait for it or press Esc to cancel it.")
            return
        self.cancel = Cancel()
        self.query_one("#import-progress").display = True
        bar = self.query_one("#import-bar", ProgressBar)
        bar.update(total=None, progress=0)
        self.query_one("#import-status", Static).update(
            Content(f"{what}: starting (the first import loads the embedder)…"))
        self.query_one("#import-report").display = False
        self.run_import(what, path, collection, self.cancel)

    @work(thread=True, group="library-import", exclusive=True, exit_on_error=False)
    def run_import(self, what: str, path: Path | None, collection: str | None,
                   cancel: Cancel) -> None:
        backend = self.tapp.backend
        backend.library.wait(timeout=60)
        lib = backend.library.value
        last = [0.0]

        def progress(p: Any) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or p.phase == "done":
                last[0] = now
                self.post_message(ImportUpdate(p))

        from ..host import LibraryActivity, LibraryState

        self.app.post_message(LibraryActivity(f"Library: {what.lower()} running…"))
        try:
            self._run(what, lib, path, collection, progress, cancel)
        finally:
            # the status bar says what the library holds now, however the run ended
            summary = self.tapp.library_summary() if lib is not None else "Library"
            ready = " · search ready" if backend.embedder.ready else ""
            self.app.post_message(LibraryState(summary + ready))
            self.app.post_message(LibraryActivity(""))

    def _run(self, what: str, lib: Any, path: Path | None, collection: str | None,
             progress: Any, cancel: Cancel) -> None:
        from ..backend import one_line

        try:
            if lib is None:
                raise RuntimeError(self.tapp.backend.library.error or "the library is not open")
            if path is None:
                report = lib.sync(progress=progress, cancel=cancel)
            else:
                report = lib.import_paths([path], collection=collection, progress=progress,
                                          cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - LibraryBusy, LibraryError, OSError...
            self.app.call_from_thread(self._done, what, None, one_line(exc))
        else:
            self.app.call_from_thread(self._done, what, report, None)

    def on_import_update(self, message: ImportUpdate) -> None:
        p = message.progress
        bar = self.query_one("#import-bar", ProgressBar)
        if p.phase == "scan" or not p.files_total:
            bar.update(total=None)
        else:
            bar.update(total=p.files_total, progress=p.files_done)
        self.query_one("#import-status", Static).update(Content(safe_line(progress_line(p))))

    def _done(self, what: str, report: Any, error: str | None) -> None:
        cancelled = self.cancel is not None and self.cancel.is_set
        self.cancel = None
        self.query_one("#import-progress").display = False
        if error:
            self._show_message(f"{what} failed: {error}", True)
        else:
            self.last_report = report
            content = report_content(report, what)
            if cancelled:
                content = Content.assemble(("Cancelled: what was imported is kept.\n", "$warning"),
                                           content)
            self._show_report(content)
            if what == "Import":
                self.query_one("#import-path", Input).value = ""
        self.refresh_lists()

    def action_cancel_import(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self.query_one("#import-status", Static).update(Content("Cancelling…"))

    def _show_report(self, content: Content) -> None:
        self.query_one("#import-report").display = True
        self.query_one("#import-report-text", Static).update(content)

    def _show_message(self, text: str, error: bool = False) -> None:
        self._show_report(Content.styled(safe_text(text), "$error" if error else ""))

    # -- remove ----------------------------------------------------------------------------
    def action_remove_selected(self) -> None:
        from .dialogs import ConfirmDialog

        focused = self.focused
        docs = self.query_one("#documents", DataTable)
        cols = self.query_one("#collections", DataTable)
        if focused is cols and self.collection is not None:
            name = self.collection
            question = (f"Remove the collection “{short_line(name, 60)}” and all its "
                        "documents from the library? (Your files are not touched.)")
            self.app.push_screen(ConfirmDialog(question, confirm="Remove"),
                                 lambda ok: ok and self.remove("collection", name))
            return
        if not self.documents or docs.cursor_row < 0:
            self._show_message("Select a document (or a collection) to remove.")
            return
        doc = self.documents[min(docs.cursor_row, len(self.documents) - 1)]
        name, folder = split_path(doc.path)  # the file's name whole, its folder after it
        question = (f"Remove “{short_line(name, 200)}” (in {short_line(folder, 200)}) from "
                    "the library? (The file itself is not touched.)")
        self.app.push_screen(ConfirmDialog(question, confirm="Remove"),
                             lambda ok: ok and self.remove("document", doc.path))

    @work(thread=True, group="library-import", exclusive=True, exit_on_error=False)
    def remove(self, kind: str, target: str) -> None:
        from ..backend import one_line

        lib = self.tapp.backend.library.value
        try:
            if lib is None:
                raise RuntimeError("the library is not open")
            if kind == "collection":
                n = lib.remove_collection(target)
                msg = f"Removed the collection {safe_line(target)} ({n} documents)."
            else:
                lib.remove_document(target)
                msg = f"Removed {safe_line(short_path(target))}."
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._show_message, f"Could not remove: {one_line(exc)}",
                                      True)
            return
        if kind == "collection":
            self.collection = None
        self.app.call_from_thread(self._show_message, msg)
        self.app.call_from_thread(self.refresh_lists)
