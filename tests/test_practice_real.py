"""Practice mode with the real default model (SmolLM2-135M) and embedder (MiniLM): a whole
session (role-play and evaluation), and drafting scenarios. Slow."""

from __future__ import annotations

from typing import Any

import pytest

from teachbot_tui.practice.coach import Coach
from teachbot_tui.practice.draft import draft_scenario
from teachbot_tui.practice.scenarios import load_bank, validate_object
from teachbot_tui.practice.session import (
    PracticeSession,
    StudentSimulator,
    Turn,
    opening_line,
)

pytestmark = pytest.mark.slow


def test_whole_session_with_the_real_model(engine: Any, embedder: Any) -> None:
    scenario = next(s for s in load_bank() if s.id == "shy-student-speaking-up")
    session = PracticeSession(scenario, [opening_line(scenario)])
    simulator = StudentSimulator(engine)
    for text in ("That's okay, take your time. Would you like to tell your partner first, "
                 "and then we share together?",
                 "Good thinking. I will check in with you after class about group talk."):
        session.turns.append(Turn("teacher", "Teacher", text))
        reply = simulator.reply(scenario, session.turns)
        assert reply.role == "student" and reply.speaker == scenario.students[0].name
        assert reply.text.strip()
        assert not reply.text.lower().startswith("teacher")
        assert len(reply.text) <= 330
        session.turns.append(reply)
    ev = Coach(engine, embedder).evaluate(session)
    assert [c.criterion for c in ev.scores] == [c.criterion for c in scenario.rubric]
    for c in ev.scores:
        assert c.score in [lv.score for lv in next(
            r for r in scenario.rubric if r.criterion == c.criterion).levels]
    assert ev.similarity is not None and -1.0 <= ev.similarity <= 1.0
    assert 0.0 <= ev.overall <= 1.0
    assert ev.strengths and ev.improvements and ev.model_response.strip()
    assert ev.attempts >= 1


@pytest.mark.parametrize(("description", "grade"), [
    ("A shy student who has difficulties speaking up in class", None),
    ("A student uses a phone during a test", "9-12"),
])
def test_draft_with_the_real_model_is_valid(engine: Any, description: str,
                                            grade: str | None) -> None:
    result = draft_scenario(engine, description, grade=grade)
    scenario = validate_object(result.obj)
    assert scenario.title.startswith("A ")
    if grade:
        assert scenario.grade_band == grade


def test_run_with_piped_input(tmp_path: Any) -> None:
    """`teachbot practice run ID` with piped stdin: card, student lines, feedback, stored."""
    import json

    from .conftest import run_cli

    home = tmp_path / "home"
    home.mkdir()
    proc = run_cli(home, "practice", "run", "shy-student-speaking-up", "--json",
                   input="Take your time, you can tell your partner first.\n/done\n",
                   timeout=1500)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert [t["role"] for t in data["turns"]] == ["student", "teacher", "student"]
    assert data["evaluation"]["scores"] and -1 <= data["evaluation"]["similarity"] <= 1
