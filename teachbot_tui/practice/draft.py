"""Draft a scenario from a one-line description ("A shy student who has difficulties
speaking up in class").

1. The model writes the scenario's content as JSON, decoded under a grammar made from a
   simplified copy of the scenario schema (:func:`draft_schema`: the fields the model is good
   at, enums for grade band and category, small list sizes, strings limited to a prose
   character class; no ``$ref`` or string lengths, which llama.cpp's converter handles
   badly), so the output always parses.
   One short bank scenario is shown to it as an example.
2. The result is repaired deterministically (:func:`repair`): the title is the description,
   the id is a slug of the title, ``--grade`` / ``--subject`` win, an unknown category is
   guessed from keywords, text is trimmed, runaway repetition is cut, empty lists are
   filled, and the default rubric applies.
3. It is validated with :func:`~teachbot_tui.practice.scenarios.validate_object`. When it is
   still invalid the model is asked again (a new sample); after :data:`ATTEMPTS` failures a
   :class:`~teachbot_tui.practice.session.PracticeError` says why. Invalid output is never
   returned or saved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.base import Cancel, ChatModel, Message, Options
from ..text import slug as text_slug
from ..text import split_sentences
from .coach import TEXT_PATTERN, parse_partial_json
from .scenarios import CATEGORIES, GRADE_BANDS, Scenario, ScenarioError, validate_object
from .session import PracticeError

__all__ = ["DraftResult", "draft_scenario", "draft_schema", "repair", "save_scenario", "slug"]

ATTEMPTS = 3
DRAFT_MAX_TOKENS = 900
EXAMPLE_ID = "consistent-disruptor-maths"

DRAFT_SYSTEM = (
    "You write realistic classroom practice scenarios for teacher training, as JSON. The "
    "students are named children with an age or grade, traits, needs and a way of talking "
    "(voice). The situation is two to four sentences in the "
    "present tense. The expert response says what an experienced teacher does now, what they "
    "follow up later, and how they prevent a repeat. Be concrete and brief."
)

_CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("safety", ("unsafe", "injur", "fight", "weapon", "self-harm", "abuse", "danger", "hurt")),
    ("parent communication", ("parent", "family", "guardian", "mum", "dad", "carer", "email")),
    ("English learners", ("english learner", "newcomer", "language", "esl", "ell", "bilingual")),
    ("learning difficulty", ("dyslex", "struggl", "difficult", "reading", "adhd", "memory",
                             "falls behind", "misconception")),
    ("social-emotional", ("shy", "anxious", "anxiety", "upset", "grief", "lonely", "cries",
                          "confidence", "speaking up", "worried")),
    ("inclusion", ("wheelchair", "disab", "autis", "excluded", "left out")),
    ("assessment", ("test", "exam", "cheat", "grade", "feedback", "marking")),
    ("engagement", ("bored", "unmotivated", "disengag", "refuses", "won't start", "phone")),
    ("classroom routines", ("routine", "transition", "lining up", "tidy", "start of lesson")),
    ("behaviour", ("disrupt", "rude", "calls out", "swear", "defian", "talks back")),
)
_GRADE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("K-2", ("kindergarten", "reception", "grade 1", "grade 2", "year 1", "year 2", "infant")),
    ("3-5", ("grade 3", "grade 4", "grade 5", "year 3", "year 4", "year 5", "primary")),
    ("9-12", ("high school", "grade 9", "grade 10", "grade 11", "grade 12", "teen", "senior",
              "year 10", "year 11", "year 12", "exam")),
)


def slug(title: str) -> str:
    """An id from a title: lowercase words joined by hyphens, 3 to 64 characters."""
    s = text_slug(title, 64)
    if len(s) < 3:
        s = (s + "-scenario").strip("-")
    return s


def guess_category(text: str) -> str:
    low = text.lower()
    for category, words in _CATEGORY_WORDS:
        if any(w in low for w in words):
            return category
    return "behaviour"


def guess_grade(text: str) -> str:
    low = text.lower()
    for band, words in _GRADE_WORDS:
        if any(w in low for w in words):
            return band
    return "6-8"


def draft_schema(grade: str | None = None, subject: str | None = None) -> dict[str, Any]:
    """The grammar-friendly schema the model's draft is decoded under."""
    text = {"type": "string", "pattern": TEXT_PATTERN}

    def texts(lo: int, hi: int) -> dict[str, Any]:
        return {"type": "array", "items": text, "minItems": lo, "maxItems": hi}

    student = {
        "type": "object",
        "properties": {"name": text, "age_or_grade": text, "traits": texts(2, 3),
                       "needs": texts(1, 2), "learning_style": text, "voice": text},
        "required": ["name", "age_or_grade", "traits", "needs", "learning_style", "voice"],
        "additionalProperties": False,
    }
    props: dict[str, Any] = {
        "grade_band": {"enum": [grade] if grade else list(GRADE_BANDS)},
        "subject": {"enum": [subject]} if subject else text,
        "category": {"enum": list(CATEGORIES)},
        "students": {"type": "array", "items": student, "minItems": 1, "maxItems": 1},
        "situation": text,
        "learning_objectives": texts(2, 3),
        "expert_response": {
            "type": "object",
            "properties": {"immediate_action": text, "follow_up": text, "prevention": text,
                           "key_principles": texts(2, 4)},
            "required": ["immediate_action", "follow_up", "prevention", "key_principles"],
            "additionalProperties": False,
        },
        "common_mistakes": {
            "type": "array", "minItems": 1, "maxItems": 2,
            "items": {"type": "object",
                      "properties": {"mistake": text, "why": text, "better": text},
                      "required": ["mistake", "why", "better"], "additionalProperties": False},
        },
        "tags": texts(2, 4),
    }
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def _first_sentences(text: str, n: int = 2) -> str:
    return " ".join(split_sentences(" ".join(text.split()))[:n])


