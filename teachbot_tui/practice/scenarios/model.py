"""The scenario data model: frozen dataclasses built from a validated file, the default
rubric used when a scenario brings none, and the one-line :class:`ScenarioError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Student:
    """A student persona the coach plays in character."""

    name: str
    age_or_grade: str
    traits: tuple[str, ...]
    needs: tuple[str, ...]
    learning_style: str
    voice: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "age_or_grade": self.age_or_grade,
            "traits": list(self.traits),
            "needs": list(self.needs),
            "learning_style": self.learning_style,
            "voice": self.voice,
        }


@dataclass(frozen=True)
class RubricLevel:
    score: int
    descriptor: str


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: its weight in the overall score and its score levels (1-4)."""

    criterion: str
    description: str
    weight: float
    levels: tuple[RubricLevel, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "description": self.description,
            "weight": self.weight,
            "levels": [{"score": lv.score, "descriptor": lv.descriptor} for lv in self.levels],
        }


@dataclass(frozen=True)
class ExpertResponse:
    """What an experienced teacher would do: the reference a trainee's answer is compared with."""

    immediate_action: str
    follow_up: str
    prevention: str
    key_principles: tuple[str, ...]

    def as_text(self) -> str:
        """The whole response as one readable block (the reference for embedding similarity)."""
        principles = "; ".join(self.key_principles)
        return (
            f"Immediate action: {self.immediate_action.strip()}\n"
            f"Follow-up: {self.follow_up.strip()}\n"
            f"Prevention: {self.prevention.strip()}\n"
            f"Key principles: {principles}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "immediate_action": self.immediate_action,
            "follow_up": self.follow_up,
            "prevention": self.prevention,
            "key_principles": list(self.key_principles),
        }


@dataclass(frozen=True)
class StudentWork:
    """A tutoring scenario's student work: the problem, the wrong working, the right answer
    and the mistake in the teacher's words."""

    problem: str
    working: str
    answer: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "working": self.working, "answer": self.answer,
                "error": self.error}


@dataclass(frozen=True)
class Mistake:
    mistake: str
    why: str
    better: str


@dataclass(frozen=True)
class Scenario:
    """A validated practice scenario. ``rubric`` is always filled (DEFAULT_RUBRIC when absent)."""

    id: str
    title: str
    grade_band: str
    subject: str
    category: str
    students: tuple[Student, ...]
    situation: str
    learning_objectives: tuple[str, ...]
    expert_response: ExpertResponse
    common_mistakes: tuple[Mistake, ...]
    rubric: tuple[Criterion, ...]
    tags: tuple[str, ...]
    source: str
    kind: str = "classroom"
    """``classroom`` or ``tutoring`` (a student's wrong working, in ``student_work``)."""
    student_work: StudentWork | None = None

    @property
    def uses_default_rubric(self) -> bool:
        return self.rubric == DEFAULT_RUBRIC

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that validates back to an equal Scenario with validate_object."""
        extra: dict[str, Any] = {}
        if self.kind != "classroom":
            extra["kind"] = self.kind
        if self.student_work is not None:
            extra["student_work"] = self.student_work.to_dict()
        return {
            "id": self.id,
            "title": self.title,
            "grade_band": self.grade_band,
            "subject": self.subject,
            "category": self.category,
            "students": [s.to_dict() for s in self.students],
            "situation": self.situation,
            **extra,
            "learning_objectives": list(self.learning_objectives),
            "expert_response": self.expert_response.to_dict(),
            "common_mistakes": [
                {"mistake": m.mistake, "why": m.why, "better": m.better}
                for m in self.common_mistakes
            ],
            "rubric": [c.to_dict() for c in self.rubric],
            "tags": list(self.tags),
            "source": self.source,
        }


def _levels(*descriptors: str) -> tuple[RubricLevel, ...]:
    return tuple(RubricLevel(score=i + 1, descriptor=d) for i, d in enumerate(descriptors))


DEFAULT_RUBRIC: tuple[Criterion, ...] = (
    Criterion(
        criterion="professional conduct",
        description=(
            "Calm, respectful and fair; protects the student's dignity; keeps to school "
            "policy, confidentiality and professional boundaries."
        ),
        weight=0.25,
        levels=_levels(
            "Reacts emotionally, sarcastically or publicly shames the student; ignores policy "
            "or makes promises the teacher cannot keep.",
            "Mostly polite but tense or inconsistent; some public correction or a boundary "
            "or policy step is missed.",
            "Calm, respectful and fair; follows policy; corrects privately where it matters.",
            "Models composure and warmth under pressure; protects dignity and confidentiality "
            "and knows exactly when to involve colleagues, families or the designated lead.",
        ),
    ),
    Criterion(
        criterion="pedagogical approach",
        description=(
            "Uses sound, evidence-informed teaching moves suited to the grade band and "
            "subject: clear expectations, scaffolding, checks for understanding."
        ),
        weight=0.25,
        levels=_levels(
            "No teaching strategy; relies on telling, threats or removing the student "
            "from learning.",
            "A generic strategy that only partly fits the age, subject or situation.",
            "An appropriate, concrete strategy (e.g. scaffolding, wait time, think-pair-share, "
            "chunking) that fits the grade band and keeps learning going.",
            "Well-chosen, specific strategies combined into a coherent plan, with a clear "
            "reason for each and a way to check that it worked.",
        ),
    ),
    Criterion(
        criterion="student support",
        description=(
            "Responds to the student's needs, feelings and strengths; builds the relationship; "
            "uses accommodations, home language and support staff where relevant."
        ),
        weight=0.25,
        levels=_levels(
            "Ignores or dismisses the student's needs or feelings; may make things worse.",
            "Acknowledges the student but offers little concrete support or follow-up.",
            "Addresses the underlying need with concrete support and a follow-up conversation.",
            "Individualised support that builds trust and independence, uses the student's "
            "strengths, IEP/504 or language supports, and plans a check-in.",
        ),
    ),
    Criterion(
        criterion="classroom management",
        description=(
            "Keeps the rest of the class safe and learning; uses routines, proximity and "
            "positive narration; prevents recurrence."
        ),
        weight=0.25,
        levels=_levels(
            "Loses the class: learning stops, the incident escalates or others are unsafe.",
            "Handles the moment but learning stalls for the others, or there is no plan to "
            "prevent a repeat.",
            "Keeps the class on task with minimal disruption and a clear, consistent expectation.",
            "Seamless: the class keeps learning, the response is proportionate, and routines "
            "or plans are adjusted so it is less likely to happen again.",
        ),
    ),
)



class ScenarioError(Exception):
    """A problem in a scenario file, as one line: ``path:line: field: message``.

    ``line`` is None when it is not known (e.g. a draft that never was a file); ``field`` is
    the JSON path of the offending value (``students[0].age_or_grade``), empty for problems
    with the file as a whole (unreadable, syntax errors).
    """

    def __init__(self, path: str, line: int | None, field: str, message: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.message = message
        location = path if line is None else f"{path}:{line}"
        text = f"{location}: {field}: {message}" if field else f"{location}: {message}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:  # keep pickling working with 4 arguments
        return (type(self), (self.path, self.line, self.field, self.message))

