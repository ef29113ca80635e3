"""The scenario JSON Schema (``practice/schema.json``) and what it says in a teacher's words.

The schema is the one definition of the format: the grade bands and categories below are read
from its enums. :func:`find_issues` lists every violation as (JSON path, message), adding the
checks a JSON Schema cannot express (rubric weights add up to 1, no criterion or score twice).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

WEIGHT_TOLERANCE = 0.01

# A JSON path inside a file: keys and list indexes, e.g. ("students", 0, "name").
JsonPath = tuple[str | int, ...]


@cache
def load_schema() -> dict[str, Any]:
    """The scenario JSON Schema (draft 2020-12), read once from ``schema.json``."""
    text = resources.files("teachbot_tui.practice").joinpath("schema.json").read_text(encoding="utf-8")
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


def describe(value: Any) -> str:
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
            yield path, f"must be {words} (got {describe(value)})"
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


def find_issues(obj: Any) -> list[tuple[JsonPath, str]]:
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



SCHEMA: dict[str, Any] = load_schema()
GRADE_BANDS: tuple[str, ...] = tuple(SCHEMA["properties"]["grade_band"]["enum"])
CATEGORIES: tuple[str, ...] = tuple(SCHEMA["properties"]["category"]["enum"])
