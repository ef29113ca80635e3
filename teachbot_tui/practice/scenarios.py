"""Practice scenarios: the file format, the starter bank, loading and validation.

A scenario file is YAML or JSON holding one scenario object, or a list of them under the key
``scenarios`` (a bare top-level list is accepted too). The format is defined once, as JSON
Schema, in ``schema.json`` beside this module and documented in ``docs/scenarios.md``.

Every problem is reported as a :class:`ScenarioError` whose text is one line::

    bank/x.yaml:12: students[0].age_or_grade: required field missing

Nothing here runs at import time: the schema and the bank are read on first use.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CATEGORIES",
    "DEFAULT_RUBRIC",
    "GRADE_BANDS",
    "SCHEMA",
    "SCENARIO_SUFFIXES",
    "Criterion",
    "ExpertResponse",
    "Mistake",
    "RubricLevel",
    "Scenario",
    "ScenarioError",
    "Student",
    "check_files",
    "load_all",
    "load_bank",
    "load_files",
    "load_schema",
    "validate_file",
    "validate_object",
]

GRADE_BANDS: tuple[str, ...] = ("K-2", "3-5", "6-8", "9-12")
CATEGORIES: tuple[str, ...] = (
    "behaviour",
    "engagement",
    "learning difficulty",
    "English learners",
    "social-emotional",
    "parent communication",
    "safety",
    "inclusion",
    "assessment",
    "classroom routines",
)
SCENARIO_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")
WEIGHT_TOLERANCE = 0.01
BANK_SOURCE = "bank"

SCHEMA: dict[str, Any]  # the scenario JSON Schema; loaded on first access (see __getattr__)

# A JSON path inside a file: keys and list indexes, e.g. ("students", 0, "name").
JsonPath = tuple[str | int, ...]
LineMap = dict[JsonPath, int]


# --------------------------------------------------------------------------- data classes


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

    @property
    def uses_default_rubric(self) -> bool:
        return self.rubric == DEFAULT_RUBRIC

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that validates back to an equal Scenario with validate_object."""
        return {
            "id": self.id,
            "title": self.title,
            "grade_band": self.grade_band,
            "subject": self.subject,
            "category": self.category,
            "students": [s.to_dict() for s in self.students],
            "situation": self.situation,
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


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- schema


@cache
def load_schema() -> dict[str, Any]:
    """The scenario JSON Schema (draft 2020-12), read once from ``schema.json``."""
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by its definition (the schema has no
    recursion). jsonschema validates the inlined copy several times faster."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline_refs(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        out = {**target, **out}
    return out


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def __getattr__(name: str) -> Any:
    # ``SCHEMA`` is loaded lazily on first access, so importing this module reads no files.
    if name == "SCHEMA":
        return load_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- validation


def format_path(path: Iterable[str | int]) -> str:
    """``("students", 0, "name")`` -> ``students[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_for(lines: LineMap | None, path: JsonPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    if not lines:
        return None
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None


_JSON_TYPES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true/false",
    list: "a list",
    dict: "a mapping of fields",
}
_SCHEMA_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true/false",
    "array": "a list",
    "object": "a mapping of fields",
    "null": "empty",
}


def _close_matches(word: str, options: list[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    from difflib import get_close_matches  # only needed when there is an error to explain

    return get_close_matches(word, options, n=n, cutoff=cutoff)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (the value is empty)"
    for kind, word in _JSON_TYPES.items():
        if type(value) is kind:
            return word
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_issues(instance: Any) -> Iterator[tuple[JsonPath, str]]:
    """(path, message) for every schema violation, in teacher-friendly words."""
    for error in _validator().iter_errors(instance):
        path: JsonPath = tuple(error.absolute_path)
        kind = error.validator
        value = error.instance
        if kind == "required":
            present = value if isinstance(value, dict) else {}
            for name in error.validator_value:
                if name not in present:
                    yield (*path, name), _MISSING
        elif kind == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            for name in value:
                if name in allowed:
                    continue
                close = _close_matches(str(name), allowed, n=1)
                hint = (
                    f"; did you mean '{close[0]}'?"
                    if close
                    else (f" (allowed: {', '.join(allowed)})")
                )
                yield (*path, name), f"unknown field{hint}"
        elif kind == "type":
            wanted = error.validator_value
            names = [wanted] if isinstance(wanted, str) else list(wanted)
            words = " or ".join(_SCHEMA_TYPES.get(n, n) for n in names)
            yield path, f"must be {words} (got {_describe(value)})"
        elif kind == "enum":
            options = [str(o) for o in error.validator_value]
            close = _close_matches(str(value), options, n=1, cutoff=0.75)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            yield path, f"must be one of: {', '.join(options)} (got {_short(value)}{hint})"
        elif kind == "pattern":
            if path and path[-1] == "id":
                yield (
                    path,
                    (
                        "must be 3-64 lowercase letters, digits and hyphens, starting with a "
                        f"letter or digit (got {_short(value)})"
                    ),
                )
            else:
                yield path, "must not be blank"
        elif kind == "minLength":
            yield path, "must not be empty"
        elif kind == "minItems":
            n = error.validator_value
            yield path, "must not be empty" if n == 1 else f"needs at least {n} items"
        elif kind == "maxItems":
            yield path, f"has {len(value)} items; at most {error.validator_value} allowed"
        elif kind in ("minimum", "maximum"):
            sub = error.schema
            low, high = sub.get("minimum"), sub.get("maximum")
            if low is not None and high is not None:
                yield path, f"must be between {low} and {high} (got {_short(value)})"
            elif low is not None:
                yield path, f"must be at least {low} (got {_short(value)})"
            else:
                yield path, f"must be at most {high} (got {_short(value)})"
        else:  # pragma: no cover - the schema uses only the keywords above
            yield path, error.message


def _rule_issues(obj: Any) -> Iterator[tuple[JsonPath, str]]:
    """Checks JSON Schema cannot express: rubric weights sum, distinct scores and names."""
    if not isinstance(obj, dict):
        return
    rubric = obj.get("rubric")
    if not isinstance(rubric, list) or not rubric:
        return
    weights = [c.get("weight") for c in rubric if isinstance(c, dict)]
    numeric = [w for w in weights if isinstance(w, int | float) and not isinstance(w, bool)]
    if len(numeric) == len(rubric) and all(math.isfinite(w) for w in numeric):
        total = sum(numeric)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            yield ("rubric",), f"weights must add up to 1 (got {total:g})"
    names: dict[str, int] = {}
    for i, crit in enumerate(rubric):
        if not isinstance(crit, dict):
            continue
        name = crit.get("criterion")
        if isinstance(name, str):
            key = name.strip().lower()
            if key in names:
                yield (
                    ("rubric", i, "criterion"),
                    (f"criterion {name!r} appears twice (also rubric[{names[key]}])"),
                )
            else:
                names[key] = i
        levels = crit.get("levels")
        if not isinstance(levels, list):
            continue
        seen: dict[int, int] = {}
        for j, level in enumerate(levels):
            score = level.get("score") if isinstance(level, dict) else None
            if not isinstance(score, int) or isinstance(score, bool):
                continue
            if score in seen:
                yield (
                    ("rubric", i, "levels", j, "score"),
                    (f"score {score} appears twice in this criterion (also levels[{seen[score]}])"),
                )
            else:
                seen[score] = j


_MISSING = "required field missing"


def _issues(obj: Any) -> list[tuple[JsonPath, str]]:
    found: list[tuple[JsonPath, str]] = []
    for issue in (*_schema_issues(obj), *_rule_issues(obj)):
        if issue not in found:
            found.append(issue)
    # A misspelt field shows up twice: as an unknown field and as a missing one. Report it
    # once, on the misspelt key's own line.
    missing = {path for path, message in found if message == _MISSING}
    merged: list[tuple[JsonPath, str]] = []
    for path, message in found:
        match = re.search(r"did you mean '([^']+)'", message)
        if match and (*path[:-1], match.group(1)) in missing:
            missing.discard((*path[:-1], match.group(1)))
            message = (
                f"unknown field; did you mean '{match.group(1)}'? ({match.group(1)} is required)"
            )
        merged.append((path, message))
    return [(path, message) for path, message in merged if message != _MISSING or path in missing]


def _errors(
    obj: Any, path: str, lines: LineMap | None, prefix: JsonPath = ()
) -> list[ScenarioError]:
    """Every problem in one scenario object, first in the file (and most specific) first."""
    if not isinstance(obj, dict):
        field = format_path(prefix) or "(top level)"
        return [
            ScenarioError(
                path,
                _line_for(lines, prefix),
                field,
                f"a scenario must be a mapping of fields (got {_describe(obj)})",
            )
        ]
    ranked = []
    for rel, message in _issues(obj):
        full = (*prefix, *rel)
        # A missing field has no line of its own: it is reported on its parent's line.
        line = _line_for(lines, full)
        ranked.append(
            (line or 0, -len(full), ScenarioError(path, line, format_path(full), message))
        )
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in ranked]


def _build(obj: dict[str, Any], source: str) -> Scenario:
    er = obj["expert_response"]
    rubric_data = obj.get("rubric")
    rubric = (
        tuple(
            Criterion(
                criterion=c["criterion"],
                description=c["description"],
                weight=float(c["weight"]),
                levels=tuple(
                    RubricLevel(score=lv["score"], descriptor=lv["descriptor"])
                    for lv in sorted(c["levels"], key=lambda lv: lv["score"])
                ),
            )
            for c in rubric_data
        )
        if rubric_data
        else DEFAULT_RUBRIC
    )
    return Scenario(
        id=obj["id"],
        title=obj["title"],
        grade_band=obj["grade_band"],
        subject=obj["subject"],
        category=obj["category"],
        students=tuple(
            Student(
                name=s["name"],
                age_or_grade=str(s["age_or_grade"]),
                traits=tuple(s["traits"]),
                needs=tuple(s["needs"]),
                learning_style=s["learning_style"],
                voice=s["voice"],
            )
            for s in obj["students"]
        ),
        situation=obj["situation"],
        learning_objectives=tuple(obj["learning_objectives"]),
        expert_response=ExpertResponse(
            immediate_action=er["immediate_action"],
            follow_up=er["follow_up"],
            prevention=er["prevention"],
            key_principles=tuple(er["key_principles"]),
        ),
        common_mistakes=tuple(
            Mistake(mistake=m["mistake"], why=m["why"], better=m["better"])
            for m in obj["common_mistakes"]
        ),
        rubric=rubric,
        tags=tuple(obj["tags"]),
        source=obj.get("source") or source,
    )


def validate_object(obj: dict, path: str = "<draft>", lines: dict | None = None) -> Scenario:
    """Validate one scenario object and build it; raise the first ScenarioError.

    ``path`` is used in messages and as the scenario's ``source`` (unless the object has
    one). ``lines`` maps JSON paths (tuples of keys and list indexes, ``()`` for the object
    itself) to 1-based line numbers, so that errors can say where they are.
    """
    errors = _errors(obj, path, lines)
    if errors:
        raise errors[0]
    return _build(obj, path)


# --------------------------------------------------------------------------- reading files


def _yaml_lines(node: yaml.Node, path: JsonPath, lines: LineMap, dupes: list[JsonPath]) -> None:
    if len(path) > 50:  # a recursive alias (&a [*a]) or absurd nesting: no scenario is this deep
        raise ScenarioError(
            "", node.start_mark.line + 1, format_path(path[:3]), "nested too deeply"
        )
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if key in seen:
                dupes.append(child)
                lines[child] = key_node.start_mark.line + 1
                # Point the duplicate at its own line; PyYAML keeps the last value.
                _yaml_lines(value_node, child, lines, [])
                continue
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _yaml_lines(value_node, child, lines, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            _yaml_lines(item, child, lines, dupes)


_YAML_HINTS = {
    "mapping values are not allowed": "put quotes around a value that contains ': '",
    "cannot start any token": "indent with spaces, not tabs, and quote values starting with @ or `",
    "could not find expected ':'": "check the indentation, or quote a value that spans lines",
    "did not find expected key": "check the indentation of this and the line before",
    "did not find expected '-' indicator": "list items must line up under each other",
}


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "YAML syntax error: " + ("; ".join(parts) if parts else "cannot parse")
    for needle, hint in _YAML_HINTS.items():
        if needle in message:
            return f"{message} ({hint})"
    return message


# libyaml's loader is about ten times faster and keeps line marks; fall back when absent.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(text: str, label: str) -> tuple[Any, LineMap, list[ScenarioError]]:
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(label, line, "", _syntax_message(exc)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(label, None, "", f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    lines: LineMap = {}
    dupes: list[JsonPath] = []
    if node is not None:
        try:
            _yaml_lines(node, (), lines, dupes)
        except ScenarioError as exc:
            raise ScenarioError(label, exc.line, exc.field, exc.message) from None
    problems = [
        ScenarioError(label, lines.get(d), format_path(d), "field appears twice; keep only one")
        for d in dupes
    ]
    return data, lines, problems


def _read_json(text: str, label: str) -> tuple[Any, LineMap, list[ScenarioError]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            label, exc.lineno, "", f"JSON syntax error: {exc.msg} (column {exc.colno})"
        ) from None
    lines: LineMap = {}
    # Valid JSON is (nearly always) valid YAML, and PyYAML's nodes carry line marks. Tabs
    # cannot occur inside valid JSON strings, so turning them into spaces keeps lines intact.
    try:
        node = yaml.compose(text.replace("\t", " "), Loader=_YamlLoader)
    except yaml.YAMLError:
        node = None
    if node is not None:
        _yaml_lines(node, (), lines, [])
    else:
        lines[()] = 1
    return data, lines, []


def _label(path: Path) -> str:
    return str(path)


@dataclass
class _Parsed:
    scenarios: list[Scenario]
    problems: list[ScenarioError]
    id_lines: dict[str, int | None]


def _parse(path: Path, label: str) -> _Parsed:
    """All scenarios and all problems of one file (never raises ScenarioError)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = ScenarioError(label, None, "", f"cannot read the file: {exc.strerror or exc}")
        return _Parsed([], [problem], {})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _Parsed([], [ScenarioError(label, line, "", "not UTF-8 text; save it as UTF-8")], {})
    if not text.strip():
        return _Parsed([], [ScenarioError(label, None, "", "the file is empty")], {})
    reader = _read_json if path.suffix.lower() == ".json" else _read_yaml
    try:
        data, lines, problems = reader(text, label)
    except ScenarioError as exc:
        return _Parsed([], [exc], {})

    items: list[tuple[Any, JsonPath]]
    if isinstance(data, dict) and "scenarios" in data:
        items = []
        extra = [k for k in data if k != "scenarios"]
        for key in extra:
            problems.append(
                ScenarioError(
                    label,
                    lines.get((key,)),
                    str(key),
                    "unknown field; a file with `scenarios:` holds only that list",
                )
            )
        listed = data["scenarios"]
        if not isinstance(listed, list) or not listed:
            problems.append(
                ScenarioError(
                    label,
                    lines.get(("scenarios",)),
                    "scenarios",
                    f"must be a non-empty list of scenarios (got {_describe(listed)})",
                )
            )
        else:
            items = [(item, ("scenarios", i)) for i, item in enumerate(listed)]
    elif isinstance(data, list):
        items = [(item, (i,)) for i, item in enumerate(data)]
        if not items:
            problems.append(ScenarioError(label, 1, "", "the file holds an empty list"))
    else:
        items = [(data, ())]

    scenarios: list[Scenario] = []
    id_lines: dict[str, int | None] = {}
    for obj, prefix in items:
        errors = _errors(obj, label, lines, prefix)
        if errors:
            problems.extend(errors)
            continue
        scenario = replace(_build(obj, label), source=label)
        line = _line_for(lines, (*prefix, "id"))
        if scenario.id in id_lines:
            problems.append(
                ScenarioError(
                    label,
                    line,
                    format_path((*prefix, "id")),
                    f"duplicate id {scenario.id!r} (also at line {id_lines[scenario.id]})",
                )
            )
            continue
        id_lines[scenario.id] = line
        scenarios.append(scenario)
    problems.sort(key=lambda e: e.line or 0)
    return _Parsed(scenarios, problems, id_lines)


