"""The coach's pedagogical signals, criterion scores and stored exact values, with the real
embedder (MiniLM) and a real SQLite store: each signal fires on a clear example and not on a
clear counter-example, with the sentence that triggered it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from teachbot_tui.library.keywords import stem
from teachbot_tui.practice import pedagogy, signals
from teachbot_tui.practice.coach import Coach, CriterionScore, Evaluation
from teachbot_tui.practice.results import PracticeStore
from teachbot_tui.practice.scenarios import ScenarioError, load_bank, validate_object
from teachbot_tui.practice.session import PracticeSession, Turn, opening_line

BANK = {s.id: s for s in load_bank()}
FRACTIONS = BANK["tutor-adding-fractions"]
SHY = BANK["shy-student-speaking-up"]

GOOD = ("You've been really consistent, Maya. Look at your first line: you added the 2 and the "
        "3 on the bottom. Is 2/5 bigger or smaller than 1/2? Draw a bar in halves and one in "
        "thirds and see if the pieces are the same size.")
TELLS = "No. You can't add the bottoms. The answer is 5/6. Copy it down."
HARSH = "Did you even listen yesterday? That's a silly mistake, you should know this by now."
OFF = "Please hand out the reading books and tidy the trays before assembly."

# (signal, clear example, clear counter-example, the example's evidence sentence (or any of
# several))
CASES = [
    ("names_mistake", GOOD, OFF, "you added the 2 and the 3 on the bottom"),
    ("locates", GOOD, OFF, "Look at your first line"),
    ("guides", GOOD, TELLS, ("Is 2/5 bigger or smaller than 1/2?", "Draw a bar in halves")),
    ("reveals_answer", TELLS, GOOD, "The answer is 5/6."),
    ("next_step", "Nearly there. Redo the first two with sixths, then check with the strips.",
     "Hmm.  That one is interesting.", "Redo the first two with sixths"),
    ("tone_encouraging", GOOD, HARSH, "You've been really consistent, Maya."),
    ("tone_harsh", HARSH, GOOD, ("silly mistake", "Did you even listen")),
    ("on_situation", GOOD, OFF, ""),
]


def _signals(embedder: Any, text: str, scenario: Any = FRACTIONS) -> pedagogy.PedagogySignals:
    return signals.compute(scenario, text, embedder, turns=[text]).pedagogy


@pytest.mark.parametrize(("name", "example", "counter", "evidence"), CASES,
                         ids=[c[0] for c in CASES])
def test_signal_fires_on_a_clear_example_only(embedder: Any, name: str, example: str,
                                              counter: str, evidence: str | tuple[str, ...]
                                              ) -> None:
    hit = _signals(embedder, example).hits[name]
    assert hit.found, (name, hit)
    options = evidence if isinstance(evidence, tuple) else (evidence,)
    assert any(e in hit.evidence for e in options), hit.evidence
    assert hit.evidence in example  # the evidence is the trainee's own sentence
    assert not _signals(embedder, counter).hits[name].found, name


def test_revealing_is_a_penalty_only_where_the_objectives_say_so() -> None:
    assert pedagogy.no_reveal(FRACTIONS)
    assert not pedagogy.no_reveal(SHY)
    report = signals.compute(FRACTIONS, TELLS)  # no embedder: cues and words only
    assert report.pedagogy.penalise_reveal
    assert report.features()["reveals_answer"] > 0.5
    assert any(f.signal == "reveals_answer" and f.kind == "improvement"
               for f in report.findings)


def test_turns_combine_to_their_strongest(embedder: Any) -> None:
    report = signals.compute(FRACTIONS, f"{GOOD} {HARSH}", embedder, turns=[GOOD, HARSH])
    assert len(report.turns) == 2
    assert report.turns[0].hits["guides"].found and not report.turns[1].hits["guides"].found
    assert report.pedagogy.hits["guides"].found
    assert report.pedagogy.tone == "harsh"  # a kind turn does not undo a harsh one


def test_criterion_scores_rank_good_above_poor_and_are_exact(embedder: Any) -> None:
    coach = Coach(None, embedder)
    evals = {}
    for label, text in (("good", GOOD), ("tells", TELLS), ("harsh", HARSH)):
        session = PracticeSession(FRACTIONS, [opening_line(FRACTIONS),
                                              Turn("teacher", "Teacher", text)])
        evals[label] = coach.evaluate(session)
    for crit in range(3):
        good = evals["good"].scores[crit]
        assert good.value is not None
        assert good.value > evals["tells"].scores[crit].value
        assert good.value > evals["harsh"].scores[crit].value
        assert good.min_score <= good.value <= good.max_score
        assert good.score in (1, 2, 3, 4)
    assert evals["good"].overall > 0.6 > evals["tells"].overall
    # the overall is the exact mean, not the mean of the snapped levels
    exact = sum(s.weight * s.value_fraction for s in evals["good"].scores)
    assert evals["good"].overall == pytest.approx(exact)
    found = {s["signal"]: s["evidence"] for s in evals["good"].signals}
    assert "guides" in found and found["guides"] in GOOD
    assert evals["harsh"].tone == "harsh"


def test_exact_scores_are_stored_and_old_results_stay_readable(tmp_path: Path) -> None:
    store = PracticeStore(db_path=tmp_path / "app.db")
    try:
        new = store.start(FRACTIONS, turns=[Turn("teacher", "Teacher", GOOD)])
        scores = [CriterionScore(c.criterion, 3, 1, 4, c.weight, "d", None, 0.5, 2.5)
                  for c in FRACTIONS.rubric]
        ev = Evaluation(scores, 0.5, 0.4, 0.5, [], [], [], [], [], "m", "expert",
                        signals=[{"signal": "guides", "strength": 0.9, "evidence": "Is it?"}],
                        tone="neutral")
        store.save_evaluation(new, ev)
        # an evaluation as older versions stored it: no exact value, no signals
        old = store.start(SHY, turns=[Turn("teacher", "Teacher", "Take your time.")])
        old_dict = ev.as_dict()
        old_dict["scores"] = [{k: v for k, v in s.items() if k != "value"}
                              for s in old_dict["scores"]]
        for key in ("signals", "tone"):
            old_dict.pop(key)
        store.save_evaluation(old, Evaluation.from_dict(old_dict))
        with store._con:
            store._con.execute("UPDATE practice_evaluations SET details=? WHERE session_id=?",
                               (json.dumps(old_dict), old.id))
        loaded_new = store.get(new.id or 0).evaluation
        loaded_old = store.get(old.id or 0).evaluation
        assert loaded_new is not None and loaded_old is not None
        assert loaded_new.scores[0].value == 2.5 and loaded_new.signals[0]["signal"] == "guides"
        assert loaded_old.scores[0].value is None and loaded_old.signals == []
        assert loaded_old.scores[0].value_fraction == pytest.approx(2 / 3)
        progress = store.progress()
        diagnosis = next(c for c in progress["criteria"] if c["name"] == "diagnosis")
        # the exact 2.5 on 1..4, not the snapped 3; the older evaluation falls back to its 3
        assert [p["value"] for p in diagnosis["series"]] == [0.5, 0.6667]
    finally:
        store.close()


def test_tutoring_scenarios_need_their_student_work() -> None:
    tutoring = [s for s in BANK.values() if s.kind == "tutoring"]
    assert len(tutoring) >= 8
    assert {s.grade_band for s in tutoring} == {"K-2", "3-5", "6-8", "9-12"}
    assert validate_object(FRACTIONS.to_dict()) == FRACTIONS
    assert "kind" not in SHY.to_dict() and "student_work" not in SHY.to_dict()
    broken = FRACTIONS.to_dict()
    del broken["student_work"]
    with pytest.raises(ScenarioError, match="student_work: required field missing"):
        validate_object(broken)


def test_practice_stems_words_as_keyword_search_does() -> None:
    assert stem("counting") == stem("counted") == "count"
    assert signals.stems("The students are counting denominators") == {
        stem("students"), stem("counting"), stem("denominators")}


def test_run_feedback_lists_signals_with_evidence(embedder: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from teachbot_tui.practice.cli import _print_evaluation

    session = PracticeSession(FRACTIONS, [opening_line(FRACTIONS),
                                          Turn("teacher", "Teacher", GOOD)])
    _print_evaluation(Coach(None, embedder).evaluate(session))
    out = capsys.readouterr().out
    assert "Signals found (tone: encouraging):" in out
    assert '* locates it: "Look at your first line: you added the 2 and the 3 on the bottom."' \
        in out
    assert "diagnosis" in out and "/4 (" in out  # the shown level and the exact score
