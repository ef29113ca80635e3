"""teachbot-train eval (metrics, model resolution, the real default model) and install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teachbot_tui import defaults
from trainer.cli import app
from trainer.evaluate import lcs_length, rouge_l, summary

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "train"


def test_lcs_and_rouge_l():
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e"]) == 3
    assert lcs_length([], ["a"]) == 0
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("completely different words", "the cat sat") == 0.0
    # LCS "the cat the mat" = 4 of 6 candidate words and 4 of 6 reference words
    assert rouge_l("the cat was on the mat", "the cat sat by the mat") == pytest.approx(4 / 6)
    assert rouge_l("", "x") == 0.0


def test_summary_is_mean_min_max_and_population_std():
    assert summary([0.5, 1.0]) == {"mean": 0.75, "min": 0.5, "max": 1.0, "std": 0.25}


def test_unknown_model_is_one_line(home):
    result = runner.invoke(app, ["eval", "--model", "nosuch", "--data", str(DATA / "chat.jsonl")])
    assert result.exit_code == 1
    assert result.stderr.startswith("teachbot-train: no model named 'nosuch'; known models: default")
    bad = runner.invoke(app, ["eval", "--model", str(DATA / "qa.csv"), "--data", str(DATA / "chat.jsonl")])
    assert bad.exit_code == 1 and "not a GGUF model file" in bad.stderr


def test_install(home, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"nope")
    bad = runner.invoke(app, ["install", str(fake), "--name", "coach"])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1 and "not a GGUF" in bad.stderr
    missing = runner.invoke(app, ["install", str(tmp_path / "none.gguf"), "--name", "coach"])
    assert missing.exit_code == 1 and "no such file" in missing.stderr


@pytest.mark.slow  # reading the GGUF header of the default model takes seconds on a busy CPU
def test_install_registers_under_teachbot_home(home):
    from teachbot_tui.registry import ModelRegistry

    result = runner.invoke(app, ["install", str(defaults.chat_model_path()), "--name", "coach"])
    assert result.exit_code == 0, result.output
    assert ModelRegistry().get("coach").path == defaults.chat_model_path()
    again = runner.invoke(app, ["install", str(defaults.chat_model_path()), "--name", "coach"])
    assert again.exit_code == 1 and "already registered; add --replace" in again.stderr
    replaced = runner.invoke(app, ["install", str(defaults.chat_model_path()), "--name", "coach",
                                   "--replace", "--json"])
    assert replaced.exit_code == 0
    assert json.loads(replaced.stdout)["name"] == "coach"


@pytest.mark.slow
def test_eval_default_model_json(home, tmp_path):
    samples = tmp_path / "samples.jsonl"
    result = runner.invoke(app, ["eval", "--model", "default", "--model", str(defaults.chat_model_path()),
                                 "--data", str(DATA / "chat.jsonl"), "--max-tokens", "24", "--limit", "2",
                                 "--samples", str(samples), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    a, b = report["models"]
    assert a["model"] == "default" and a["n"] == 2
    assert set(a["similarity"]) == {"mean", "min", "max", "std"}
    assert -1 <= a["similarity"]["min"] <= a["similarity"]["max"] <= 1
    assert 0 <= a["rouge_l"]["mean"] <= 1 and a["length"]["mean_words"] > 0
    assert a["similarity"] == b["similarity"]  # same file, greedy: same replies
    assert len(samples.read_text().splitlines()) == 4


def test_eval_table_and_json_shape(monkeypatch, tmp_path):
    """The CLI's rendering, with generation replaced by fixed reports."""
    import trainer.evaluate as evaluate_module
    from trainer.evaluate import ModelReport

    def fake(models, data, **_):
        stats = summary([0.5, 0.75])
        return [ModelReport(m, f"/models/{m}.gguf", 2, stats, stats,
                            {"mean_words": 12.5, "min_words": 10, "max_words": 15,
                             "reference_mean_words": 20.0, "empty": 0},
                            [{"prompt": "q", "reference": "r", "reply": "x", "similarity": 0.5, "rouge_l": 0.5}])
                for m in models]

    monkeypatch.setattr(evaluate_module, "evaluate", fake)
    table = runner.invoke(app, ["eval", "-m", "base", "-m", "tuned", "--data", str(DATA / "chat.jsonl"),
                                "--samples", str(tmp_path / "s.jsonl")])
    assert table.exit_code == 0, table.output
    assert "similarity mean" in table.stdout and "tuned" in table.stdout and "0.625" in table.stdout
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 2
    as_json = json.loads(runner.invoke(app, ["eval", "-m", "base", "--data", str(DATA / "chat.jsonl"), "--json"]).stdout)
    assert as_json == {"models": [{"model": "base", "path": "/models/base.gguf", "n": 2,
                                   "similarity": summary([0.5, 0.75]), "rouge_l": summary([0.5, 0.75]),
                                   "length": {"mean_words": 12.5, "min_words": 10, "max_words": 15,
                                              "reference_mean_words": 20.0, "empty": 0}}]}
