"""The Models screen (F4): the catalog with verdicts, a download with progress and cancel."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from teachbot_tui import catalog
from teachbot_tui.paths import Paths
from teachbot_tui.registry import ModelRegistry
from teachbot_tui.tui.screens.settings import SettingsScreen

from .models_hub_server import FILE, REPO, FakeHub, tiny_gguf
from .tui_helpers import fake_app, wait_for

SIZE = (140, 60)


@pytest.fixture
def tui_hub(tmp_path: Path, loopback_only: None,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    server = FakeHub(chunk_size=8 * 1024)
    server.add(REPO, FILE, tiny_gguf(tmp_path / "tiny.gguf", n_floats=256 * 1024))
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 8 * 1024)
    # the default model's speed, as if measured before (the screen reads the cache)
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    (cache / catalog.SPEED_CACHE).write_text(json.dumps(
        {"prompt_tps": 253.0, "decode_tps": 81.0, "file_bytes": catalog.DEFAULT_FILE_BYTES,
         "cpu_count": os.cpu_count(), "measured": True}))
    yield server
    server.stop()


async def open_models(pilot) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f4")
    screen = pilot.app.screen
    assert isinstance(screen, SettingsScreen)
    table = screen.query_one("#catalog-table", DataTable)
    await wait_for(pilot, lambda: table.row_count == len(catalog.entries()))
    return screen


def message(screen: SettingsScreen) -> str:
    return str(screen.query_one("#settings-message").visual)


def select(screen: SettingsScreen, name: str) -> None:
    table = screen.query_one("#catalog-table", DataTable)
    table.move_cursor(row=table.get_row_index(name))


async def test_catalog_download_switches_to_the_new_model(tmp_path: Path,
                                                          tui_hub: FakeHub) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.query_one("#catalog-table", DataTable)
        verdict = {name: str(table.row_data(table.get_row_index(name))["verdict"])
                   for name in ("qwen2.5-7b", "llama-3.2-1b")}
        assert verdict["qwen2.5-7b"].startswith("slow")
        assert verdict["llama-3.2-1b"].startswith("good fit")
        select(screen, "llama-3.2-1b")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: "now using" in message(screen), timeout=60)
        assert app.settings.chat_model == "llama-3.2-1b"
        paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache")
        assert ModelRegistry(paths).get("llama-3.2-1b").exists
        assert not screen.query_one("#pull-progress").display


async def test_cancel_keeps_the_partial_and_registers_nothing(tmp_path: Path,
                                                              tui_hub: FakeHub) -> None:
    tui_hub.chunk_delay = 0.05  # slow enough to cancel midway
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        select(screen, "llama-3.2-1b")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: " of " in str(screen.query_one("#pull-status").visual),
                       timeout=60)
        assert screen.query_one("#pull-progress").display
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in message(screen), timeout=60)
        assert "resumes" in message(screen)
        assert app.settings.chat_model == "default"
        paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache")
        assert "llama-3.2-1b" not in [e.name for e in ModelRegistry(paths).list()]
        assert list((tmp_path / "data" / "models").rglob("*.incomplete"))
