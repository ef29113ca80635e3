"""Pilot tests of the library screen over a real library (SQLite, hnswlib, the embedder)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input

from teachbot_tui.library import Library
from teachbot_tui.tui.host import LibraryState
from teachbot_tui.tui.screens.library import LibraryScreen, progress_line
from teachbot_tui.tui.widgets.path_input import complete_path
from teachbot_tui.tui.widgets.status import StatusBar

from .tui_helpers import LESSON_NAME, POLICY_NAME, fake_app, real_library, wait_for

SIZE = (120, 40)


async def open_library(pilot) -> LibraryScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f3")
    screen = pilot.app.screen
    assert isinstance(screen, LibraryScreen)
    await wait_for(pilot, lambda: screen.query_one("#documents", DataTable).row_count > 0)
    return screen


def table_text(table: DataTable) -> str:
    return "\n".join(" | ".join(str(c) for c in table.get_row_at(i))
                     for i in range(table.row_count))


async def test_lists_collections_and_documents_with_counts(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        cols = screen.query_one("#collections", DataTable)
        chunks = {c.name: c.chunks for c in app.library.collections()}
        assert table_text(cols).splitlines() == [
            f"All documents | 2 | {sum(chunks.values())}", f"lessons | 1 | {chunks['lessons']}",
            f"policies | 1 | {chunks['policies']}"]
        docs = screen.query_one("#documents", DataTable)
        # the file name first, then its folder
        assert docs.row_count == 2 and table_text(docs).count(POLICY_NAME) == 1
        assert [str(c.label) for c in docs.ordered_columns][:2] == ["Document", "Folder"]
        # picking a collection filters the documents
        cols.focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: docs.row_count == 1)
        assert LESSON_NAME in table_text(docs)
        assert LESSON_NAME in str(screen.query_one("#document-detail").visual)


async def test_import_folder_with_progress_and_report(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "a.md").write_text("# Seating plans\n\nSeat talkative pairs apart.")
    (folder / "b.txt").write_text("Exit tickets: three questions at the end of a lesson.")
    (folder / "broken.pdf").write_bytes(b"this is not a PDF [red]x[/]")
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        path_input = screen.query_one("#import-path", Input)
        path_input.focus()
        path_input.value = str(folder)
        screen.query_one("#import-collection", Input).value = "year7"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen.last_report is not None, timeout=60)
        assert "files" in str(screen.query_one("#import-status").visual)  # progress shown
        assert not screen.query_one("#import-progress").display
        report = str(screen.query_one("#import-report-text").visual)
        assert "2 added" in report and "1 failed" in report and "broken.pdf" in report
        assert {Path(d.path).name for d in app.library.documents("year7")} == {"a.md", "b.txt"}
        await wait_for(pilot, lambda: screen.query_one("#documents", DataTable).row_count == 4)
        # the status bar follows once the import's worker has said what the library holds
        bar = screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "running" not in bar.text)
        assert "Library: 4 documents" in bar.text


async def test_import_of_a_missing_path_says_what_to_do(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        screen.query_one("#import-path", Input).value = str(tmp_path / "nope")
        screen.query_one("#import-path", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "no such file or folder" in str(screen.query_one("#import-report-text").visual)


class GatedLibrary(Library):
    """The real library, held at its third file until the import is cancelled, so Escape
    arrives mid-import however fast the machine is."""

    def import_paths(self, paths: Any, collection: Any = None, progress: Any = None,
                     cancel: Any = None) -> Any:
        started: list[str] = []

        def gated(p: Any) -> None:
            if progress is not None:
                progress(p)
            if p.current:
                started.append(p.current)
            if len(started) == 3 and cancel is not None:
                deadline = time.monotonic() + 20
                while not cancel.is_set and time.monotonic() < deadline:
                    time.sleep(0.01)

        return super().import_paths(paths, collection, gated, cancel)


async def test_cancel_import_keeps_what_was_done(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i:02}.md").write_text(f"Lesson {i}: a short note about seating plans.")
    lib = real_library(tmp_path, cls=GatedLibrary)
    app = fake_app(tmp_path, library=lib)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        screen.query_one("#import-path", Input).value = str(folder)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "files" in str(screen.query_one("#import-status").visual),
                       timeout=30)
        # the status bar, seen from every screen, says an import is under way, also when
        # the start-up load reports the library late (it may finish after an import began)
        bar = screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "Library: import running…" in bar.text)
        app.post_message(LibraryState("Library: 2 documents in 2 collections · search ready"))
        await pilot.pause()
        assert bar.text.endswith("Library: import running…")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.last_report is not None, timeout=30)
        assert 0 < screen.last_report.added < 20
        # and after a cancelled import, what the library holds now
        await wait_for(pilot, lambda: "running" not in bar.text)
        assert f"Library: {2 + screen.last_report.added} documents" in bar.text
        assert "Cancelled" in str(screen.query_one("#import-report-text").visual)
        kept = [d for d in lib.documents() if Path(d.path).parent == folder]
        assert len(kept) == screen.last_report.added


async def test_sync_and_remove(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last_report is not None, timeout=30)
        assert "2 unchanged (skipped)" in str(screen.query_one("#import-report-text").visual)
        docs = screen.query_one("#documents", DataTable)
        docs.focus()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: docs.row_count == 1)
        assert len(app.library.documents()) == 1


async def test_path_completion(tmp_path: Path) -> None:
    (tmp_path / "lesson-plans").mkdir()
    (tmp_path / "lesson-notes.md").write_text("x")
    (tmp_path / ".hidden").mkdir()
    base = str(tmp_path) + "/"
    assert complete_path(base + "lesson-p") == base + "lesson-plans/"
    assert complete_path(base + "les") == base + "lesson-"
    assert complete_path(base + "x") is None
    assert complete_path(base + "lesson-", dirs_only=True) == base + "lesson-plans/"
    assert complete_path(base + ".h") == base + ".hidden/"
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        box = screen.query_one("#import-path", Input)
        box.focus()
        box.value = base + "lesson-p"
        box.cursor_position = len(box.value)
        await pilot.pause(0.2)
        await pilot.press("tab")
        assert box.value == base + "lesson-plans/"


def test_progress_line() -> None:
    from teachbot_tui.library.types import ImportProgress

    line = progress_line(ImportProgress("import", 3, 10, 40, 12.5, 7.2, "/a/b/plan.pdf"))
    assert line == "3/10 files · 40 chunks · 12 chunks/s · ETA 7 s · plan.pdf"
