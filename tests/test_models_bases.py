"""``teachbot-train --base`` with catalog names and Hub repo ids (a stand-in Hub on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from teachbot_tui import bases, hub
from teachbot_tui.paths import Paths

from .models_hub_server import FakeHub
from .tiny_llama import make_tiny_llama

REPO = "Qwen/Qwen2.5-1.5B-Instruct"  # the catalog's qwen2.5-1.5b base; served: a tiny llama


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture
def base_hub(tiny_folder: Path, home: Path, loopback_only: None,  # noqa: F811
             monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    server = FakeHub()
    for f in sorted(tiny_folder.iterdir()):
        server.add(REPO, f.name, f)
    server.add(REPO, "original/consolidated.pth", b"not wanted")
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


def test_catalog_name_downloads_the_base_once_then_offline(base_hub: FakeHub,
                                                           tiny_folder: Path) -> None:
    said: list[str] = []
    path = Path(bases.resolve("qwen2.5-1.5b", say=said.append))
    assert path == Paths.from_env().data_dir / "bases" / "Qwen--Qwen2.5-1.5B-Instruct"
    assert (path / "config.json").read_bytes() == (tiny_folder / "config.json").read_bytes()
    assert (path / "model.safetensors").is_file()
    assert not (path / "original").exists()  # only what transformers needs
    assert any("downloading base weights" in s for s in said)
    done = json.loads((path / bases.COMPLETE).read_text())
    assert done["repo"] == REPO
    # the Hub is gone: the downloaded base is used without the network
    base_hub.stop()
    assert bases.resolve("qwen2.5-1.5b") == str(path)
    assert bases.resolve(REPO) == str(path)


def test_local_paths_and_default_are_unchanged(tmp_path: Path, home: Path) -> None:
    assert bases.resolve("default") == "default"
    assert bases.resolve(str(tmp_path)) == str(tmp_path)
    assert bases.resolve("no/such/file.gguf") == "no/such/file.gguf"  # the trainer reports it


def test_no_network_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    with pytest.raises(hub.NoNetworkError, match="give its path to --base"):
        bases.resolve("Qwen/Qwen2.5-3B-Instruct")


def test_train_command_takes_a_catalog_name(base_hub: FakeHub, tmp_path: Path) -> None:
    """The hook in teachbot-train: `prepare --base NAME` counts tokens with the downloaded
    base's tokenizer."""
    from typer.testing import CliRunner

    from trainer.cli import app

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": f"How do I start lesson {i}?"},
        {"role": "assistant", "content": "Begin with a clear goal and a quick question."}]})
        for i in range(4)) + "\n")
    result = CliRunner().invoke(app, ["prepare", str(data), "--out", str(tmp_path / "out"),
                                      "--base", "qwen2.5-1.5b", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stats"]["token_count"].startswith("tokenizer of ")
    assert "Qwen--Qwen2.5-1.5B-Instruct" in report["stats"]["token_count"]
    assert (Paths.from_env().data_dir / "bases" / "Qwen--Qwen2.5-1.5B-Instruct" /
            bases.COMPLETE).is_file()
