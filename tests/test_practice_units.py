"""Practice mode without a real model: role-play cleaning, the coach's validation, repair and
blending, drafting with repair, results and progress. (Real-model tests: test_practice_real.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teachbot_tui.engine.base import Cancel, Message, Options, Usage
from teachbot_tui.engine.fake import FakeEngine
from teachbot_tui.paths import Paths
from teachbot_tui.practice.coach import Coach, Evaluation, evaluation_schema, parse_partial_json
from teachbot_tui.practice.draft import draft_scenario, draft_schema, repair, save_scenario, slug
from teachbot_tui.practice.results import PracticeStore, progress_text, sparkline
from teachbot_tui.practice.scenarios import load_bank, validate_file, validate_object
from teachbot_tui.practice.session import (
    PracticeError,
    PracticeSession,
    StudentSimulator,
    Turn,
    clean_reply,
    fallback_line,
    opening_line,
)

from .fakes import JsonFakeEngine, fake_json


def scenario(sid: str = "shy-student-speaking-up") -> Any:
    return next(s for s in load_bank() if s.id == sid)


def session_with(text: str, sid: str = "shy-student-speaking-up") -> PracticeSession:
    s = scenario(sid)
    return PracticeSession(s, [opening_line(s), Turn("teacher", "Teacher", text)])


# --------------------------------------------------------------------------- role-play


def test_opening_line_is_the_students_voice() -> None:
    s = scenario()
    turn = opening_line(s)
    assert turn.role == "student" and turn.speaker == s.students[0].name
    assert turn.text and turn.text in s.students[0].voice
    for sc in load_bank():  # every bank scenario opens with a non-empty student line
        assert opening_line(sc).text.strip()


@pytest.mark.parametrize(("raw", "expected"), [
    ("Mei: I don't know.\nTeacher: Okay.", "I don't know."),
    ('"Maybe... the ice melts?"', "Maybe... the ice melts?"),
    ("One. Two! Three? Four.", "One. Two! Three?"),
    ("Teacher: Let's begin.", None),
    ("Okay, Mei. Let's talk about it.", None),
    ("As your teacher I think", None),
    ("", None),
])
def test_clean_reply(raw: str, expected: str | None) -> None:
    assert clean_reply(raw, ["Mei"], "Mei") == expected


def test_student_reply_falls_back_in_character() -> None:
    s = scenario()
    engine = FakeEngine("Teacher: Now class, open your books.")
    turns = [opening_line(s), Turn("teacher", "Teacher", "Mei, what do you think?")]
    reply = StudentSimulator(engine).reply(s, turns)
    assert reply.role == "student" and reply.text
    assert not reply.text.lower().startswith("teacher")
    assert len(engine.calls) == 2  # tried twice, then the persona's own line
    assert reply.text == fallback_line(s.students[0], [turns[0].text])


def test_student_prompt_has_persona_and_history() -> None:
    s = scenario()
    engine = FakeEngine("Um... okay.")
    turns = [opening_line(s), Turn("teacher", "Teacher", "Would you share with a partner?")]
    reply = StudentSimulator(engine).reply(s, turns)
    assert reply.text == "Um... okay."
    sent = engine.calls[0]
    assert sent[0]["role"] == "system" and s.students[0].name in sent[0]["content"]
    assert s.students[0].voice in sent[0]["content"]
    assert [m["role"] for m in sent[1:]] == ["assistant", "user"]


def test_named_student_answers_in_a_multi_student_scenario() -> None:
    s = next(sc for sc in load_bank() if len(sc.students) > 1)
    second = s.students[1]
    turns = [opening_line(s), Turn("teacher", "Teacher", f"{second.name}, what happened?")]
    reply = StudentSimulator(FakeEngine("It wasn't me.")).reply(s, turns)
    assert reply.speaker == second.name


# --------------------------------------------------------------------------- the coach


def test_partial_json_is_closed() -> None:
    assert parse_partial_json('{"a": ["x", "y') == {"a": ["x", "y"]}
    assert parse_partial_json('{"a": {"b": 2}, "c": "d') == {"a": {"b": 2}, "c": "d"}
    assert parse_partial_json('{"a": 1, "b"') == {"a": 1}


def test_schema_allows_only_each_criterions_levels() -> None:
    s = scenario()
    schema = evaluation_schema(s)
    props = schema["properties"]["scores"]["properties"]
    assert set(props) == {c.criterion for c in s.rubric}
    assert all(p["enum"] == [1, 2, 3, 4] for p in props.values())


def test_check_repairs_scores() -> None:
    s = scenario()
    obj = {"scores": {"Professional Conduct": 7, "student support": 2},
           "strength": "  You gave Mei\ntime to think ", "improvement": "ok"}
    clean, problems = Coach.check(obj, s)
    assert clean["scores"]["professional conduct"] == 4  # snapped into the levels
    assert clean["scores"]["student support"] == 2
    assert "pedagogical approach" not in clean["scores"]
    assert clean["strength"] == "You gave Mei time to think"
    assert clean["improvement"] == ""  # under three words: not a comment
    assert "'improvement' is empty" in problems
    assert any("no score for 'pedagogical approach'" in p for p in problems)
    assert Coach.check("nonsense", s)[1] == ["the output is not a JSON object"]


def test_evaluation_blends_model_and_signals() -> None:
    session = session_with("That's okay Mei, take your time. Tell your partner first, then "
                           "we can share together. I'll check in with you after class.")
    engine = JsonFakeEngine()
    ev = Coach(engine, None, None).evaluate(session)
    assert ev.used_model and ev.attempts == 1
    assert [c.criterion for c in ev.scores] == [c.criterion for c in session.scenario.rubric]
    for c in ev.scores:
        assert c.model_score == 4 and c.min_score <= c.score <= c.max_score
        assert 0.0 <= c.signal <= 1.0
    assert 0.0 <= ev.overall <= 1.0
    assert ev.strengths and ev.improvements and ev.model_response
    assert ev.similarity is None  # no embedder
    assert Evaluation.from_dict(json.loads(json.dumps(ev.as_dict()))).scores == ev.scores
    # the JSON schema was sent to the engine
    assert engine.options[-1] is not None and engine.options[-1].json_schema is not None


def test_evaluation_retries_then_falls_back_without_crashing() -> None:
    session = session_with("Stop talking and sit down now.")
    engine = JsonFakeEngine(json_reply="{not json at all")
    ev = Coach(engine, None, None).evaluate(session)
    assert ev.attempts == 2  # one repair-and-retry
    assert not ev.used_model
    assert all(c.model_score is None for c in ev.scores)
    assert ev.model_response_source == "expert"
    assert ev.model_response == session.scenario.expert_response.as_text()
    assert ev.notes


def test_repair_prompt_is_sent_on_retry() -> None:
    session = session_with("I would give her wait time and a partner to talk to first.")

    def reply(schema: dict[str, Any], n: int) -> str:
        obj = fake_json(schema)
        if n == 1:
            del obj["scores"]["student support"]
        return json.dumps(obj)

    engine = JsonFakeEngine(json_reply=reply)
    ev = Coach(engine, None, None).evaluate(session)
    assert ev.attempts == 2 and ev.used_model
    assert "not usable" in engine.calls[1][-1]["content"]
    assert all(c.model_score == 4 for c in ev.scores)


class StreamingJsonEngine(JsonFakeEngine):
    """Streams its JSON reply a few characters at a time, as a real engine does."""

    def execute(self, messages: list[Message], options: Options | None = None,
                cancel: Cancel | None = None, usage: Usage | None = None) -> Iterator[str]:
        text = "".join(super().execute(messages, options, cancel, usage))
        return iter([text[i:i + 3] for i in range(0, len(text), 3)])


def test_coach_prompt_extends_the_role_play_prompt() -> None:
    """The coach sends the role-play's own prompt, then its request: llama.cpp reuses the
    role-play's cached prompt."""
    s = scenario()
    engine = JsonFakeEngine()
    session = session_with("Take your time, Mei. Tell your partner first.")
    session.turns.append(Turn("student", "Mei", "Um... okay. Can Ana go first?"))
    sent = Coach(engine, None, None).messages(session)
    role_play = StudentSimulator(engine).messages(s, session.turns, s.students[0])
    assert sent[:-1] == role_play and sent[-1]["role"] == "user"
    request = sent[-1]["content"]
    assert all(c.criterion in request for c in s.rubric)
    assert s.expert_response.key_principles[0] in request
    # the teacher spoke last: the request joins their message (roles keep alternating)
    ended = session_with("Mei, would you like to tell your partner first?")
    sent = Coach(engine, None, None).messages(ended)
    assert [m["role"] for m in sent] == ["system", "assistant", "user"]
    assert sent[-1]["content"].startswith("Mei, would you like to tell your partner first?")
    assert sent[-1]["content"].endswith(request)


