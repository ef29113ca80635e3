"""Pilot tests of the chat screen, with a fake engine and library behind the real interfaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown

from teachbot_tui.conversations import ConversationStore
from teachbot_tui.tui.screens.chat import WAITING_FOR_MODEL, ChatScreen
from teachbot_tui.tui.screens.passage import PassageScreen
from teachbot_tui.tui.widgets.conversations import ConversationList
from teachbot_tui.tui.widgets.message import MessageView, code_blocks
from teachbot_tui.tui.widgets.prompt import PromptArea
from teachbot_tui.tui.widgets.sources import SourcesList
from teachbot_tui.tui.widgets.status import StatusBar

from .tui_helpers import CHUNK, POLICY_NAME, fake_app, policy_path, wait_for

SIZE = (120, 40)
LONG = " ".join(f"word{i}" for i in range(200))
Q1 = "How do I calm a student who disrupts class?"
Q2 = "And how do I praise the first improvement in that lesson?"


def chat(app) -> ChatScreen:  # type: ignore[no-untyped-def]
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def ask(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    screen = chat(pilot.app)
    await wait_for(pilot, lambda: screen.job is None)
    screen.query_one(PromptArea).load_text(text)
    screen.query_one(PromptArea).focus()
    await pilot.press("enter")


async def answered(pilot, n: int = 2) -> list[MessageView]:  # type: ignore[no-untyped-def]
    screen = chat(pilot.app)
    await wait_for(pilot, lambda: screen.job is None and len(screen.views()) == n)
    return screen.views()


def stored(tmp_path: Path):  # type: ignore[no-untyped-def]
    from teachbot_tui.paths import Paths

    store = ConversationStore(Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache"))
    try:
        return [store.get(c.id) for c in store.list()]
    finally:
        store.close()


async def test_question_is_streamed_with_sources_and_saved(tmp_path: Path, monkeypatch) -> None:
    writes: list[str] = []
    real_get_stream = Markdown.get_stream

    def spy(markdown):  # type: ignore[no-untyped-def]
        stream = real_get_stream(markdown)
        real_write = stream.write

        async def write(fragment: str) -> None:
            writes.append(fragment)
            await real_write(fragment)

        stream.write = write  # type: ignore[method-assign]
        return stream

    monkeypatch.setattr(Markdown, "get_stream", staticmethod(spy))
    app = fake_app(tmp_path, reply="Speak privately and agree a signal [1].")
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How do I handle a student who disrupts class?")
        user, reply = await answered(pilot)
        assert user.role == "user" and reply.role == "assistant"
        assert reply.status == "complete"
        assert reply.text == "Speak privately and agree a signal [1]."
        # streamed piece by piece through Markdown's stream (the final full stop waits for
        # the end, in case a citation goes before it), then rendered in full once
        assert writes == ["Speak", " privately", " and", " agree", " a", " signal", " [1]", "."]
        assert "".join(writes) == reply.text
        assert reply.markdown.source == reply.text
        # numbered sources with file, page, heading and snippet
        assert reply.sources_list.display
        src = reply.sources[0]
        assert src["n"] == 1 and src["page"] is None and "Behaviour plan" in src["heading"]
        assert src["path"] == str(policy_path()) and src["cited"] is True
        assert all(not s["cited"] for s in reply.sources[1:])  # only [1] is cited
        option = str(reply.sources_list.get_option_at_index(0).prompt)
        assert option.startswith(f"[1] {POLICY_NAME} · ")  # the file name before its folder
        assert CHUNK[:30] in option
        # the real Assistant sent the passages, fenced, before the question
        sent = app.fake_engine.calls[-1][-1]["content"]
        assert "<<<PASSAGE [1]" in sent and CHUNK in sent
        assert sent.endswith("My question: How do I handle a student who disrupts class?")
        # the conversation is listed and stored
        assert chat(app).query_one(ConversationList).option_count == 1
    (conv,) = stored(tmp_path)
    assert conv.title == "How do I handle a student who disrupts class?"
    assert [(m.role, m.status) for m in conv.messages] == [("user", "complete"),
                                                             ("assistant", "complete")]
    assert conv.messages[1].sources[0]["chunk_id"] == src["chunk_id"]


async def test_an_answer_with_many_sources_stays_in_view_at_80x24(tmp_path: Path) -> None:
    from teachbot_tui.tui.widgets.log import MessageLog

    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(6):
        (folder / f"club{i}.md").write_text(f"# Club {i}\n\nThe lunchtime club {i} meets in "
                                            f"room B{i} and seats pupils in pairs for plans.")
    app = fake_app(tmp_path, reply="Club 1 meets in room B1 [1]. Pupils sit in pairs. "
                                   "Bring the seating plan. Ask the office for the key.")
    app.library.import_paths([folder])
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, "Where does the lunchtime club meet, and how are pupils seated?")
        _, reply = await answered(pilot)
        assert len(reply.sources) >= 4
        await pilot.pause(0.3)
        # the answer is on screen below the question, above its sources (which scroll)
        log = chat(app).query_one(MessageLog).region
        body = reply.query_one(".body").region
        assert body.height >= 2 and body.intersection(log) == body, (body, log)


async def test_escape_stops_and_keeps_partial_reply(tmp_path: Path) -> None:
    app = fake_app(tmp_path, reply=LONG, delay=0.02)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Tell me everything about a student who disrupts class")
        screen = chat(app)
        await wait_for(pilot, lambda: screen.job is not None and len(screen.job.text) > 30)
        await pilot.press("escape")
        _, reply = await answered(pilot)
        assert reply.status == "stopped"
        assert 30 < len(reply.text) < len(LONG)
        assert "stopped" in str(reply.query_one(".header").visual)
    msg = stored(tmp_path)[0].messages[1]
    assert msg.status == "stopped" and msg.content and LONG.startswith(msg.content)


async def test_partial_reply_is_saved_while_streaming(tmp_path: Path) -> None:
    app = fake_app(tmp_path, reply=LONG, delay=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Stream please")
        screen = chat(app)
        import sqlite3

        def stored() -> tuple[str, str] | None:
            # read the database directly (opening a ConversationStore would mark it interrupted)
            con = sqlite3.connect(tmp_path / "data" / "teachbot.db")
            try:
                return con.execute(
                    "SELECT status, content FROM messages WHERE role='assistant'").fetchone()
            finally:
                con.close()

        # the partial reply reaches the database while the reply is still streaming
        await wait_for(pilot, lambda: (row := stored()) is not None and len(row[1]) > 0,
                       timeout=60)
        status, content = stored() or ("", "")
        assert status == "streaming" and screen.job is not None and not screen.job.finished
        assert screen.job.text.startswith(content)
        await pilot.press("escape")
        await answered(pilot)


async def test_question_typed_before_model_is_ready_waits(tmp_path: Path) -> None:
    app = fake_app(tmp_path, engine_delay=1.5)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        assert screen.query_one(PromptArea).has_focus  # usable at once
        await ask(pilot, "Are you there?")
        await wait_for(pilot, lambda: len(screen.views()) == 2)
        reply = screen.views()[1]
        await pilot.pause(0.1)
        assert WAITING_FOR_MODEL in str(reply.query_one(".notice").visual)
        # the model starts loading LOAD_DELAY_S after the first paint: a fast app may have
        # taken the question before that
        await wait_for(pilot, lambda: "loading" in app.status.model_text, timeout=5)
        await wait_for(pilot, lambda: screen.job is None, timeout=10)
        assert reply.status == "complete" and reply.text
        assert "ready" in screen.query_one(StatusBar).text


async def test_model_error_is_one_line_and_keeps_the_question(tmp_path: Path) -> None:
    app = fake_app(tmp_path, engine_error="model.gguf: not a GGUF file; pick another model")
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Hello?")
        _, reply = await answered(pilot)
        assert reply.status == "error"
        notice = str(reply.query_one(".notice").visual)
        assert "not a GGUF file" in notice and "\n" not in notice.strip()
        assert app.status.model_state == "error"
    conv = stored(tmp_path)[0]
    assert conv.messages[0].content == "Hello?"
    assert conv.messages[1].status == "error"


async def test_history_and_regenerate(tmp_path: Path) -> None:
    written = "First answer [1]. <<<END PASSAGE [1]>>>"  # the app takes the echo out
    replies = iter([written, "Second answer.", "Regenerated answer."])
    app = fake_app(tmp_path, reply=lambda messages: next(replies))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, Q1)
        await answered(pilot, 2)
        await ask(pilot, Q2)
        await answered(pilot, 4)
        # the second question was sent with the first exchange as history, the first
        # question exactly as it was sent (a stable prefix for the model's cache)
        first_call, last_call = app.fake_engine.calls[0], app.fake_engine.calls[-1]
        assert [m["role"] for m in last_call] == ["system", "user", "assistant", "user"]
        assert last_call[1] == first_call[-1] and last_call[1]["content"].endswith(Q1)
        assert last_call[2]["content"] == written  # the reply as the model wrote it
        await pilot.press("ctrl+r")
        views = await answered(pilot, 4)
        assert views[-1].text == "Regenerated answer."
        again = app.fake_engine.calls[-1]
        assert again[1:3] == last_call[1:3] and again[3]["content"].endswith(Q2)
    conv = stored(tmp_path)[0]
    assert [m.content.strip() for m in conv.messages] == [Q1, "First answer [1].", Q2,
                                                           "Regenerated answer."]
    assert conv.messages[1].sent == written


async def test_newline_key_and_enter_sends(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        prompt = chat(app).query_one(PromptArea)
        await pilot.press("l", "i", "n", "e", "1", "ctrl+j", "l", "i", "n", "e", "2")
        assert prompt.text == "line1\nline2"
        await pilot.press("enter")
        user, _ = await answered(pilot)
        assert user.text == "line1\nline2" and prompt.text == ""


async def test_copy_message_and_code_block(tmp_path: Path) -> None:
    reply = "Try this:\n\n```python\nprint('hi')\n```\n\nand [1]."
    app = fake_app(tmp_path, reply=reply)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Code for a signal when a student disrupts class?")
        _, answer = await answered(pilot)
        answer.focus()
        await pilot.press("k")
        assert app.clipboard == "print('hi')"
        await pilot.press("c")
        assert app.clipboard == answer.text and answer.text.endswith(reply)
        await pilot.press("up")
        assert chat(app).views()[0].has_focus
        await pilot.press("c")
        assert app.clipboard == "Code for a signal when a student disrupts class?"
    assert code_blocks("a\n~~~\nx\n~~~\n```\ny\n```") == ["x", "y"]


async def test_sources_key_opens_the_passage(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What do I do when a student disrupts class?")
        await answered(pilot)
        await pilot.press("ctrl+o")
        assert isinstance(app.focused, SourcesList)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PassageScreen))
        passage = app.screen
        await wait_for(pilot, lambda: str(passage.query_one("#passage-chunk").visual) != "")
        chunk = str(passage.query_one("#passage-chunk").visual)
        assert CHUNK in chunk
        whole = "".join(str(passage.query_one(f"#passage-{part}").visual)
                        for part in ("before", "chunk", "after"))
        assert "Behaviour plan for Year 7" in whole and "Follow up with the family" in whole
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_no_relevant_documents_is_shown(tmp_path: Path) -> None:
    app = fake_app(tmp_path, reply="General advice.")
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "nothing matches this")
        _, reply = await answered(pilot)
        assert not reply.sources and reply.no_context
        assert reply.query_one(".no-context").display
        assert "No relevant documents found" in str(reply.query_one(".no-context").visual)
        await pilot.press("ctrl+o")  # says so instead of failing
        await pilot.pause()
        assert any("No relevant documents were found" in str(n.message)
                   for n in app._notifications)
        assert isinstance(app.screen, ChatScreen)


async def test_conversations_new_resume_rename_delete_export(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await ask(pilot, "First conversation")
        await answered(pilot)
        first_id = screen.conversation_id
        await pilot.press("ctrl+n")
        assert screen.conversation_id is None and not screen.views()
        await ask(pilot, "Second conversation")
        await answered(pilot)
        listing = screen.query_one(ConversationList)
        assert listing.option_count == 2
        # resume the first from the sidebar
        listing.focus()
        listing.highlighted = listing.ids.index(first_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.conversation_id == first_id)
        assert [v.text for v in screen.views()][0] == "First conversation"
        # rename (sidebar key r) and export (ctrl+s)
        listing.focus()
        await pilot.press("r")
        await pilot.pause()
        dialog_input = app.screen.query_one("#dialog-input")
        dialog_input.value = "Behaviour [b]plan[/b]"
        await pilot.press("enter")
        await pilot.pause()
        assert "Behaviour [b]plan[/b]" in str(listing.get_option_at_index(
            listing.highlighted).prompt)
        await pilot.press("ctrl+s")
        await pilot.pause()
        target = tmp_path / "export.md"
        app.screen.query_one("#dialog-input").value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        text = target.read_text()
        assert text.startswith("# Behaviour [b]plan[/b]") and "First conversation" in text
        assert POLICY_NAME in text
        # delete (asks first)
        listing.focus()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert listing.option_count == 1 and screen.conversation_id is None
    assert [c.title for c in stored(tmp_path)] == ["Second conversation"]


async def test_resumed_after_restart(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Remember me: a student disrupts class")
        await answered(pilot)
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        listing = screen.query_one(ConversationList)
        assert listing.option_count == 1
        listing.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(screen.views()) == 2)
        assert screen.views()[0].text == "Remember me: a student disrupts class"
        assert screen.views()[1].sources  # sources come back with the conversation


@pytest.mark.parametrize("key", ["f3", "f4", "f2"])
async def test_screens_switch_and_keep_the_conversation(tmp_path: Path, key: str) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Stay")
        await answered(pilot)
        await pilot.press(key)
        await pilot.press("f2")
        assert len(chat(app).views()) == 2
