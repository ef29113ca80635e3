"""``teachbot practice ...`` in a subprocess, as a new user runs it (no model needed here):
list, show, validate with file:line errors, sessions, ideal, progress, and an export that
round-trips through ``teachbot-train prepare``."""

from __future__ import annotations

import json
from pathlib import Path

from teachbot_tui.paths import Paths
from teachbot_tui.practice.coach import Coach
from teachbot_tui.practice.results import PracticeStore
from teachbot_tui.practice.scenarios import load_bank
from teachbot_tui.practice.session import Turn, opening_line

from .conftest import run_cli
from .fakes import JsonFakeEngine

DATA = Path(__file__).parent / "data" / "scenarios"


def test_list_json_has_at_least_30(home: Path) -> None:
    proc = run_cli(home, "practice", "list", "--json", check=True)
    items = json.loads(proc.stdout)
    assert len(items) >= 30
    assert {"id", "title", "grade_band", "category", "subject"} <= set(items[0])
    few = json.loads(run_cli(home, "practice", "list", "--grade", "K-2", "--json",
                             check=True).stdout)
    assert few and all(i["grade_band"] == "K-2" for i in few)


def test_show_and_unknown_id(home: Path) -> None:
    proc = run_cli(home, "practice", "show", "shy-student-speaking-up", check=True)
    assert "Expert response" in proc.stdout and "Rubric" in proc.stdout
    bad = run_cli(home, "practice", "show", "shy-student-speaking-upp")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert "did you mean 'shy-student-speaking-up'" in bad.stderr


def test_validate_broken_file_names_file_and_line(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (DATA / "valid-minimal.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("grade_band:", "grade_bnd:", 1), encoding="utf-8")
    proc = run_cli(home, "practice", "validate", str(broken), str(DATA / "wrong-enum.yaml"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert any(line.startswith(f"{broken}:") and "grade_bnd" in line for line in lines)
    assert any(line.startswith(f"{DATA / 'wrong-enum.yaml'}:") for line in lines)
    for line in lines:  # file:line: field: message
        path, lineno, _rest = line.split(":", 2)
        assert Path(path).exists() and lineno.isdigit()
    ok = run_cli(home, "practice", "validate", str(DATA / "valid-minimal.yaml"))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 1 scenario")


def _sessions(home: Path) -> list[int]:
    store = PracticeStore(Paths.from_env())
    bank = {s.id: s for s in load_bank()}
    coach = Coach(JsonFakeEngine(), None, None)
    ids = []
    for sid, answer in [
        ("shy-student-speaking-up", "Take your time, Mei. Tell your partner first, then we "
                                    "will share together."),
        ("consistent-disruptor-maths", "Jayden, drumming stops now. Start question one; I'll "
                                       "check back in two minutes."),
    ]:
        s = bank[sid]
        session = store.start(s, model="fake", turns=[opening_line(s)])
        store.add_turn(session, Turn("teacher", "Teacher", answer))
        store.add_turn(session, Turn("student", s.students[0].name, "Okay..."))
        store.save_evaluation(session, coach.evaluate(session))
        ids.append(session.id or 0)
    empty = store.start(bank["lab-horseplay-safety"], turns=[opening_line(
        bank["lab-horseplay-safety"])])  # never answered: not exported
    ids.append(empty.id or 0)
    store.close()
    return ids


def test_sessions_ideal_progress_and_export_round_trip(home: Path, tmp_path: Path) -> None:
    first, second, _empty = _sessions(home)
    listed = json.loads(run_cli(home, "practice", "sessions", "--json", check=True).stdout)
    assert {s["id"] for s in listed} >= {first, second}
    marked = run_cli(home, "practice", "ideal", str(first), "--json", "--text",
                     "Give Mei thinking time, let her rehearse with a partner, then invite "
                     "her to share; check in privately afterwards.", check=True)
    assert json.loads(marked.stdout) == {
        "session": first, "ideal": "Give Mei thinking time, let her rehearse with a partner, "
        "then invite her to share; check in privately afterwards."}
    shown = json.loads(run_cli(home, "practice", "session", str(first), "--json",
                               check=True).stdout)
    assert shown["ideal_response"].startswith("Give Mei thinking time")
    assert shown["evaluation"]["scores"]
    missing = run_cli(home, "practice", "ideal", "9999", "--text", "x")
    assert missing.returncode == 1 and "no practice session" in missing.stderr
    assert "Traceback" not in missing.stderr

    progress = json.loads(run_cli(home, "practice", "progress", "--json", check=True).stdout)
    assert progress["evaluated"] == 2
    assert {c["name"] for c in progress["criteria"]} >= {"professional conduct"}
    text = run_cli(home, "practice", "progress", check=True).stdout
    assert "criterion" in text and "category" in text

    out = tmp_path / "practice.jsonl"
    report = json.loads(run_cli(home, "practice", "export", "--out", str(out), "--json",
                                check=True).stdout)
    assert report["sessions"] == 2 and report["chats"] == 2 and report["pairs"] >= 1
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    chats = [r for r in records if "messages" in r]
    by_session = {r["meta"]["session"]: r for r in chats}
    assert by_session[first]["messages"][-1]["content"].startswith("Give Mei thinking time")
    assert by_session[first]["meta"]["target"] == "corrected"
    assert by_session[second]["meta"]["target"] == "expert"
    assert "Take your time, Mei" in by_session[first]["messages"][1]["content"]
    assert by_session[first]["feedback"].startswith("Overall")
    pairs = [r for r in records if "chosen" in r]
    assert all(p["chosen"] != p["rejected"] for p in pairs)

    prepared = tmp_path / "prepared"
    proc = run_cli(home, "prepare", str(out), "--out", str(prepared), "--json",
                   prog="teachbot-train", check=True)
    stats = json.loads(proc.stdout)
    assert not stats.get("errors")
    assert (prepared / "train.jsonl").exists()
    text = json.dumps(stats)
    assert '"pairs": ' in text


def test_export_with_nothing_says_so(home: Path, tmp_path: Path) -> None:
    proc = run_cli(home, "practice", "export", "--out", str(tmp_path / "x.jsonl"))
    assert proc.returncode == 1
    assert "nothing to export" in proc.stderr and "Traceback" not in proc.stderr