def validate_file(path: Path) -> list[Scenario]:
    """Every scenario in one YAML or JSON file; raise the first problem as ScenarioError."""
    path = Path(path)
    parsed = _parse(path, _label(path))
    if parsed.problems:
        raise parsed.problems[0]
    return parsed.scenarios


def _scenario_files(folder: Path) -> list[Path]:
    """Scenario files under ``folder``, recursively, skipping hidden files and folders."""
    found = []
    for file in folder.rglob("*"):
        rel = file.relative_to(folder).parts
        if any(part.startswith(".") for part in rel):
            continue
        if file.suffix.lower() in SCENARIO_SUFFIXES and file.is_file():
            found.append(file)
    return sorted(found)


def load_files(
    paths: Iterable[Path], *, source: str | None = None
) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every valid scenario and every problem in ``paths`` (files, or folders walked for
    .yaml/.yml/.json). A scenario whose id was already seen is reported and skipped."""
    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    first_seen: dict[str, tuple[str, int | None]] = {}
    for given in paths:
        given = Path(given)
        if given.is_dir():
            files = _scenario_files(given)
            if not files:
                errors.append(
                    ScenarioError(str(given), None, "", "no .yaml, .yml or .json files found")
                )
        elif given.exists():
            files = [given]
        else:
            errors.append(ScenarioError(str(given), None, "", "no such file or folder"))
            continue
        for file in files:
            label = _label(file)
            parsed = _parse(file, label)
            errors.extend(parsed.problems)
            for scenario in parsed.scenarios:
                where = (label, parsed.id_lines.get(scenario.id))
                if scenario.id in first_seen:
                    other, other_line = first_seen[scenario.id]
                    at = f"{other}:{other_line}" if other_line else other
                    errors.append(
                        ScenarioError(
                            label, where[1], "id", f"duplicate id {scenario.id!r} (also in {at})"
                        )
                    )
                    continue
                first_seen[scenario.id] = where
                scenarios.append(scenario)
    if source is not None:
        scenarios = [replace(s, source=source) for s in scenarios]
    return scenarios, errors


def check_files(paths: list[Path]) -> list[ScenarioError]:
    """Every problem in every file (folders are walked): for ``teachbot practice validate``."""
    return load_files(paths)[1]


# --------------------------------------------------------------------------- bank


@cache
def _bank() -> tuple[Scenario, ...]:
    folder = resources.files(__package__).joinpath("bank")
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(SCENARIO_SUFFIXES) or entry.name.startswith("."):
            continue
        label = f"bank/{entry.name}"
        with resources.as_file(entry) as file:
            parsed = _parse(Path(file), label)
        if parsed.problems:
            raise parsed.problems[0]
        for scenario in parsed.scenarios:
            if scenario.id in seen:
                raise ScenarioError(
                    label, None, "id", f"duplicate id {scenario.id!r} (also in {seen[scenario.id]})"
                )
            seen[scenario.id] = label
            scenarios.append(replace(scenario, source=BANK_SOURCE))
    return tuple(scenarios)


def load_bank() -> list[Scenario]:
    """The starter bank shipped with teachbot (read once, then cached)."""
    return list(_bank())


def load_all(user_dir: Path | None) -> tuple[list[Scenario], list[ScenarioError]]:
    """The bank merged with the teacher's own folder.

    A user scenario with the same id as a bank one replaces it (in the bank's place); new ones
    follow the bank. Problems in user files are returned, never raised: the good scenarios
    still load.
    """
    scenarios = load_bank()
    scenarios += _pack_scenarios(scenarios)
    if user_dir is None or str(user_dir) == "":
        return scenarios, []
    user_dir = Path(user_dir).expanduser()
    if not user_dir.is_dir():
        what = "is not a folder" if user_dir.exists() else "folder not found"
        return scenarios, [
            ScenarioError(str(user_dir), None, "", f"scenario_dir {what}; check the setting")
        ]
    files = _scenario_files(user_dir)
    if not files:
        return scenarios, []
    mine, errors = load_files(files)
    index = {s.id: i for i, s in enumerate(scenarios)}
    for scenario in mine:
        if scenario.id in index:
            scenarios[index[scenario.id]] = scenario
        else:
            scenarios.append(scenario)
    return scenarios, errors


def _pack_scenarios(known: list[Scenario]) -> list[Scenario]:
    """Scenarios installed with model packs (teachbot_tui/packs.py), source ``pack:MODEL``;
    ids already known (the bank) keep their scenario."""
    from ..packs import installed_scenarios

    return installed_scenarios({s.id for s in known})
