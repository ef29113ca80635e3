"""The Practice screen (F5) with a fake model that answers JSON when a schema is set: pick a
scenario, role-play, evaluate, see feedback and progress, mark the ideal response."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, OptionList, Select, Static

from teachbot_tui.config import Settings
from teachbot_tui.paths import Paths
from teachbot_tui.practice.results import PracticeStore
from teachbot_tui.tui.screens.practice import PracticeScreen
from teachbot_tui.tui.screens.practice_views import BLOCKS, column_chart

from .fakes import JsonFakeEngine
from .tui_helpers import fake_app, wait_for

SIZE = (140, 45)


def practice_app(tmp_path: Path, **kw: object) -> object:
    app = fake_app(tmp_path, **kw)
    engine = JsonFakeEngine("Um... I guess I could try.")
    app.fake_engine = engine  # type: ignore[attr-defined]
    app.backend.engine_factory = lambda settings, progress: engine  # type: ignore[attr-defined]
    return app


def _text(widget: Static) -> str:
    return str(widget.visual)


async def test_session_evaluate_progress_and_ideal(tmp_path: Path) -> None:
    app = practice_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:  # type: ignore[attr-defined]
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PracticeScreen))
        screen = app.screen
        assert isinstance(screen, PracticeScreen)
        options = screen.query_one("#scenario-list", OptionList)
        assert options.option_count >= 30
        # filter by grade band
        screen.query_one("#filter-grade", Select).value = "K-2"
        await pilot.pause()
        assert 0 < options.option_count < 30
        assert all(s.grade_band == "K-2" for s in screen.filtered())
        screen.query_one("#filter-grade", Select).clear()
        await pilot.pause()
        options.highlighted = next(i for i, s in enumerate(screen.filtered())
                                   if s.id == "shy-student-speaking-up")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.session is not None)
        assert "speaking up" in _text(screen.query_one("#practice-card", Static)).lower()
        assert len(screen.chat.children) == 1  # the student speaks first
        reply = screen.query_one("#practice-reply", Input)
        assert reply.has_focus
        await pilot.press(*"Take your time Mei", "enter")
        await wait_for(pilot, lambda: screen.job is None and len(screen.chat.children) == 3)
        assert "I guess I could try" in _text(screen.chat.children[-1])  # type: ignore[arg-type]
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: screen.evaluation is not None and screen.job is None)
        table = screen.query_one("#feedback-table", DataTable)
        assert table.row_count == 4
        body = _text(screen.query_one("#feedback-body", Static))
        assert "Strengths" in body and "Model response" in body
        # the signals found, each with the trainee's sentence that triggered it
        assert "Signals found" in body and "gives a next step: \u201cTake your time Mei" in body
        assert "From your library" in body  # the fake library's passage is cited
        # stored, and shown in progress
        assert screen.progress_data is not None and screen.progress_data["evaluated"] == 1
        await pilot.press("ctrl+g")
        await pilot.pause()
        chart = _text(screen.query_one("#progress-chart", Static))
        assert "100%" in chart and any(block in chart for block in BLOCKS[1:])
        assert screen.query_one("#progress-table", DataTable).row_count >= 5
        # mark the ideal response
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog_input = app.screen.query_one("#dialog-input", Input)
        dialog_input.value = "Give Mei time, then invite her to share."
        await pilot.press("enter")
        await pilot.pause()
        assert screen.session is not None
        assert screen.session.ideal_response == "Give Mei time, then invite her to share."
    store = PracticeStore(Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache"))
    stored = store.get(store.list()[0].id)
    assert stored.session.ideal_response == "Give Mei time, then invite her to share."
    assert stored.evaluation is not None and len(stored.session.turns) == 3
    store.close()


async def test_evaluate_needs_an_answer_and_model_errors_are_one_line(tmp_path: Path) -> None:
    app = fake_app(tmp_path, engine_error="no model file")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PracticeScreen))
        screen = app.screen
        await pilot.press("ctrl+e")  # nothing to evaluate yet: a notice, no crash
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.session is not None)
        await pilot.press(*"hello", "enter")
        await wait_for(pilot, lambda: screen.job is None and "could not be loaded" in
                       _text(screen.query_one("#practice-notice", Static)))


async def test_scenario_text_is_shown_literally(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    src = (Path(__file__).parent / "data" / "scenarios" / "valid-minimal.yaml").read_text()
    import yaml

    obj = yaml.safe_load(src)
    obj["id"] = "hostile-markup"
    obj["title"] = "[bold red]Boom[/] \x1b[31mred"
    obj["situation"] = "A [link=http://x]link[/link] and [@click=app.quit]quit[/]."
    (folder / "hostile.yaml").write_text(yaml.safe_dump(obj), encoding="utf-8")
    app = practice_app(tmp_path, settings=Settings(scenario_dir=str(folder)))
    async with app.run_test(size=SIZE) as pilot:  # type: ignore[attr-defined]
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PracticeScreen))
        screen = app.screen
        scenario = screen.scenario_by_id("hostile-markup")
        assert scenario is not None
        await pilot.pause()
        options = screen.query_one("#scenario-list", OptionList)
        options.highlighted = [s.id for s in screen.filtered()].index("hostile-markup")
        await wait_for(pilot, lambda: "Boom" in _text(screen.query_one("#practice-card",
                                                                        Static)))
        card = _text(screen.query_one("#practice-card", Static))
        assert "[bold red]Boom[/]" in card and "␛[31m" in card
        assert "[@click=app.quit]quit[/]" in card
        assert app.is_running


def test_column_chart_shape() -> None:
    rows = column_chart([0.0, 0.5, 1.0], height=4)
    assert len(rows) == 5 and rows[0].startswith("100%")
    assert rows[-1].strip().startswith("0%")
    assert rows[0].endswith("██")  # the newest (1.0) reaches the top