def _example(scenario: Scenario) -> dict[str, Any]:
    d = scenario.to_dict()
    st = d["students"][0]
    er = d["expert_response"]
    return {
        "grade_band": d["grade_band"], "subject": d["subject"], "category": d["category"],
        "students": [{"name": st["name"], "age_or_grade": st["age_or_grade"],
                      "traits": st["traits"][:2], "needs": st["needs"][:1],
                      "learning_style": st["learning_style"], "voice": st["voice"]}],
        "situation": d["situation"].strip(),
        "learning_objectives": d["learning_objectives"][:2],
        "expert_response": {"immediate_action": _first_sentences(er["immediate_action"]),
                            "follow_up": _first_sentences(er["follow_up"]),
                            "prevention": _first_sentences(er["prevention"]),
                            "key_principles": er["key_principles"][:3]},
        "common_mistakes": d["common_mistakes"][:1],
        "tags": d["tags"][:3],
    }


def _ask(description: str, grade: str | None, subject: str | None) -> str:
    extra = []
    if grade:
        extra.append(f"grade band {grade}")
    if subject:
        extra.append(f"subject {subject}")
    return f"Write a scenario for: {description}" + (f" ({', '.join(extra)})" if extra else "")


def draft_messages(description: str, grade: str | None, subject: str | None) -> list[Message]:
    from .scenarios import load_bank

    bank = load_bank()
    example = next((s for s in bank if s.id == EXAMPLE_ID), bank[0])
    return [
        {"role": "system", "content": DRAFT_SYSTEM},
        {"role": "user", "content": _ask(example.title, example.grade_band, example.subject)},
        {"role": "assistant", "content": json.dumps(_example(example), ensure_ascii=False)},
        {"role": "user", "content": _ask(description, grade, subject)},
    ]


# --------------------------------------------------------------------------- repair

_REPEAT = re.compile(r"\b((?:\w+\W+){1,4}?)\1{2,}", re.IGNORECASE)


