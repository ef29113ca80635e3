"""``teachbot models pull`` against a stand-in Hub on 127.0.0.1 (HF_ENDPOINT).

The stand-in is the one network use these tests allow: ``loopback_only`` lets sockets reach
127.0.0.1 and nothing else, for these tests alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teachbot_tui import config, hub
from teachbot_tui.paths import Paths
from teachbot_tui.registry import ModelRegistry

from .conftest import CommandResult, run_main
from .models_hub_server import FILE, REPO, FakeHub, tiny_gguf


@pytest.fixture
def fake_hub(home: Path, tmp_path: Path, loopback_only: None,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    server = FakeHub(chunk_size=16 * 1024)
    server.add(REPO, FILE, tiny_gguf(tmp_path / "tiny.gguf"))
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    from huggingface_hub import constants

    # read in 16 KiB pieces (10 MiB by default), so an interruption lands mid-file
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    yield server
    server.stop()


def pull(*args: str) -> CommandResult:
    return run_main("models", "pull", *args)


def registered(home: Path) -> list[str]:
    return [e.name for e in ModelRegistry(Paths.from_env()).list()]


def one_line(text: str) -> str:
    """The error: exactly one line (besides the progress lines a pull prints off a terminal)."""
    import re

    lines = [ln for ln in text.strip().splitlines()
             if ln.strip() and not re.search(r": \d+% of [0-9.]+ [MG]B$", ln)]
    assert len(lines) == 1, text
    return lines[0]


def test_pull_catalog_name_registers_and_uses(fake_hub: FakeHub, home: Path) -> None:
    result = pull("llama-3.2-1b", "--use")
    assert result.exit_code == 0, result.output
    assert "pulled llama-3.2-1b" in result.stdout
    assert "now using llama-3.2-1b" in result.stdout
    entry = ModelRegistry(Paths.from_env()).get("llama-3.2-1b")
    data = entry.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == fake_hub.files[(REPO, FILE)].sha256
    assert config.load(Paths.from_env()).chat_model == "llama-3.2-1b"
    assert not list(entry.path.parent.glob("*.incomplete"))
    # pulling again downloads nothing and keeps the registration
    gets = sum(r.startswith("GET") for r in fake_hub.requests)
    again = pull("llama-3.2-1b")
    assert again.exit_code == 0, again.output
    assert sum(r.startswith("GET") for r in fake_hub.requests) == gets


def test_pull_repo_and_file_uses_the_stem_or_name(fake_hub: FakeHub, home: Path) -> None:
    result = pull(f"{REPO}/{FILE}")
    assert result.exit_code == 0, result.output
    assert "Llama-3.2-1B-Instruct-Q4_K_M" in registered(home)
    other = pull(f"{REPO}/{FILE}", "--name", "coach")
    assert other.exit_code == 0, other.output
    assert "coach" in registered(home)


def test_interrupted_pull_resumes(fake_hub: FakeHub, home: Path) -> None:
    from teachbot_tui.models_cli import pull_model

    total = len(fake_hub.files[(REPO, FILE)].data)

    def stop_midway(done: int, size: int | None) -> None:
        if done >= total // 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull_model("llama-3.2-1b", progress=stop_midway)
    assert "llama-3.2-1b" not in registered(home)  # nothing registered
    partial = list((home / "data" / "models").rglob("*.incomplete"))
    assert len(partial) == 1
    kept = partial[0].stat().st_size
    assert 0 < kept < total

    result = pull("llama-3.2-1b")
    assert result.exit_code == 0, result.output
    assert fake_hub.ranges[-1] == f"bytes={kept}-"  # resumed, not restarted
    entry = ModelRegistry(Paths.from_env()).get("llama-3.2-1b")
    assert hashlib.sha256(entry.path.read_bytes()).hexdigest() == \
        fake_hub.files[(REPO, FILE)].sha256
    assert not partial[0].exists()


def test_ctrl_c_in_the_command_keeps_the_partial(fake_hub: FakeHub, home: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from teachbot_tui import models_cli

    real = models_cli.pull_model

    def interrupted(spec, name=None, use=False, progress=None):  # type: ignore[no-untyped-def]
        def stop(done: int, size: int | None) -> None:
            if done > 0:
                raise KeyboardInterrupt

        return real(spec, name, use, stop)

    monkeypatch.setattr(models_cli, "pull_model", interrupted)
    result = pull("llama-3.2-1b", "--use")
    assert result.exit_code == 130
    assert "run the same pull again to resume" in result.stderr
    assert "llama-3.2-1b" not in registered(home)
    assert config.load(Paths.from_env()).chat_model == "default"


def test_corrupted_bytes_are_refused_and_deleted(fake_hub: FakeHub, home: Path) -> None:
    fake_hub.corrupt = True
    result = pull("llama-3.2-1b", "--use")
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "checksum mismatch" in line and "partial file was deleted" in line
    assert "llama-3.2-1b" not in registered(home)
    assert not list((home / "data" / "models").rglob("*.gguf*"))
    assert config.load(Paths.from_env()).chat_model == "default"


def test_server_gone_is_one_line(fake_hub: FakeHub, home: Path) -> None:
    fake_hub.stop()  # the port is closed now: connection refused
    result = pull("llama-3.2-1b")
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "cannot reach" in line and "teachbot models add FILE" in line
    assert "llama-3.2-1b" not in registered(home)


def test_no_network_at_all_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the default test guard: every INET connection fails, as on a machine without network
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    result = pull("llama-3.2-1b")
    assert result.exit_code == 1
    assert "teachbot models add FILE" in one_line(result.stderr)


def test_not_enough_disk_refuses_before_downloading(fake_hub: FakeHub, home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "free_bytes", lambda folder: 1000)
    result = pull("llama-3.2-1b")
    assert result.exit_code == 1
    assert "not enough disk space" in one_line(result.stderr)
    assert not any(r.startswith("GET") for r in fake_hub.requests)
    assert "llama-3.2-1b" not in registered(home)


def test_unknown_name_and_missing_file(fake_hub: FakeHub, home: Path) -> None:
    result = pull("llama-9b")
    assert result.exit_code == 1
    assert "no catalog model named 'llama-9b'" in one_line(result.stderr)
    missing = pull(f"{REPO}/nope.gguf")
    assert missing.exit_code == 1
    assert "not found on the Hub" in one_line(missing.stderr)


def test_name_taken_is_refused_before_downloading(fake_hub: FakeHub, home: Path,
                                                  tmp_path: Path) -> None:
    ModelRegistry(Paths.from_env()).add(tiny_gguf(tmp_path / "mine.gguf"), "llama-3.2-1b")
    result = pull("llama-3.2-1b")
    assert result.exit_code == 1 and "already registered" in one_line(result.stderr)
    assert not fake_hub.requests


def test_hub_stays_offline_outside_a_pull() -> None:
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE
    with hub.online():
        assert not constants.HF_HUB_OFFLINE
    assert constants.HF_HUB_OFFLINE


@pytest.mark.slow  # loads the real model
def test_pulled_model_answers_offline(home: Path, tmp_path: Path, loopback_only: None,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog name pulled (the stand-in serves the bundled SmolLM2 under the catalog's
    repo and file), then `teachbot ask` answers with it, the Hub gone."""
    from teachbot_tui import defaults

    server = FakeHub()
    server.add(REPO, FILE, defaults.chat_model_path())
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        result = pull("llama-3.2-1b", "--use")
        assert result.exit_code == 0, result.output
    finally:
        server.stop()
    monkeypatch.delenv("HF_ENDPOINT")
    monkeypatch.setenv("TEACHBOT_MAX_TOKENS", "24")
    from teachbot_tui.cli import app

    asked = CliRunner().invoke(app, ["ask", "--no-retrieval", "--json",
                                     "Give me one tip for starting a lesson."])
    assert asked.exit_code == 0, asked.output
    answer = __import__("json").loads(asked.stdout)
    assert answer["model"] == "llama-3.2-1b"
    assert answer["answer"].strip()
