"""Keys: F1 lists every key, the palette offers every action, config remaps keys; and the
start-up rule (nothing heavy imported with the app module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from textual.widgets import Footer

from teachbot_tui.config import Settings
from teachbot_tui.tui.keys import KEYS, display_key
from teachbot_tui.tui.screens.chat import ChatScreen
from teachbot_tui.tui.screens.help import HelpScreen, help_rows
from teachbot_tui.tui.widgets.prompt import PromptArea

from .tui_helpers import fake_app, wait_for

SIZE = (120, 40)


async def test_f1_lists_every_key(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = [row for _, group in help_rows(app.screen.keymap) for row in group]
        assert {key_id for _, key_id, _ in rows} == {k.id for k in KEYS}
        assert {text for _, _, text in rows} == {k.help for k in KEYS}
        keys = " ".join(k for k, _, _ in rows)
        assert "Ctrl+J" in keys and "Esc" in keys and "Enter" in keys
        # the table is on screen: the first rows are painted
        painted = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "Show this list of keys." in painted and "command_palette" in painted
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_palette_offers_every_action(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        commands = list(app.get_system_commands(app.screen))
        helps = {c.help for c in commands}
        for key in KEYS:
            if key.palette:
                assert key.help in helps, key.id
        # running one from the palette switches screen when needed
        cmd = next(c for c in commands if c.help.startswith("Re-scan every imported folder"))
        await cmd.callback()
        await pilot.pause()
        assert app.current_mode == "library"
        await wait_for(pilot, lambda: app.screen.last_report is not None)
        new = next(c for c in commands if c.title == "Chat: New")
        await new.callback()
        assert app.current_mode == "chat"


async def test_palette_opens_and_runs(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to library")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "library")


async def test_footer_shows_bindings(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        shown = {b.id for b in _active_bindings(app) if b.show}
        assert {"stop", "new_conversation", "show_sources", "help", "quit"} <= shown
        assert footer.display


def _active_bindings(app):  # type: ignore[no-untyped-def]
    return [active.binding for active in app.screen.active_bindings.values()]


async def test_keys_can_be_remapped(tmp_path: Path) -> None:
    settings = Settings(keys={"new_conversation": "f9", "send": "ctrl+t", "help": "f10",
                              "no_such_action": "f11"})
    app = fake_app(tmp_path, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        # Enter now inserts nothing special; ctrl+t sends
        await pilot.press("h", "i", "ctrl+t")
        await wait_for(pilot, lambda: screen.job is None and len(screen.views()) == 2)
        await pilot.press("f9")
        await pilot.pause()
        assert screen.conversation_id is None and not screen.views()
        await pilot.press("f10")
        assert isinstance(app.screen, HelpScreen)
        help_keys = dict((key_id, k) for _, group in help_rows(app.screen.keymap)
                         for k, key_id, _ in group)
        assert help_keys["help"] == display_key("f10")
        await pilot.press("escape")
        assert screen.query_one(PromptArea).send_keys == {"ctrl+t"}


def test_screens_do_not_import_the_app() -> None:
    """Screens and widgets get what they need from tui/host.py, never from app.py."""
    import ast

    root = Path(__file__).resolve().parents[1] / "teachbot_tui" / "tui"
    files = [*root.glob("screens/*.py"), *root.glob("widgets/*.py")]
    assert len(files) > 10
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert target not in ("..app", "...tui.app", "teachbot_tui.tui.app"), path
                assert not (node.level == 1 and node.module == "app"), path


def test_app_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import teachbot_tui.tui.app as a; a.make_app; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'peft', "
        "'llama_cpp', 'hnswlib', 'numpy') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
