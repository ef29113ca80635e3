"""SVG snapshots of every screen at the sizes terminals open with (pytest-textual-snapshot).

Real content: a conversation with a long title and an answer citing a document, a library of
two documents with long paths, a practice scenario. Deterministic: the FakeEngine, the
template library (fixed import dates), ``HOME`` set to the documents' folder (paths show
as ``~/...``) and no focused text box (a blinking cursor would make the picture flaky).
Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .tui_helpers import add_conversations, fake_app, open_practice, template_home, wait_for

SIZES = [(80, 24), (100, 30), (160, 48)]
SCREENS = ["chat", "help", "library", "settings", "practice"]


async def _ready(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_for(pilot, lambda: app.status.model_state == "ready"
                   and "search ready" in app.status.library_text, timeout=30)
    app.refresh_status()
    await pilot.pause()


async def _show(pilot, screen: str) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    if screen in ("chat", "help"):
        chat = app.screen
        conv = next(c for c in app.backend.store.list() if len(c.title) > 60)
        await chat.resume(conv.id)
        if screen == "help":
            await pilot.press("f1")
    elif screen == "library":
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.query_one("#documents").row_count == 2)
    elif screen == "settings":
        await pilot.press("f4")
        box = app.screen.query_one("#chat_model")
        await wait_for(pilot, lambda: len(box._options) == 2  # default and default-base
                       and "bundled" in str(box._options[0][0]))
    else:
        practice = await open_practice(pilot)
        await practice.action_start_session()
    await pilot.pause(0.2)
    app.screen.set_focus(None)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, screen: str,
                size: tuple[int, int]) -> None:
    monkeypatch.setenv("HOME", str(template_home()))
    add_conversations(tmp_path)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await _show(pilot, screen)

    assert snap_compare(fake_app(tmp_path), terminal_size=size, run_before=run_before)
