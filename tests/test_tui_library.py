"""Pilot tests of the library screen (fake library behind the Library API)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from teachbot_tui.tui.screens.library import LibraryScreen, progress_line
from teachbot_tui.tui.widgets.path_input import complete_path

from .tui_helpers import FakeLibrary, fake_app, wait_for

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
        assert table_text(cols).splitlines() == ["All documents | 2 | 15", "lessons | 1 | 12",
                                                 "policies | 1 | 3"]
        docs = screen.query_one("#documents", DataTable)
        assert docs.row_count == 2 and "behaviour-plan.md" in table_text(docs)
        # picking a collection filters the documents
        cols.focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: docs.row_count == 1)
        assert "fractions.pdf" in table_text(docs)


async def test_import_folder_with_progress_and_report(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    for name in ("a.md", "b.txt", "broken.bad"):
        (folder / name).write_text("x")
    lib = FakeLibrary.sample()
    lib.import_delay = 0.15
    app = fake_app(tmp_path, library=lib)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        path_input = screen.query_one("#import-path", Input)
        path_input.focus()
        path_input.value = str(folder)
        screen.query_one("#import-collection", Input).value = "year7"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen.query_one("#import-progress").display)
        await wait_for(pilot, lambda: "files" in str(screen.query_one("#import-status").visual))
        await wait_for(pilot, lambda: screen.last_report is not None, timeout=10)
        assert not screen.query_one("#import-progress").display
        report = str(screen.query_one("#import-report-text").visual)
        assert "2 added" in report and "1 failed" in report
        assert "broken.bad" in report and "not a readable document [red]x[/]" in report
        assert lib.calls[-1] == f"import:{folder}:year7"
        await wait_for(pilot, lambda: screen.query_one("#documents", DataTable).row_count == 4)
        assert "Library: 4 documents" in app.status.library_text


async def test_import_of_a_missing_path_says_what_to_do(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        screen.query_one("#import-path", Input).value = str(tmp_path / "nope")
        screen.query_one("#import-path", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "no such file or folder" in str(screen.query_one("#import-report-text").visual)


async def test_cancel_import_keeps_what_was_done(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i:02}.md").write_text("x")
    lib = FakeLibrary.sample()
    lib.import_delay = 0.1
    app = fake_app(tmp_path, library=lib)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        screen.query_one("#import-path", Input).value = str(folder)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "files" in str(screen.query_one("#import-status").visual))
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.last_report is not None, timeout=10)
        assert 0 < screen.last_report.added < 20
        assert "Cancelled" in str(screen.query_one("#import-report-text").visual)


async def test_sync_and_remove(tmp_path: Path) -> None:
    lib = FakeLibrary.sample()
    app = fake_app(tmp_path, library=lib)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_library(pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last_report is not None)
        assert "2 unchanged (skipped)" in str(screen.query_one("#import-report-text").visual)
        docs = screen.query_one("#documents", DataTable)
        docs.focus()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: docs.row_count == 1)
        assert any(c.startswith("remove:") for c in lib.calls)


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
