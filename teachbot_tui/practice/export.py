"""Practice sessions as training data for ``teachbot-train prepare`` (the loop from practice
to a better local model).

For every stored session in which the trainee said something, two kinds of record are
written (the format is :mod:`teachbot_tui.training_format`):

* a **chat record**: system = the coach's system prompt; user = the scenario context
  (situation, students) and the conversation (student turns and the trainee's responses),
  ending in the question a teacher asks; assistant (the target) = the **ideal response**:
  the corrected one marked with ``teachbot practice ideal`` (or in the app), else the
  scenario's expert response. ``feedback`` holds the coach's evaluation as text (for people
  reading the file; never trained on); ``meta`` holds the scenario, category, session id,
  scores and where the target came from.
* a **preference pair** ``{prompt, chosen, rejected}``: prompt = the scenario context and
  the student's lines, chosen = the ideal response, rejected = the trainee's response. It
  is written when the ideal response was corrected by hand, or the session was not
  evaluated, or it was evaluated below :data:`PAIR_BELOW` (an excellent answer is not a
  "rejected" one).

Records that would teach the same thing twice are written once (``prepare`` rejects
duplicates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DEFAULT_SYSTEM_PROMPT
from ..training_format import ChatRecord, PreferencePair, write_jsonl
from .coach import Evaluation
from .results import PracticeStore, StoredSession
from .session import PracticeError

__all__ = ["ExportReport", "export_sessions", "session_records"]

PAIR_BELOW = 0.75
QUESTION = "How should I respond?"
SOURCE = "practice"


@dataclass
class ExportReport:
    out: str
    sessions: int = 0
    chats: int = 0
    pairs: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _context(stored: StoredSession) -> str:
    s = stored.session.scenario
    students = "\n".join(
        f"- {st.name} ({st.age_or_grade}): {', '.join(st.traits)}"
        + (f"; needs: {', '.join(st.needs)}" if st.needs else "")
        for st in s.students)
    work = s.student_work
    shown = (f"\n\nThe problem: {work.problem}\nThe student's working: {work.working}"
             if work is not None else "")
    return (f"Classroom scenario ({s.grade_band}, {s.subject}, {s.category}): {s.title}\n\n"
            f"{s.situation.strip()}{shown}\n\nStudents:\n{students}")


def feedback_text(evaluation: Evaluation) -> str:
    lines = [f"Overall {round(evaluation.overall * 100)}%"
             + (f", similarity to the expert response {evaluation.similarity:.2f}"
                if evaluation.similarity is not None else "")]
    lines += [f"{c.criterion}: {c.score}/{c.max_score}" for c in evaluation.scores]
    if evaluation.strengths:
        lines.append("Strengths: " + " | ".join(evaluation.strengths))
    if evaluation.improvements:
        lines.append("To improve: " + " | ".join(evaluation.improvements))
    return "\n".join(lines)


def session_records(stored: StoredSession, system_prompt: str = DEFAULT_SYSTEM_PROMPT
                    ) -> list[ChatRecord | PreferencePair]:
    """The records of one session (none when the trainee said nothing)."""
    session = stored.session
    trainee = session.teacher_text()
    if not trainee.strip():
        return []
    scenario = session.scenario
    corrected = bool(session.ideal_response and session.ideal_response.strip())
    ideal = session.ideal_response.strip() if corrected and session.ideal_response \
        else scenario.expert_response.as_text()
    ev = stored.evaluation
    meta: dict[str, Any] = {
        "category": scenario.category, "scenario": scenario.id, "session": session.id,
        "grade_band": scenario.grade_band, "subject": scenario.subject,
        "target": "corrected" if corrected else "expert",
        "trainee_response": trainee,
    }
    if ev is not None:
        meta["overall"] = round(ev.overall, 4)
        meta["similarity"] = None if ev.similarity is None else round(ev.similarity, 4)
        meta["scores"] = {c.criterion: c.score for c in ev.scores}
    context = _context(stored)
    transcript = session.transcript(teacher_label="Me (teacher)")
    system = {"role": "system", "content": system_prompt}
    chat = ChatRecord(
        messages=[system,
                  {"role": "user", "content": f"{context}\n\nWhat happened so far:\n"
                                              f"{transcript}\n\n{QUESTION}"},
                  {"role": "assistant", "content": ideal}],
        source=SOURCE, meta=meta, feedback=feedback_text(ev) if ev is not None else None)
    records: list[ChatRecord | PreferencePair] = [chat]
    wants_pair = corrected or ev is None or ev.overall < PAIR_BELOW
    if wants_pair and " ".join(trainee.split()).lower() != " ".join(ideal.split()).lower():
        students = "\n".join(f"{t.speaker}: {t.text}" for t in session.turns
                             if t.role == "student")
        prompt = [system, {"role": "user",
                           "content": f"{context}\n\nThe student says:\n{students}\n\n{QUESTION}"}]
        records.append(PreferencePair(prompt=prompt, chosen=ideal, rejected=trainee,
                                      source=SOURCE, meta=dict(meta)))
    return records


def _key(record: ChatRecord | PreferencePair) -> str:
    def norm(text: str) -> str:
        return " ".join(text.split()).casefold()

    if isinstance(record, ChatRecord):
        turns = [(m["role"], norm(m["content"])) for m in record.messages
                 if m["role"] != "system"]
    else:
        turns = [(m["role"], norm(m["content"])) for m in record.prompt if m["role"] != "system"]
        turns += [("chosen", norm(record.chosen)), ("rejected", norm(record.rejected))]
    return json.dumps(turns, ensure_ascii=False)


def export_sessions(store: PracticeStore, out: Path,
                    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
                    session_ids: list[int] | None = None) -> ExportReport:
    """Write every session (or the given ones) as training JSONL to ``out``."""
    ids = session_ids if session_ids is not None else [s.id for s in reversed(store.list())]
    report = ExportReport(str(out))
    records: list[ChatRecord | PreferencePair] = []
    seen: set[str] = set()
    for sid in ids:
        try:
            stored = store.get(sid)
        except PracticeError as exc:
            report.skipped.append(str(exc))
            continue
        found = session_records(stored, system_prompt)
        if not found:
            report.skipped.append(f"session {sid}: the trainee said nothing")
            continue
        report.sessions += 1
        for r in found:
            key = _key(r)
            if key in seen:
                continue
            seen.add(key)
            records.append(r)
            if isinstance(r, ChatRecord):
                report.chats += 1
            else:
                report.pairs += 1
    if not records:
        raise PracticeError("nothing to export: no practice session has a trainee response "
                            "yet; run `teachbot practice run ID` first")
    try:
        write_jsonl(out, records)
    except OSError as exc:
        raise PracticeError(f"{out}: cannot write ({exc.strerror or exc}); pick another "
                            "path") from None
    return report
