"""The library screen's document search, over a real library (SQLite, hnswlib, the embedder)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from teachbot_tui.tui.screens.library import LibraryScreen

from .tui_helpers import LESSON_NAME, POLICY_NAME, fake_app, wait_for

SIZE = (120, 40)


async def test_search_lists_the_best_documents_with_their_passages(tmp_path: Path) -> None:
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "trips.md").write_text("# Trips\n\nConsent forms go home two weeks before a "
                                     "trip; [bold]coach[/] seats are counted the day before.\n")
    app = fake_app(tmp_path)
    app.library.import_paths([folder])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        screen = pilot.app.screen
        assert isinstance(screen, LibraryScreen)
        docs = screen.query_one("#documents", DataTable)
        await wait_for(pilot, lambda: docs.row_count == 3)
        search = screen.query_one("#document-search", Input)
        search.focus()
        search.value = "what to do about pupils who keep interrupting lessons"
        await pilot.press("enter")
        title = screen.query_one("#documents-title")
        await wait_for(pilot, lambda: "best matches" in str(title.visual), timeout=30)
        assert str(title.visual).startswith("3 best matches in all collections for “what")
        # the best document first, its best passages under the table
        assert Path(screen.documents[0].path).name == POLICY_NAME
        assert POLICY_NAME in str(docs.get_row_at(0)[0])
        detail = str(screen.query_one("#document-detail").visual)
        assert POLICY_NAME in detail and detail.count("\n") >= 1
        # a passage's text is shown literally, never as markup
        search.value = "consent forms for a coach trip"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.documents
                       and Path(screen.documents[0].path).name == "trips.md", timeout=30)
        await wait_for(pilot, lambda: "[bold]coach[/]" in str(
            screen.query_one("#document-detail").visual))
        # an empty search lists every document again
        search.value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Documents in all collections: 3"
                       in str(title.visual))
        assert {Path(d.path).name for d in screen.documents} == {POLICY_NAME, LESSON_NAME,
                                                                   "trips.md"}
