"""A practice session: the scenario card, the student role-play, and the transcript.

The model plays the student(s); the trainee answers as the teacher. Small models drift out
of character easily, so the role-play is held in place from several sides:

* the **prompt** is a persona card (name, age, traits, needs, voice, the situation) in the
  system message, and the student's own opening line (from the persona's ``voice``) as the
  first assistant turn, so the model continues a voice it has already "used";
* **decoding** is short (``max_tokens`` 80), cool (temperature 0.3) and stopped at a new
  speaker label (``Teacher:``) or a blank line;
* the reply is **post-processed** (:func:`clean_reply`): speaker labels are removed, the text
  is cut where another speaker starts, and kept to at most three sentences;
* a reply that is empty, speaks as the teacher, or repeats an earlier line is generated once
  more, then replaced by a line in the persona's own voice (:func:`fallback_line`).

Nothing here touches SQLite or a UI: :mod:`.results` stores sessions, the CLI and the TUI show
them.
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..engine.base import Cancel, ChatModel, EngineError, Message, Options
from ..text import split_sentences
from .scenarios import Scenario, Student

__all__ = [
    "PracticeError",
    "PracticeSession",
    "StudentSimulator",
    "Turn",
    "clean_reply",
    "fallback_line",
    "opening_line",
    "scenario_card",
    "voice_quotes",
    "warm_structured",
]

STUDENT_MAX_TOKENS = 80
STUDENT_TEMPERATURE = 0.3
MAX_SENTENCES = 3
MAX_REPLY_CHARS = 320
DONE_COMMANDS = ("/done", "/evaluate")


class PracticeError(Exception):
    """A practice operation cannot be done; the message is one line saying what to do."""


@dataclass
class Turn:
    role: str
    """``student`` or ``teacher``."""
    speaker: str
    """The student's name, or ``Teacher``."""
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "speaker": self.speaker, "text": self.text}