def test_evaluation_streams_signals_first_then_the_models_part() -> None:
    session = session_with("That's okay Mei, take your time. Tell your partner first, then "
                           "we can share together. I'll check in with you after class.")
    updates: list[Evaluation] = []
    ev = Coach(StreamingJsonEngine(), None, None).evaluate(session, on_update=updates.append)
    assert len(updates) >= 3 and all(u.pending for u in updates) and not ev.pending
    first = updates[0]
    assert all(c.model_score is None for c in first.scores)  # the signals alone, at once
    assert first.improvements and first.model_response == ev.model_response
    filled = [sum(c.model_score is not None for c in u.scores) for u in updates]
    assert filled == sorted(filled) and filled[-1] == len(session.scenario.rubric)
    assert all(c.model_score == 4 for c in ev.scores) and ev.used_model
    assert ev.strengths[0] == "Speak with the student privately and calmly"  # the model's
    assert "Speak with the student privately and calmly" in ev.improvements


def test_signal_extractors_plug_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from teachbot_tui.practice import signals

    def wait_time(ctx: signals.SignalContext) -> list[signals.Finding]:
        hit = [x for x in ctx.sentences if "take your time" in x.lower()]
        return [signals.Finding("wait_time", "strength", "You gave the student time.", hit[0])] \
            if hit else []

    monkeypatch.setattr(signals, "EXTRACTORS", [wait_time])
    report = signals.compute(scenario(), "Take your time, Mei. Tell your partner first.")
    assert report.findings[-1].evidence == "Take your time, Mei."
    ev = Coach(None, None, None).evaluate(session_with("Take your time, Mei. Tell your "
                                                       "partner first."))
    assert "You gave the student time." in ev.strengths
    assert not ev.used_model and ev.model_response_source == "expert"


