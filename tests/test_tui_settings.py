"""Pilot tests of the models & settings screen: everything persists to config.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Input, Select, TextArea

from teachbot_tui import defaults
from teachbot_tui.tui.screens.settings import SettingsScreen

from .tui_helpers import fake_app, wait_for

SIZE = (120, 50)


async def open_settings(pilot) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f4")
    screen = pilot.app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


def message(screen: SettingsScreen) -> str:
    return str(screen.query_one("#settings-message").visual)


async def test_settings_are_saved_and_applied(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#temperature", Input).value = "0.7"
        screen.query_one("#gpu_layers", Input).value = "0"
        screen.query_one("#n_ctx", Input).value = "2048"
        screen.query_one("#retrieval_k", Input).value = "3"
        screen.query_one("#retrieval_threshold", Input).value = "0.5"
        screen.query_one("#retrieval_mode", Select).value = "keyword"
        screen.query_one("#theme", Select).value = "nord"
        screen.query_one("#system_prompt", TextArea).load_text("You are a maths coach.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Saved" in message(screen), message(screen)
        saved = tomllib.loads((tmp_path / "config" / "config.toml").read_text())
        assert saved == {"temperature": 0.7, "gpu_layers": "0", "n_ctx": 2048,
                         "retrieval_k": 3, "retrieval_threshold": 0.5,
                         "retrieval_mode": "keyword", "theme": "nord",
                         "system_prompt": "You are a maths coach."}
        assert app.theme == "nord" and app.settings.temperature == 0.7
        assert "reloading the model" in message(screen)
        await wait_for(pilot, lambda: app.status.model_state == "ready")
        assert app.backend.settings.n_ctx == 2048


async def test_invalid_setting_is_refused_with_one_line(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#n_ctx", Input).value = "100"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert message(screen).startswith("Not saved: n_ctx must be at least 512")
        screen.query_one("#n_ctx", Input).value = "lots"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "is not a number" in message(screen)
        assert not (tmp_path / "config" / "config.toml").exists()


async def test_add_model_by_path(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        bad = tmp_path / "bad.gguf"
        bad.write_bytes(b"not a gguf at all")
        screen.query_one("#model-path", Input).value = str(bad)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: message(screen) != "")
        assert "bad.gguf" in message(screen) and "\n" not in message(screen)
        located = defaults.chat_model()
        assert located.exists and located.path is not None, (
            f"the default chat model is installed by set-up: {located.install}")
        screen.query_one("#model-path", Input).value = str(located.path)
        screen.query_one("#model-name", Input).value = "smol-copy"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "Added model smol-copy" in message(screen), timeout=120)
        box = screen.query_one("#chat_model", Select)
        await wait_for(pilot, lambda: box.value == "smol-copy")
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = tomllib.loads((tmp_path / "config" / "config.toml").read_text())
        assert saved["chat_model"] == "smol-copy"
