"""teachbot-train prepare: every input format, the dataset rules, file:line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data import prepare

DATA = Path(__file__).parent / "data" / "train"
BAD = DATA / "bad"
BANK_SCENARIO = Path(__file__).parents[1] / "teachbot_tui" / "practice" / "bank" / "shy-student-speaking-up.yaml"
GOOD = [DATA / n for n in ("seed_scenarios.json", "chat.jsonl", "instructions.jsonl", "qa.csv",
                           "practice_export.jsonl")]

runner = CliRunner()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_format(tmp_path):
    report = prepare([*GOOD, BANK_SCENARIO], tmp_path, val_fraction=0.2, seed=0)
    assert report.errors == [] and report.written
    # 3 seed scenarios + 3 chat + 4 instruction + 2 csv + 1 practice chat + 1 practice scenario
    assert (report.train, report.val, report.pairs) == (11, 3, 1)
    train, val = read_jsonl(tmp_path / "train.jsonl"), read_jsonl(tmp_path / "val.jsonl")
    every = train + val
    assert all(r["messages"][-1]["role"] == "assistant" for r in every)
    seed = next(r for r in every if "Consistent disruptor" in r["messages"][0]["content"])
    assert seed["meta"]["category"] == "behaviour"
    assert seed["messages"][0]["content"].endswith("How should I respond?")
    alpaca = next(r for r in every if "Rewrite this homework" in r["messages"][0]["content"])
    assert "do q's 1-5" in alpaca["messages"][0]["content"]
    scenario = next(r for r in every if r["source"] == BANK_SCENARIO.name)
    assert scenario["messages"][0]["role"] == "system"
    assert "Students:" in scenario["messages"][1]["content"]
    assert scenario["messages"][2]["content"].startswith("Immediate action:")
    pairs = read_jsonl(tmp_path / "pairs.jsonl")
    assert pairs[0]["chosen"].startswith("Walk over calmly")
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["by_category"]["behaviour"] == 2 and stats["tokens"]["max"] > 0


def test_split_is_deterministic_and_order_free(tmp_path):
    a = prepare(GOOD, tmp_path / "a", val_fraction=0.3, seed=7)
    b = prepare(list(reversed(GOOD)), tmp_path / "b", val_fraction=0.3, seed=7)
    c = prepare(GOOD, tmp_path / "c", val_fraction=0.3, seed=8)
    val = lambda d: sorted(json.dumps(r["messages"]) for r in read_jsonl(d / "val.jsonl"))  # noqa: E731
    assert a.val == b.val == c.val == 4
    assert val(tmp_path / "a") == val(tmp_path / "b")
    assert val(tmp_path / "a") != val(tmp_path / "c")
    none = prepare(GOOD, tmp_path / "none", val_fraction=0)
    assert none.val == 0 and (tmp_path / "none" / "val.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("bad_json.jsonl", 2, "not valid JSON"),
        ("missing_field.json", 8, "missing field 'expected_response'"),
        ("short.jsonl", 1, "instruction too short"),
        ("bad_role.jsonl", 2, "bad role 'teacher'"),
        ("duplicate.jsonl", 3, "duplicate of"),
        ("missing_column.csv", 1, "no usable columns"),
    ],
)
def test_malformed_file_names_file_and_line(tmp_path, name, line, message):
    result = runner.invoke(app, ["prepare", str(BAD / name), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{BAD / name}:{line}: ") and message in first
    assert "Traceback" not in result.output
    # nothing was written, so no summary of records hides the problems
    assert result.stdout == "" and result.stderr.splitlines()[-1].startswith("teachbot-train: ")
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_csv_missing_one_column(tmp_path):
    path = tmp_path / "half.csv"
    path.write_text("instruction,category\nHow do I settle a class?,routines\n", encoding="utf-8")
    report = prepare([path], tmp_path / "out")
    assert report.errors == [f"{path}:1: missing column 'response' (columns: instruction, category)"]


def test_skip_invalid_drops_and_reports(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["prepare", str(BAD / "bad_role.jsonl"), str(BAD / "duplicate.jsonl"),
                                 "--out", str(out), "--skip-invalid", "--val-fraction", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["written"] and report["train"] == 3 and report["skipped"] == 2
    assert len(read_jsonl(out / "train.jsonl")) == 3


def test_over_length(tmp_path):
    report = prepare([DATA / "chat.jsonl"], tmp_path, max_tokens=80)
    assert any("too long" in e and "chat.jsonl:3:" in e for e in report.errors)


@pytest.mark.parametrize("skip", [[], ["--skip-invalid"]])
def test_missing_input_is_one_line(tmp_path, skip):
    """A mistyped path stops prepare even with --skip-invalid: it is no bad record to drop."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for given, message in ((tmp_path / "nope.jsonl", "no such file or folder; check the path"),
                           (empty, "no training files")):
        result = runner.invoke(app, ["prepare", str(DATA / "chat.jsonl"), str(given),
                                     "--out", str(tmp_path / "o"), *skip])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"teachbot-train: {given}: {message}"), result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
        assert not (tmp_path / "o").exists()


def test_cli_import_is_light():
    code = "import sys, trainer.cli; print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