def test_evaluations_stored_by_older_versions_still_load() -> None:
    old = {"scores": [{"criterion": "student support", "score": 3, "min_score": 1,
                       "max_score": 4, "weight": 1.0, "descriptor": "d", "model_score": 3,
                       "signal": 0.5}],
           "overall": 0.67, "similarity": 0.4, "coverage": 0.5, "principles_covered": [],
           "principles_missed": [], "mistakes_spotted": [], "strengths": ["a b c"],
           "improvements": ["d e f"], "model_response": "Say it kindly.",
           "model_response_source": "model", "citations": [], "model": "default",
           "used_model": True, "attempts": 1, "notes": []}
    ev = Evaluation.from_dict(old)
    assert ev.model_response_source == "model" and not ev.pending
    assert ev.scores[0].fraction == pytest.approx(2 / 3)


def test_nothing_to_evaluate() -> None:
    s = scenario()
    with pytest.raises(PracticeError):
        Coach(JsonFakeEngine(), None, None).evaluate(PracticeSession(s, [opening_line(s)]))


def test_citations_from_library_above_threshold() -> None:
    from types import SimpleNamespace

    from .tui_helpers import FakeLibrary

    session = session_with("Speak to her privately and agree a signal.")
    coach = Coach(None, None, FakeLibrary.sample(), SimpleNamespace(retrieval_threshold=0.5))
    ev = coach.evaluate(session)
    assert ev.citations and ev.citations[0]["path"].endswith("behaviour-plan.md")
    coach.settings = SimpleNamespace(retrieval_threshold=0.9)
    assert coach.evaluate(session).citations == []


# --------------------------------------------------------------------------- draft


