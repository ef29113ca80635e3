"""Validating scenario objects and finding the line of each problem.

YAML and JSON files are read with a map from JSON path to line number (from PyYAML's node
marks), so every :class:`ScenarioError` can say ``file:line: field: message``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from .model import (
    DEFAULT_RUBRIC,
    Criterion,
    ExpertResponse,
    Mistake,
    RubricLevel,
    Scenario,
    ScenarioError,
    Student,
    StudentWork,
)
from .schema import JsonPath, describe, find_issues

LineMap = dict[JsonPath, int]


def format_path(path: Iterable[str | int]) -> str:
    """``("students", 0, "name")`` -> ``students[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def line_for(lines: LineMap | None, path: JsonPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    if not lines:
        return None
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None

def scenario_errors(
    obj: Any, path: str, lines: LineMap | None, prefix: JsonPath = ()
) -> list[ScenarioError]:
    """Every problem in one scenario object, first in the file (and most specific) first."""
    if not isinstance(obj, dict):
        field = format_path(prefix) or "(top level)"
        return [
            ScenarioError(
                path,
                line_for(lines, prefix),
                field,
                f"a scenario must be a mapping of fields (got {describe(obj)})",
            )
        ]
    ranked = []
    for rel, message in find_issues(obj):
        full = (*prefix, *rel)
        # A missing field has no line of its own: it is reported on its parent's line.
        line = line_for(lines, full)
        ranked.append(
            (line or 0, -len(full), ScenarioError(path, line, format_path(full), message))
        )
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in ranked]


def build_scenario(obj: dict[str, Any], source: str) -> Scenario:
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
        kind=obj.get("kind") or "classroom",
        student_work=StudentWork(**obj["student_work"]) if obj.get("student_work") else None,
    )


def validate_object(obj: dict, path: str = "<draft>", lines: dict | None = None) -> Scenario:
    """Validate one scenario object and build it; raise the first ScenarioError.

    ``path`` is used in messages and as the scenario's ``source`` (unless the object has
    one). ``lines`` maps JSON paths (tuples of keys and list indexes, ``()`` for the object
    itself) to 1-based line numbers, so that errors can say where they are.
    """
    errors = scenario_errors(obj, path, lines)
    if errors:
        raise errors[0]
    return build_scenario(obj, path)



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


def read_yaml(text: str, label: str) -> tuple[Any, LineMap, list[ScenarioError]]:
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


def read_json(text: str, label: str) -> tuple[Any, LineMap, list[ScenarioError]]:
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

