"""Every screen lays out for the width it has: at 80x24, 100x30 and 160x48 no text is laid
out wider than the part of the screen that shows it, nor cut off at the bottom of a box
that does not scroll; side panes make way on narrow terminals, toggle with a key and come
back on wide ones; titles are shortened at a word, the full text one key (or hover) away."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TabbedContent

from teachbot_tui.tui.host import width_class
from teachbot_tui.tui.screens.chat import ChatScreen
from teachbot_tui.tui.screens.practice import PracticeScreen
from teachbot_tui.tui.text import fitting, short_line, shorten
from teachbot_tui.tui.widgets.fit import FitLabel, hint_wordings
from teachbot_tui.tui.widgets.prompt import PromptArea
from teachbot_tui.tui.widgets.sources import source_content
from teachbot_tui.tui.widgets.tables import Col, FitTable, plan_columns

from .fakes import JsonFakeEngine
from .tui_helpers import (
    LONG_TITLE,
    POLICY_DIR,
    POLICY_NAME,
    add_conversations,
    clipped_text,
    fake_app,
    open_practice,
    policy_path,
    wait_for,
)

SIZES = [(80, 24), (100, 30), (160, 48)]


def practice_app(tmp_path: Path) -> object:
    app = fake_app(tmp_path)
    engine = JsonFakeEngine("Um... I guess I could try, if you help me start.")
    app.backend.engine_factory = lambda settings, progress: engine  # type: ignore[attr-defined]
    return app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_text_is_wider_than_its_pane(tmp_path: Path, size: tuple[int, int]) -> None:
    add_conversations(tmp_path)
    app = practice_app(tmp_path)
    seen: dict[str, list[str]] = {}

    async def check(name: str) -> None:
        await pilot.pause(0.3)  # let the last resize and re-fit land
        seen[name] = clipped_text(app.screen)
        # a layout still settling on a busy machine gets a few more looks; one that stays
        # clipped fails
        for _ in range(3):
            if not seen[name]:
                break
            await pilot.pause(1.0)
            seen[name] = clipped_text(app.screen)

    async with app.run_test(size=size) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.backend.engine.done and app.backend.library.done,
                       timeout=30)
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        await check("chat, new conversation")
        conv = next(c for c in app.backend.store.list() if c.title == LONG_TITLE)
        await chat.resume(conv.id)
        await check("chat, a conversation with a long title and sources")
        chat.action_focus_conversations()
        await check("chat, the conversation list shown")
        chat.views()[-1].sources_list.focus()
        await check("chat, an answer's sources focused (the footer's longest row of keys)")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not chat
                       and str(app.screen.query_one("#passage-chunk").visual) != "")
        await check("the passage of a source")
        await pilot.press("escape")
        await pilot.press("f1")
        await check("help")
        await pilot.press("escape")
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.query_one("#documents").row_count == 2)
        await check("library")
        await pilot.press("f4")
        await check("models & settings")
        practice = await open_practice(pilot)
        await check("practice, a scenario card")
        await practice.action_start_session()
        await practice.send("Mei, take your time: tell me the first step you would try.")
        await wait_for(pilot, lambda: practice.job is None and len(practice.chat.children) == 3)
        await check("practice, a session with the student's lines")
        practice.action_evaluate()
        await wait_for(pilot, lambda: practice.evaluation is not None and practice.job is None,
                       timeout=30)
        await pilot.pause(0.2)
        assert practice.query_one(TabbedContent).active == "tab-feedback"
        await check("practice, the feedback")
        practice.action_show_progress()
        await pilot.pause(0.2)
        assert practice.query_one(TabbedContent).active == "tab-progress"
        await check("practice, the progress")
        practice.query_one(TabbedContent).active = "tab-session"
        practice.action_toggle_scenarios()
        await check("practice, the scenario list toggled")
    assert len(seen) == 13
    assert {name: found for name, found in seen.items() if found} == {}


async def test_side_panes_make_way_toggle_and_come_back(tmp_path: Path) -> None:
    add_conversations(tmp_path)
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        sidebar = chat.query_one("#sidebar")
        assert "-narrow" in chat.classes and not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert "-wide" in chat.classes and sidebar.display  # back on a wide terminal
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not sidebar.display
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert sidebar.display
        # practice: the scenario list, the same way
        await pilot.resize_terminal(80, 24)
        await pilot.press("f5")
        practice = app.screen
        assert isinstance(practice, PracticeScreen)
        await pilot.pause()
        left = practice.query_one("#practice-left")
        assert "-narrow" in practice.classes and not left.display
        assert practice.query_one("#practice-reply", Input).has_focus
        await pilot.press("ctrl+b")
        assert left.display and practice.query_one("#scenario-list", OptionList).has_focus
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert left.display
        # a screen in the background follows the terminal's size too
        await pilot.press("f2")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert "-narrow" in practice.classes and "-wide" not in practice.classes
        assert not left.display


async def test_long_titles_are_shortened_at_a_word_with_the_full_text_at_hand(
        tmp_path: Path) -> None:
    add_conversations(tmp_path)
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        await pilot.press("ctrl+l")
        listing = chat.query_one("#conversations", OptionList)
        await pilot.pause()
        lines = [str(listing.get_option_at_index(i).prompt) for i in
                 range(listing.option_count)]
        long_line = next(line for line in lines if line.startswith("My Year 7"))
        assert long_line.endswith("…") and LONG_TITLE.startswith(long_line[:-1])
        assert LONG_TITLE[len(long_line) - 1] == " "  # cut at a word boundary
        listing.highlighted = lines.index(long_line)
        await pilot.pause()
        assert listing.tooltip == LONG_TITLE
        await pilot.press("enter")
        await wait_for(pilot, lambda: chat.conversation_id is not None)
        title = chat.query_one("#conversation-title", FitLabel)
        await pilot.pause()
        assert title.full_text == LONG_TITLE and title.tooltip == LONG_TITLE
        assert title.shown_text.endswith("…") and len(title.shown_text) <= title.size.width
        await pilot.press("ctrl+t")  # the rename dialog holds the whole title
        await pilot.pause()
        assert app.screen.query_one("#dialog-input", Input).value == LONG_TITLE


def test_shorten_cuts_at_a_word() -> None:
    text = "My Year 7 class gets noisy after lunch"
    assert shorten(text, 100) == text
    assert shorten(text, 20) == "My Year 7 class…"
    assert shorten(text, 16) == "My Year 7 class…"
    assert shorten(text, 15) == "My Year 7…"
    assert shorten("unbreakable-file-name.md", 10) == "unbreakab…"
    assert shorten("日本語の文章です", 7) == "日本語…"
    assert shorten(text, 0) == ""
    assert fitting(("a long wording", "short"), 8) == "short"
    assert fitting(("a long wording", "shorter one"), 8) == "shorter…"
    assert hint_wordings("path to a file (Tab completes)") == ("path to a file (Tab completes)",
                                                              "path to a file")
    assert short_line("everyone has something\nto do as soon as they sit", 33) == (
        "everyone has something to do as…")
    # an answer's source: the passage's opening is cut at a word, not inside one
    snippet = "Greet each student by name and give a short starter task so that"
    shown = source_content({"n": 1, "path": "/a/b.md", "snippet": snippet}, 50).plain
    assert shown.endswith("\n    Greet each student by name and give a short…")


async def test_the_remove_question_names_the_whole_file(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        library = app.screen
        docs = library.query_one("#documents", FitTable)
        await wait_for(pilot, lambda: docs.row_count == 2, timeout=30)
        docs.focus()
        docs.move_cursor(row=[d.path for d in library.documents].index(str(policy_path())))
        await pilot.press("delete")
        await wait_for(pilot, lambda: app.screen is not library)
        question = str(app.screen.query_one(".dialog-title", Static).visual)
        assert f"“{POLICY_NAME}” (in " in question and POLICY_DIR.split("/")[-1] in question
        assert clipped_text(app.screen) == []
        await pilot.press("escape")


def test_columns_leave_out_the_least_useful_first() -> None:
    cols = (Col("name", "Name", 10, weight=2, priority=100), Col("when", "When", 10, priority=1),
            Col("size", "Size", 6, priority=50), Col("folder", "Folder", 10, weight=1,
                                                     priority=60))
    wide = plan_columns(cols, 100)
    assert [c.key for c, _ in wide] == ["name", "when", "size", "folder"]
    assert sum(w + 2 for _, w in wide) == 100
    narrow = plan_columns(cols, 40)
    assert [c.key for c, _ in narrow] == ["name", "size", "folder"]
    assert sum(w + 2 for _, w in narrow) <= 40
    assert [c.key for c, _ in plan_columns(cols, 5)] == ["name"]
    assert width_class(80) == "-narrow" and width_class(100) == "-medium"
    assert width_class(160) == "-wide"
    assert issubclass(FitTable, object)


async def test_the_conversation_follows_the_newest_line_and_never_hangs_under_a_gap(
        tmp_path: Path) -> None:
    """A reply keeps the log scrolled to its newest line; when the terminal grows taller
    than the conversation, the conversation starts at the top (no empty band above it)."""
    reply = " ".join(["Greet each student at the door and give a short starter task [1]."] * 20)
    app = fake_app(tmp_path, reply=reply)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.backend.engine.done and app.backend.library.done,
                       timeout=30)
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        chat.query_one("#prompt", PromptArea).text = "How do I settle a class after lunch?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: chat.job is None and len(chat.views()) == 2, timeout=30)
        await pilot.pause(0.3)
        log = chat.messages
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y  # the newest line
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.5)
        first = chat.views()[0]
        assert log.max_scroll_y == 0 and log.scroll_y == 0
        assert first.region.y - log.content_region.y <= first.styles.margin.top
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.5)
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
        await chat.action_new_conversation()  # a new conversation's hint starts at the top
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.5)
        hint = chat.query_one("#empty-state")
        assert log.scroll_y == 0 and hint.region.y == log.content_region.y


async def test_the_practice_card_is_whole_on_a_tall_terminal_and_scrolls_on_a_short_one(
        tmp_path: Path) -> None:
    app = practice_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:  # type: ignore[attr-defined]
        practice = await open_practice(pilot)
        await practice.action_start_session()
        await pilot.pause(0.3)
        card = practice.query_one("#practice-card-scroll")
        assert card.max_scroll_y == 0  # the whole card, with room left for the role-play
        assert practice.chat.region.height >= 12
        filters = [practice.query_one(f"#filter-{name}") for name in ("grade", "category")]
        assert [f.region.height for f in filters] == [1, 1]  # one filter a line, in full
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.5)
        assert card.region.height >= 7 and card.max_scroll_y > 0  # the rest scrolls
        card.focus()
        await pilot.press("end")  # the keyboard reaches the rest of the card
        await wait_for(pilot, lambda: card.scroll_y == card.max_scroll_y)
        student = practice.chat.children[0]  # the student's first line, in full
        assert student.region.height >= 1
        assert practice.chat.region.contains_region(student.region)


async def test_the_feedback_scrolls_as_a_whole_at_80x24(tmp_path: Path) -> None:
    """After the evaluation the Feedback tab takes the keys; PageDown and End go through
    the whole feedback (the table is as tall as its rows, not a box scrolling inside)."""
    app = practice_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:  # type: ignore[attr-defined]
        practice = await open_practice(pilot)
        await practice.action_start_session()
        await practice.send("Mei, take your time: tell me the first step you would try.")
        await wait_for(pilot, lambda: practice.job is None and len(practice.chat.children) == 3)
        practice.action_evaluate()
        await wait_for(pilot, lambda: practice.evaluation is not None and practice.job is None,
                       timeout=30)
        await pilot.pause(0.3)
        scroll = practice.query_one("#feedback-scroll")
        table = practice.query_one("#feedback-table", FitTable)
        assert app.focused is scroll and scroll.max_scroll_y > 0
        assert table.max_scroll_y == 0 and table.row_count >= 3
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: scroll.scroll_y > 0)
        await pilot.press("end")
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y)