def test_draft_with_fake_model_validates(tmp_path: Path) -> None:
    engine = JsonFakeEngine()
    result = draft_scenario(engine, "A shy student who has difficulties speaking up in class",
                            grade="3-5", subject="Science")
    assert result.scenario.id == "a-shy-student-who-has-difficulties-speaking-up-in-class"
    assert result.scenario.grade_band == "3-5" and result.scenario.subject == "Science"
    assert result.scenario.uses_default_rubric and "rubric" not in result.obj
    validate_object(result.obj)
    path = save_scenario(result.obj, tmp_path)
    assert validate_file(path)[0].id == result.scenario.id
    again = save_scenario(result.obj, tmp_path)  # never overwrites
    assert again != path and validate_file(again)


def test_draft_schema_forces_given_grade_and_subject() -> None:
    schema = draft_schema("K-2", "Art")
    assert schema["properties"]["grade_band"] == {"enum": ["K-2"]}
    assert schema["properties"]["subject"] == {"enum": ["Art"]}


def test_draft_repairs_partial_output() -> None:
    partial = {"students": [{"name": "Lea", "age_or_grade": 7, "traits": ["quiet", "quiet"],
                             "needs": [], "learning_style": "", "voice": "soft soft soft soft"}],
               "situation": "Lea hides under the table during maths.",
               "learning_objectives": ["Stay calm"],
               "expert_response": {"immediate_action": "Kneel down and speak softly.",
                                   "follow_up": "Call home.", "prevention": "Plan breaks.",
                                   "key_principles": ["calm", "safety"]},
               "common_mistakes": [{"mistake": "Shouting.", "why": "", "better": ""}],
               "category": "nonsense"}
    obj = repair(partial, "A kindergarten child hides under the table")
    s = validate_object(obj)
    assert s.grade_band == "K-2" and s.category in ("behaviour", "social-emotional")
    assert s.students[0].traits == ("quiet",) and s.students[0].age_or_grade == "7"
    assert s.students[0].voice == "soft"
    assert slug("  !! ") == "scenario"


def test_draft_gives_up_with_one_line_error() -> None:
    engine = JsonFakeEngine(json_reply="{}")
    with pytest.raises(PracticeError) as info:
        draft_scenario(engine, "A student who keeps leaving the room", attempts=2)
    assert "2 attempts" in str(info.value) and "\n" not in str(info.value)
    assert len(engine.calls) == 2


# --------------------------------------------------------------------------- results


def test_store_sessions_evaluations_and_progress(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "c", tmp_path / "d", tmp_path / "x")
    store = PracticeStore(paths)
    coach = Coach(JsonFakeEngine(), None, None)
    s1 = store.start(scenario(), model="fake", turns=[opening_line(scenario())])
    store.add_turn(s1, Turn("teacher", "Teacher", "Take your time, Mei. Tell your partner."))
    store.save_evaluation(s1, coach.evaluate(s1))
    s2 = store.start(scenario("consistent-disruptor-maths"))
    store.add_turn(s2, Turn("teacher", "Teacher", "Out."))
    store.save_evaluation(s2, Coach(None, None, None).evaluate(s2))
    store.set_ideal(s2.id or 0, "Stay calm and redirect privately.")
    stored = store.get(s2.id or 0)
    assert stored.session.ideal_response == "Stay calm and redirect privately."
    assert stored.evaluation is not None and stored.session.turns[0].text == "Out."
    assert [i.id for i in store.list()] == [s2.id, s1.id]
    data = store.progress()
    assert data["evaluated"] == 2 and data["sessions"] == 2
    names = {c["name"] for c in data["criteria"]}
    assert "professional conduct" in names
    cats = {c["name"]: c for c in data["categories"]}
    assert set(cats) == {scenario().category, scenario("consistent-disruptor-maths").category}
    assert len(cats) == 2  # the two scenarios are of different categories
    assert any(r["scenario"] == "consistent-disruptor-maths" for r in data["revisit"])
    text = progress_text(data)
    assert "professional conduct" in text and "revisit" in text
    with pytest.raises(PracticeError):
        store.get(999)
    with pytest.raises(PracticeError):
        store.set_ideal(999, "x")
    store.close()


def test_sparkline() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
