"""Model packs: export metadata into a GGUF -> `models add` -> scenarios and system prompt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teachbot_tui import config, defaults, packs
from teachbot_tui.engine.fake import FakeEngine
from teachbot_tui.gguf_info import read_info
from teachbot_tui.paths import Paths
from teachbot_tui.registry import ModelRegistry

from .models_hub_server import tiny_gguf

DATA = Path(__file__).parent / "data" / "scenarios"
PROMPT = "You are Coach Pat, a calm mentor for new primary teachers."


def _app():  # type: ignore[no-untyped-def]
    from teachbot_tui.cli import with_subcommands

    return with_subcommands()


def make_pack(tmp_path: Path, model: Path) -> Path:
    """``model`` exported as a pack, as `teachbot-train export` does: the run's system prompt
    from run.json, a description, a folder of scenarios."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"base": "default", "system_prompt": PROMPT}))
    scen = tmp_path / "scenarios"
    (scen / "maths").mkdir(parents=True)
    text = (DATA / "valid-minimal.yaml").read_text()
    (scen / "maths" / "calling-out.yaml").write_text(text.replace("test-valid-minimal",
                                                                  "pack-calling-out"))
    out = tmp_path / "coach.gguf"
    shutil.copyfile(model, out)
    report = packs.pack_export(run, out, "Coach Pat for primary schools.", scen)
    assert report["scenarios"] == ["maths/calling-out.yaml"]
    return out


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    """A small real GGUF as a pack (the model is faked where it answers)."""
    return make_pack(tmp_path, tiny_gguf(tmp_path / "tiny.gguf"))


@pytest.mark.slow  # rewrites the real 98 MB model
def test_pack_metadata_round_trip(tmp_path: Path) -> None:
    pack_file = make_pack(tmp_path, defaults.chat_model_path())  # the real bundled model
    info = packs.read_pack(pack_file)
    assert info.system_prompt == PROMPT
    assert info.description == "Coach Pat for primary schools."
    assert [s["file"] for s in info.scenarios] == ["maths/calling-out.yaml"]
    assert "pack-calling-out" in info.scenarios[0]["text"]
    # still the same model: header, tensors and chat template intact
    original = read_info(defaults.chat_model_path())
    packed = read_info(pack_file)
    assert packed.n_tensors == original.n_tensors
    assert packed.chat_template == original.chat_template
    assert packed.architecture == original.architecture


def test_models_add_installs_the_pack_and_ask_uses_its_prompt(
        pack_file: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app()
    runner = CliRunner()
    added = runner.invoke(app, ["models", "add", str(pack_file), "--name", "coach", "--use"])
    assert added.exit_code == 0, added.output
    assert "model pack: its own system prompt and 1 practice scenario" in added.stdout
    assert "Coach Pat for primary schools." in added.stdout

    listed = runner.invoke(app, ["practice", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    mine = [s for s in json.loads(listed.stdout) if s["id"] == "pack-calling-out"]
    assert mine and mine[0]["source"] == "pack:coach"
    assert len(json.loads(listed.stdout)) > 1  # the starter bank is still there
    text = runner.invoke(app, ["practice", "list"]).stdout.splitlines()
    assert [line for line in text if line.startswith("pack-calling-out")][0].endswith(
        "(model pack coach)")
    assert [line for line in text if line.startswith("adhd-carpet-time")][0].endswith(
        "can't stay on the carpet")  # the starter bank's say nothing

    # the model is faked (the prompt choice is under test): it answers with its system prompt
    engine = FakeEngine(reply=lambda messages: messages[0]["content"])
    monkeypatch.setattr("teachbot_tui.cli.load_engine", lambda model, settings, progress=None:
                        engine)
    asked = runner.invoke(app, ["ask", "--no-retrieval", "How do I start?"])
    assert asked.exit_code == 0, asked.output
    assert PROMPT in asked.stdout

    # a prompt the teacher set wins over the pack's
    config.save({"system_prompt": "Answer in one sentence."}, Paths.from_env())
    asked = runner.invoke(app, ["ask", "--no-retrieval", "How do I start?"])
    assert "Answer in one sentence." in asked.stdout

    # removing the model removes its scenarios
    assert runner.invoke(app, ["models", "remove", "coach"]).exit_code == 0
    listed = runner.invoke(app, ["practice", "list", "--json"])
    assert not [s for s in json.loads(listed.stdout) if s["id"] == "pack-calling-out"]


def test_plain_gguf_is_not_a_pack(home: Path, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    plain = tiny_gguf(tmp_path / "plain.gguf")
    entry = ModelRegistry(Paths.from_env()).add(plain, "plain")
    assert not entry.is_pack
    assert packs.installed(Paths.from_env(), "plain") is None
    settings = config.load(Paths.from_env())
    assert packs.settings_for(settings, "plain").system_prompt == config.DEFAULT_SYSTEM_PROMPT


def test_bad_scenario_stops_the_export_with_file_and_line(tmp_path: Path) -> None:
    scen = tmp_path / "scenarios"
    scen.mkdir()
    shutil.copyfile(DATA / "missing-field.yaml", scen / "broken.yaml")
    with pytest.raises(packs.PackError, match=r"broken\.yaml:\d+: .*fix the scenario"):
        packs.collect_scenarios(scen)
    with pytest.raises(packs.PackError, match="no such folder"):
        packs.collect_scenarios(tmp_path / "nope")


def test_pack_file_names_cannot_escape_the_pack_folder(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "evil.gguf"
    text = (DATA / "valid-minimal.yaml").read_text()
    packs.write_pack(tiny_gguf(tmp_path / "tiny.gguf"), out, system_prompt="x",
                     scenarios=[{"file": "../../../escape.yaml", "text": text}])
    ModelRegistry(Paths.from_env()).add(out, "evil")
    written = list((home / "data" / "packs" / "evil" / "scenarios").iterdir())
    assert [p.name for p in written] == ["00-escape.yaml"]
    assert not (home / "escape.yaml").exists() and not (home / "data" / "escape.yaml").exists()