@dataclass
class PracticeSession:
    """One run through a scenario: its turns, and (once stored) its id."""

    scenario: Scenario
    turns: list[Turn] = field(default_factory=list)
    id: int | None = None
    ideal_response: str | None = None

    @property
    def teacher_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == "teacher"]

    def teacher_text(self) -> str:
        """Everything the trainee said, in order: what the coach evaluates."""
        return "\n".join(t.text.strip() for t in self.teacher_turns if t.text.strip())

    def transcript(self, teacher_label: str = "Teacher") -> str:
        lines = []
        for t in self.turns:
            who = f"Student ({t.speaker})" if t.role == "student" else teacher_label
            lines.append(f"{who}: {t.text.strip()}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the card


def _student_line(s: Student) -> str:
    needs = f"; needs: {', '.join(s.needs)}" if s.needs else ""
    return f"{s.name} ({s.age_or_grade}): {', '.join(s.traits)}{needs}"


def scenario_card(scenario: Scenario) -> str:
    """The scenario card that opens a session, as plain text."""
    lines = [
        scenario.title,
        f"{scenario.grade_band} · {scenario.subject} · {scenario.category} · id {scenario.id}",
        "",
        scenario.situation.strip(),
        "",
        *([f"Problem: {scenario.student_work.problem}",
           f"{scenario.students[0].name}'s working: {scenario.student_work.working}", ""]
          if scenario.student_work is not None else []),
        "Students:",
        *(f"  - {_student_line(s)}" for s in scenario.students),
        "",
        "Practise:",
        *(f"  - {o}" for o in scenario.learning_objectives),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- voice

_QUOTE = re.compile(r"[\"“]([^\"”]{2,240})[\"”]")


def voice_quotes(student: Student) -> list[str]:
    """Example lines from the persona's ``voice`` ("Bouncy ("I know! Can I do it?")")."""
    return [q.strip() for q in _QUOTE.findall(student.voice) if q.strip()]


def opening_line(scenario: Scenario) -> Turn:
    """The student's first line, derived from the scenario (no model needed): the first
    example line of the first student's voice, else a line of theirs quoted in the
    situation, else a short in-character reaction."""
    student = scenario.students[0]
    quotes = voice_quotes(student)
    if quotes:
        return Turn("student", student.name, quotes[0])
    for q in _QUOTE.findall(scenario.situation):
        if len(q.split()) >= 2:
            return Turn("student", student.name, q.strip())
    return Turn("student", student.name, fallback_line(student, []))


_GENERIC = (
    "I don't know.",
    "What? I wasn't doing anything.",
    "Do I have to?",
    "Okay... I guess.",
)


def fallback_line(student: Student, said: list[str]) -> str:
    """A line in the persona's own voice that was not said yet (the role-play's safety net)."""
    pool = [*voice_quotes(student)]
    for q in pool:
        for sentence in split_sentences(q):
            if sentence not in said and sentence not in pool:
                pool.append(sentence)
    pool += list(_GENERIC)
    for line in pool:
        if line not in said:
            return line
    return f"({student.name} shrugs and looks away.)"


# --------------------------------------------------------------------------- cleaning

_LABEL = re.compile(r"^\s*(?:\*\*)?([A-Z][\w .'-]{0,30}?)(?:\*\*)?\s*(?:\([^)]{0,30}\))?\s*:\s*")
_TEACHERISH = re.compile(
    r"\b(as (?:your|a) teacher|i am your teacher|i'm your teacher|class, |students, "
    r"let's all|everyone, (?:please|let's))", re.IGNORECASE)


def _addresses(text: str, name: str) -> bool:
    """Whether ``text`` talks *to* ``name`` ("Okay, Mei." / "Mei, ..."): then it is the
    teacher speaking, not the student."""
    n = re.escape(name)
    return bool(re.search(rf"(?:^|[,;.!?]\s*){n}\s*[,.!?]|,\s*{n}\b", text))


def clean_reply(text: str, names: list[str], speaker: str | None = None) -> str | None:
    """The student's line out of raw model text, or None when it is unusable (empty, spoken
    as the teacher, or addressing the student ``speaker`` by name). Removes speaker labels,
    cuts where another speaker starts, keeps at most three sentences."""
    text = text.replace("\r", "").strip()
    if not text:
        return None
    known = {n.lower() for n in names} | {"student", "students"}
    label = _LABEL.match(text)
    if label:
        who = label.group(1).strip().lower()
        if who.startswith(("teacher", "mr", "ms", "mrs", "miss", "sir", "coach")):
            return None
        if who in known or who.split()[0] in known:
            text = text[label.end():]
    # cut at a line that starts a new speaker (or an empty line)
    lines: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            if lines:
                break
            continue
        if lines and _LABEL.match(line):
            break
        lines.append(line.strip())
    text = " ".join(lines)
    for marker in ("Teacher:", "TEACHER:", "Teacher (", "<|", "###"):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    text = text.strip().strip('"“”').strip()
    if not text or _TEACHERISH.search(text):
        return None
    if speaker and _addresses(text, speaker):
        return None
    sentences = split_sentences(text)[:MAX_SENTENCES]
    text = " ".join(sentences)
    if len(text) > MAX_REPLY_CHARS:
        text = text[:MAX_REPLY_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text if re.search(r"\w", text) else None


# --------------------------------------------------------------------------- role-play


def _persona(scenario: Scenario, student: Student) -> str:
    others = [s for s in scenario.students if s is not student]
    parts = [
        f"You are {student.name}, a student ({student.age_or_grade}) in a {scenario.subject} "
        f"lesson. You are {', '.join(student.traits)}.",
    ]
    if student.needs:
        parts.append(f"Your needs: {', '.join(student.needs)}.")
    parts.append(f"How you talk: {student.voice}")
    parts.append(f"What is happening: {scenario.situation.strip()}")
    work = scenario.student_work
    if work is not None:
        parts.append(f"Your working on {work.problem}: {work.working} (you believe it is "
                     "right until the teacher helps you see otherwise).")
    if others:
        parts.append("Also there: " + "; ".join(_student_line(s) for s in others) + ".")
    parts.append(
        f"The user is your teacher. Answer only as {student.name}, in one to three short "
        f"sentences, the way a student of that age talks. Stay in character; never speak as "
        f"the teacher and never give advice.")
    return "\n".join(parts)


def _speaker_for(scenario: Scenario, turns: list[Turn]) -> Student:
    """The student who answers: one the teacher named in the last turn, else the first."""
    last = next((t.text for t in reversed(turns) if t.role == "teacher"), "")
    for s in scenario.students:
        if re.search(rf"\b{re.escape(s.name)}\b", last, re.IGNORECASE):
            return s
    return scenario.students[0]


_WARMED: weakref.WeakSet[Any] = weakref.WeakSet()


def warm_structured(engine: Any, background: bool = True) -> None:
    """Prepare the engine's JSON decoding (which the coach uses after the role-play) once
    per engine, in a background thread unless ``background`` is False. Engines without
    ``warm_structured`` need nothing."""
    warm = getattr(engine, "warm_structured", None)
    if warm is None:
        return
    with contextlib.suppress(TypeError):  # an engine that cannot be weak-referenced
        if engine in _WARMED:
            return
        _WARMED.add(engine)

    def run() -> None:
        with contextlib.suppress(Exception):
            warm()

    if background:
        threading.Thread(target=run, name="warm-structured", daemon=True).start()
    else:
        run()


class StudentSimulator:
    """Plays the scenario's student(s) with a chat model (and, as the coach will follow,
    prepares the engine's JSON decoding in the background)."""

    def __init__(self, engine: ChatModel, temperature: float = STUDENT_TEMPERATURE,
                 max_tokens: int = STUDENT_MAX_TOKENS) -> None:
        self.engine = engine
        self.temperature = temperature
        self.max_tokens = max_tokens
        warm_structured(engine)

    def messages(self, scenario: Scenario, turns: list[Turn], student: Student) -> list[Message]:
        """The chat sent to the model: the persona card, then the conversation, student lines
        as the assistant's (prefixed with the name when several students speak)."""
        several = len(scenario.students) > 1
        msgs: list[Message] = [{"role": "system", "content": _persona(scenario, student)}]
        for t in turns:
            if t.role == "student":
                text = f"{t.speaker}: {t.text}" if several and t.speaker != student.name \
                    else t.text
                if msgs[-1]["role"] == "assistant":
                    msgs[-1]["content"] += " " + text
                else:
                    msgs.append({"role": "assistant", "content": text})
            else:
                if msgs[-1]["role"] == "user":
                    msgs[-1]["content"] += "\n" + t.text
                else:
                    msgs.append({"role": "user", "content": t.text})
        # keep within the context: drop the oldest exchanges first
        budget = max(256, self.engine.n_ctx - self.max_tokens - 16)
        while len(msgs) > 3 and self.engine.count_prompt_tokens(msgs) > budget:
            del msgs[1:3]
            if msgs[1]["role"] == "assistant":
                msgs.insert(1, {"role": "user", "content": "(continuing)"})
        return msgs

    def reply(self, scenario: Scenario, turns: list[Turn], cancel: Cancel | None = None) -> Turn:
        """The next student line (never empty; never the teacher's voice)."""
        student = _speaker_for(scenario, turns)
        said = [t.text for t in turns if t.role == "student"]
        names = [s.name for s in scenario.students]
        msgs = self.messages(scenario, turns, student)
        stops = ["\nTeacher", "Teacher:", "\n\n", "<|im_end|>", "\nUser:"]
        for attempt in range(2):
            opts = Options(max_tokens=self.max_tokens,
                           temperature=self.temperature + 0.3 * attempt,
                           stop=stops, repeat_penalty=1.15, seed=attempt, adapter=False)
            try:
                raw = "".join(self.engine.execute(msgs, opts, cancel))
            except EngineError:
                raise
            except Exception as exc:  # noqa: BLE001 - a model failure is one line for the user
                raise EngineError(f"the student's reply failed: {exc}") from None
            if cancel is not None and cancel.is_set:
                break
            line = clean_reply(raw, names, student.name)
            if line and line not in said:
                return Turn("student", student.name, line)
        return Turn("student", student.name, fallback_line(student, said))


def session_dict(session: PracticeSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "scenario": session.scenario.id,
        "turns": [t.as_dict() for t in session.turns],
        "ideal_response": session.ideal_response,
    }
