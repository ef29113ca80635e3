"""Text is text: hostile document and model text is shown literally, never run or emitted."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from textual.content import Content

from teachbot_tui.library import Library
from teachbot_tui.tui.text import literal, literal_line, safe_line, safe_text

from .tui_helpers import fake_app, real_library, wait_for

HOSTILE: list[str] = [
    "[bold]x[/]",
    "[link=https://evil.example]click me[/link]",
    "[@click=app.quit]quit[/]",
    "[@click=app.exit]exit[/]",
    "[on red]bg[/on red]",
    "[/]",
    "[b][i][u]unclosed",
    "\\[escaped\\] [bold]",
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H cleared",
    "\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "\x1b]52;c;SGVsbG8=\x07",
    "\x1b]0;new title\x07",
    "\x1bP+q544e\x1b\\",
    "\x9b31m C1 CSI \x9d0;title\x9c",
    "visible\rOVERWRITE",
    "abc\x08\x08\x08XYZ",
    "bell\x07\x07",
    "nul\x00byte",
    "del\x7f",
    "\u202eevil.exe\u202c txt",
    "\u2066isolate\u2069",
    "zero\u200bwidth\u2060joiner\ufeffbom",
    "soft\u00adhyphen",
    "tag\U000e0041\U000e007f",
    "line\u2028sep\u2029para\x85nel",
    "lone \ud800 surrogate",
    "[red]" * 50 + "deep",
    "`code` **bold** <script>alert(1)</script>",
    "$accent [$accent]var[/]",
]

CONTROL_OK = {"\n", "\t"}


def _no_controls(s: str) -> None:
    for ch in s:
        code = ord(ch)
        assert ch in CONTROL_OK or not (code < 0x20 or 0x7F <= code < 0xA0), repr(s)
        assert unicodedata.category(ch) != "Cs", repr(s)
        if unicodedata.category(ch) == "Cf":
            assert ch in ("\u200c", "\u200d"), repr(s)


@pytest.mark.parametrize("s", HOSTILE)
def test_safe_text_neutralises(s: str) -> None:
    out = safe_text(s)
    _no_controls(out)
    assert "\x1b" not in out and "\r" not in out
    line = safe_line(s)
    _no_controls(line)
    assert "\n" not in line
    # markup is kept as literal text by Content (never parsed)
    assert literal(s).plain == out
    assert literal_line(s).plain == line
    assert not literal(s).spans


def test_escape_sequences_stay_visible() -> None:
    assert safe_text("\x1b[31mred") == "␛[31mred"
    assert safe_text("a\r\nb\rc") == "a\nb\nc"
    assert safe_text("x\x08y") == "x␈y"
    assert safe_text("\u202eabc") == "abc"
    assert safe_text("[bold]x[/]") == "[bold]x[/]"
    assert safe_line("a\nb\tc", limit=4) == "a b…"


def test_every_invisible_format_character_is_covered() -> None:
    """The table of removed Cf characters matches Unicode's (BMP and tags)."""
    for code in list(range(0x10000)) + list(range(0xE0000, 0xE0080)):
        ch = chr(code)
        if unicodedata.category(ch) == "Cf" and ch not in ("\u200c", "\u200d"):
            assert safe_text(ch) == "", hex(code)


HOSTILE_DOC = "\n".join(HOSTILE)


class HostileLibrary(Library):
    """The real library, answering every search with a hostile passage (what a document
    full of markup and escapes would give): the UI must show it literally."""

    def search(self, query, k=None, collection=None, mode=None, threshold=None):  # type: ignore[no-untyped-def]
        from teachbot_tui.library.types import Hit

        return [Hit(7, 1, "/docs/[red]evil[/red]\x1b[31m.md", "c", 1,
                    "[@click=app.quit]Heading\x1b]52;c;AAAA\x07", HOSTILE_DOC, 0.9, 0,
                    len(HOSTILE_DOC))]

    def passage(self, chunk_id):  # type: ignore[no-untyped-def]
        from teachbot_tui.library.types import Passage

        text = "before " + HOSTILE_DOC + " after"
        return Passage("/docs/evil.md", 1, "[b]h[/b]", text, 7, 7 + len(HOSTILE_DOC))


def _rendered(app) -> str:  # type: ignore[no-untyped-def]
    """What the terminal would receive for the current screen (ANSI)."""
    from io import StringIO

    from rich.console import Console

    console = Console(file=StringIO(), force_terminal=True, color_system="truecolor",
                      width=app.size.width, legacy_windows=False)
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            console.file.write(segment.text)
    return console.file.getvalue()


async def test_hostile_document_and_reply_are_plain_text(tmp_path: Path) -> None:
    reply = "Reply " + HOSTILE_DOC.replace("\n", " ") + " [1] [link](app.quit)"
    app = fake_app(tmp_path, reply=reply, library=real_library(tmp_path, cls=HostileLibrary))
    async with app.run_test(size=(120, 50)) as pilot:
        from teachbot_tui.tui.screens.chat import ChatScreen
        from teachbot_tui.tui.screens.passage import PassageScreen
        from teachbot_tui.tui.widgets.prompt import PromptArea

        screen = app.screen
        assert isinstance(screen, ChatScreen)
        screen.query_one(PromptArea).load_text("[@click=app.quit]question\x1b[2J")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.job is None and len(screen.views()) == 2)
        user, answer = screen.views()
        assert app.is_running and app.return_code is None  # nothing was clicked or run
        assert str(user.query_one(".body").visual) == "[@click=app.quit]question␛[2J"
        option = str(answer.sources_list.get_option_at_index(0).prompt)
        # the file name ("red]␛[31m.md": the "/" of "[/red]" is a folder separator) first
        assert option.startswith("[1] red]␛[31m.md · ") and "in /docs/[red]evil[" in option
        assert "[@click=app.quit]Heading" in option
        # nothing on screen carries an escape character or a link from the data
        painted = "".join(seg.text for strip in app.screen._compositor.render_strips()
                          for seg in strip)
        assert "\x1b" not in painted and "\x07" not in painted
        for strip in app.screen._compositor.render_strips():
            for seg in strip:
                style = seg.style
                if style is not None and style.link:
                    pytest.fail(f"a link from the data reached the screen: {style.link}")
        # open the passage: the whole hostile document, literally
        answer.sources_list.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PassageScreen))
        passage = app.screen
        await wait_for(pilot, lambda: str(passage.query_one("#passage-chunk").visual) != "")
        chunk = str(passage.query_one("#passage-chunk").visual)
        assert chunk == safe_text(HOSTILE_DOC)
        assert "[bold]x[/]" in chunk and "␛]52;c;SGVsbG8=␇" in chunk
        painted = "".join(seg.text for strip in app.screen._compositor.render_strips()
                          for seg in strip)
        assert "\x1b" not in painted and "\x07" not in painted and "\u202e" not in painted
        await pilot.press("escape")
        assert app.is_running


def test_content_never_parses_markup() -> None:
    c = literal("[@click=app.quit]x[/]")
    assert isinstance(c, Content) and c.plain == "[@click=app.quit]x[/]" and not c.spans
