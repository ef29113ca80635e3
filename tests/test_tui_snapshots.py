"""SVG snapshots of the main screens (pytest-textual-snapshot).

Deterministic: fake engine and library, a TEACHBOT_HOME in tmp_path, a fixed terminal size.
Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path

from .test_tui_support import fake_app, wait_for

SIZE = (120, 36)
REPLY = ("Speak to the student **privately** and agree on a signal [1].\n\n"
         "1. Name the behaviour.\n2. Praise the first improvement.\n\n"
         "```text\nSignal: two taps on the desk\n```")


async def _ready(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_for(pilot, lambda: app.status.model_state == "ready"
                   and "search ready" in app.status.library_text)
    app.refresh_status()
    await pilot.pause()


def _blur(pilot) -> None:  # type: ignore[no-untyped-def]
    """No focused text box: a blinking cursor would make the picture flaky."""
    pilot.app.screen.set_focus(None)


def test_chat_empty(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        _blur(pilot)

    assert snap_compare(fake_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_chat_answer_with_sources(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        screen = pilot.app.screen
        await screen.ask("How do I handle a student who disrupts class?")
        await wait_for(pilot, lambda: screen.job is None and len(screen.views()) == 2)
        _blur(pilot)
        await pilot.pause()

    assert snap_compare(fake_app(tmp_path, reply=REPLY), terminal_size=SIZE,
                        run_before=run_before)


def test_library_screen(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await pilot.press("f3")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.query_one("#documents").row_count == 2)
        _blur(pilot)
        await pilot.pause()

    assert snap_compare(fake_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_settings_screen(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: len(pilot.app.screen.query_one("#chat_model")._options) == 2
                       and "bundled" in str(pilot.app.screen.query_one("#chat_model")._options[0][0]))
        await pilot.pause(0.2)
        _blur(pilot)
        await pilot.pause()

    assert snap_compare(fake_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        _blur(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(fake_app(tmp_path), terminal_size=SIZE, run_before=run_before)
