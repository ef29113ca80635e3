"""Practice mode with the real default model (SmolLM2-135M) and embedder (MiniLM): a whole
session (role-play and evaluation), and drafting scenarios. Slow."""

from __future__ import annotations

import json
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
    updates: list[Any] = []
    ev = Coach(engine, embedder).evaluate(session, on_update=updates.append)
    assert updates and updates[0].pending and not ev.pending
    assert all(c.model_score is None for c in updates[0].scores)
    assert updates[0].similarity == ev.similarity  # the signals are there at once
    assert [c.criterion for c in ev.scores] == [c.criterion for c in scenario.rubric]
    for c in ev.scores:
        assert c.score in [lv.score for lv in next(
            r for r in scenario.rubric if r.criterion == c.criterion).levels]
    assert ev.similarity is not None and -1.0 <= ev.similarity <= 1.0
    assert 0.0 <= ev.overall <= 1.0
    assert ev.strengths and ev.improvements and ev.model_response.strip()
    assert ev.attempts >= 1


def test_coach_reads_only_its_request_after_the_role_play(engine: Any) -> None:
    """The coach's prompt starts with the role-play's: llama.cpp reuses its KV cache."""
    from teachbot_tui.engine.base import Options, Usage
    from teachbot_tui.practice.coach import evaluation_schema

    scenario = next(s for s in load_bank() if s.id == "adhd-carpet-time")
    session = PracticeSession(scenario, [opening_line(scenario), Turn(
        "teacher", "Teacher", "Mateo, come and sit by me and hold the sound cards for us.")])
    simulator = StudentSimulator(engine)
    role_play = simulator.messages(scenario, session.turns, scenario.students[0])
    session.turns.append(simulator.reply(scenario, session.turns))
    coach = Coach(engine)
    usage = Usage()
    opts = Options(max_tokens=coach.max_tokens, temperature=0.2, seed=0,
                   json_schema=evaluation_schema(scenario), adapter=False)  # as the coach's
    text = "".join(engine.execute(coach.messages(session), opts, None, usage))
    assert usage.cached_tokens >= engine.count_prompt_tokens(role_play) - 8
    assert usage.prompt_tokens - usage.cached_tokens < 400  # the request (and the reply)
    assert Coach.check(json.loads(text), scenario)[0]["scores"]


@pytest.mark.parametrize(("description", "grade"), [
    ("A shy student who has difficulties speaking up in class", None),
    ("A student uses a phone during a test", "9-12"),
])
def test_draft_with_the_real_model_is_valid(engine: Any, description: str,
                                            grade: str | None) -> None:
    result = draft_scenario(engine, description, grade=grade)
    scenario = validate_object(result.obj)
    assert 1 <= result.attempts <= 3
    # the model's own content made it through repair: a named student, a situation, an
    # expert response (the repair only fills defaults where the draft has nothing)
    assert scenario.students[0].name.strip() and scenario.students[0].name != "Student 1"
    assert len(scenario.situation.split()) >= 5
    assert len(scenario.expert_response.immediate_action.split()) >= 3
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