def _text(value: Any, default: str, limit: int = 800) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return default
    s = " ".join(value.split())
    match = _REPEAT.search(s)
    if match:  # "and and and ..." or a looping phrase: keep what came before
        s = s[: match.start() + len(match.group(1))].strip()
    if len(s) > limit:
        s = s[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "."
    return s if re.search(r"\w", s) else default


def _texts(value: Any, default: list[str], limit: int = 6) -> list[str]:
    out: list[str] = []
    if isinstance(value, list):
        for item in value:
            s = _text(item, "", 200)
            if s and s.lower() not in (o.lower() for o in out):
                out.append(s)
    return out[:limit] or list(default)


def repair(obj: Any, description: str, grade: str | None = None,
           subject: str | None = None) -> dict[str, Any]:
    """A complete scenario object from the model's (possibly partial) draft."""
    d = obj if isinstance(obj, dict) else {}
    title = " ".join(description.split()).rstrip(".")
    title = (title[:1].upper() + title[1:])[:120] or "A classroom situation"
    category = d.get("category") if d.get("category") in CATEGORIES else guess_category(title)
    grade_band = grade if grade in GRADE_BANDS else (
        d.get("grade_band") if d.get("grade_band") in GRADE_BANDS else guess_grade(title))
    students = []
    for i, st in enumerate(d.get("students") if isinstance(d.get("students"), list) else []):
        if not isinstance(st, dict):
            continue
        students.append({
            "name": _text(st.get("name"), f"Student {i + 1}", 40),
            "age_or_grade": _text(st.get("age_or_grade"), f"Grade band {grade_band}", 40),
            "traits": _texts(st.get("traits"), ["quiet"]),
            "needs": _texts(st.get("needs"), []),
            "learning_style": _text(st.get("learning_style"), "Learns best with clear, "
                                    "short steps and a chance to try first."),
            "voice": _text(st.get("voice"), "Speaks briefly and hesitantly."),
        })
    er = d.get("expert_response") if isinstance(d.get("expert_response"), dict) else {}
    mistakes = []
    for m in d.get("common_mistakes") if isinstance(d.get("common_mistakes"), list) else []:
        if isinstance(m, dict):
            mistake = _text(m.get("mistake"), "")
            if mistake:
                mistakes.append({
                    "mistake": mistake,
                    "why": _text(m.get("why"), "It does not address what the student needs."),
                    "better": _text(m.get("better"), "Respond calmly and privately, and "
                                    "address the underlying need."),
                })
    return {
        "id": slug(title),
        "title": title,
        "grade_band": grade_band,
        "subject": subject or _text(d.get("subject"), "General", 40),
        "category": category,
        "students": students,
        "situation": _text(d.get("situation"), ""),
        "learning_objectives": _texts(d.get("learning_objectives"), []),
        "expert_response": {
            "immediate_action": _text(er.get("immediate_action"), ""),
            "follow_up": _text(er.get("follow_up"), ""),
            "prevention": _text(er.get("prevention"), ""),
            "key_principles": _texts(er.get("key_principles"), []),
        },
        "common_mistakes": mistakes,
        "tags": _texts(d.get("tags"), [category]),
    }


def _scenario_object(scenario: Scenario) -> dict[str, Any]:
    d = scenario.to_dict()
    d.pop("source", None)
    if scenario.uses_default_rubric:
        d.pop("rubric", None)
    return d


@dataclass
class DraftResult:
    scenario: Scenario
    obj: dict[str, Any]
    """The scenario as written to a file (no ``source``; no ``rubric`` when default)."""
    attempts: int
    problems: list[str] = field(default_factory=list)
    """What was wrong with earlier attempts."""


def draft_scenario(engine: ChatModel, description: str, grade: str | None = None,
                   subject: str | None = None, cancel: Cancel | None = None,
                   attempts: int = ATTEMPTS,
                   progress: Callable[[str], None] | None = None) -> DraftResult:
    """Draft, repair and validate a scenario; PracticeError when no valid one came out."""
    description = " ".join(description.split())
    if len(description) < 8:
        raise PracticeError("describe the situation in a few words, e.g. \"A shy student "
                            "who has difficulties speaking up in class\"")
    if grade is not None and grade not in GRADE_BANDS:
        raise PracticeError(f"--grade must be one of {', '.join(GRADE_BANDS)} (got {grade!r})")
    subject = " ".join(subject.split()) if subject and subject.strip() else None
    messages = draft_messages(description, grade, subject)
    schema = draft_schema(grade, subject)
    problems: list[str] = []
    for attempt in range(1, attempts + 1):
        if cancel is not None and cancel.is_set:
            break
        if progress:
            progress(f"drafting (attempt {attempt} of {attempts})")
        opts = Options(max_tokens=DRAFT_MAX_TOKENS, temperature=0.3 + 0.2 * (attempt - 1),
                       repeat_penalty=1.2, json_schema=schema, seed=attempt, adapter=False)
        text = "".join(engine.execute(messages, opts, cancel))
        try:
            parsed = parse_partial_json(text)
        except (json.JSONDecodeError, ValueError) as exc:
            problems.append(f"attempt {attempt}: output did not parse ({exc})")
            continue
        obj = repair(parsed, description, grade, subject)
        try:
            scenario = validate_object(obj, path="<draft>")
        except ScenarioError as exc:
            problems.append(f"attempt {attempt}: {exc}")
            continue
        return DraftResult(scenario, _scenario_object(scenario), attempt, problems)
    last = problems[-1] if problems else "cancelled"
    raise PracticeError(f"the model could not draft a valid scenario in {attempts} attempts "
                        f"({last}); try again, or use a larger model")


def save_scenario(obj: dict[str, Any], folder: Path) -> Path:
    """Write a drafted scenario as YAML into ``folder`` (never overwriting a file), then
    check the written file; nothing invalid is left behind."""
    import yaml

    from .scenarios import validate_file

    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PracticeError(f"{folder}: cannot create the folder ({exc.strerror or exc})") \
            from None
    base = obj["id"]
    path = folder / f"{base}.yaml"
    n = 2
    while path.exists():
        obj = {**obj, "id": f"{base[:60]}-{n}"}
        path = folder / f"{obj['id']}.yaml"
        n += 1
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=96)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp_yaml = tmp.with_suffix(".yaml")  # validate_file reads by suffix
        tmp.replace(tmp_yaml)
        try:
            validate_file(tmp_yaml)
        except ScenarioError as exc:
            tmp_yaml.unlink(missing_ok=True)
            raise PracticeError(f"the drafted scenario did not validate as a file: {exc}") \
                from None
        tmp_yaml.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PracticeError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
