"""Reading training inputs: every file shape ``teachbot-train prepare`` takes, as records with
the file and line each came from.

* scenario files ``{name, description, expected_response, category}`` (one object or a list),
  and practice-mode scenario YAML/JSON;
* chat JSONL (``{"messages": [...]}``) and practice exports (chat records + preference pairs);
* instruction JSONL: ``instruction/response``, ``instruction/output`` (+ optional ``input``),
  ``prompt/completion`` or ``input/output``;
* CSV with those columns (or the scenario columns).

A problem is a :class:`~teachbot_tui.training_format.RecordError` (``file:line: message``),
yielded in place of the record, so that one bad line does not hide the others.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from teachbot_tui.training_format import (
    ChatRecord,
    Record,
    RecordError,
    record_from_dict,
)

SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".csv")
SCENARIO_QUESTION = "How should I respond?"

# Record shapes other than chat/pair, as data: (required keys, what the keys mean).
# The first shape whose keys are all present wins; "instruction/output" is Alpaca's.
SCENARIO_FIELDS = ("name", "description", "expected_response", "category")
INSTRUCTION_SHAPES: list[tuple[str, str]] = [
    ("instruction", "response"),
    ("instruction", "output"),
    ("prompt", "completion"),
    ("input", "output"),
]


# --- converting one object -----------------------------------------------------------------------


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        raise ValueError(f"missing field {key!r}")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"field {key!r} must be text")
    value = str(value)
    if not value.strip():
        raise ValueError(f"field {key!r} is empty")
    return value


def _missing_fields(obj: dict[str, Any]) -> str:
    """Say which fields are missing for the shape the object most looks like."""
    shapes = [*INSTRUCTION_SHAPES, SCENARIO_FIELDS]  # on a tie, the commoner shape
    best = max(shapes, key=lambda s: sum(k in obj for k in s))
    if not any(k in obj for k in best):
        return (
            "unknown record: expected messages, instruction/response, prompt/completion, "
            "input/output or a scenario (name, description, expected_response, category)"
        )
    missing = [k for k in best if k not in obj]
    return "missing field " + ", ".join(repr(k) for k in missing)


def convert(obj: Any, source: str) -> tuple[Record, str]:
    """Turn one parsed object into a record and its category; ValueError says why not."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "messages" in obj or ("prompt" in obj and "chosen" in obj):
        record = record_from_dict(obj)
        record.source = record.source or source
        return record, str(record.meta.get("category", ""))
    category = str(obj.get("category") or "")
    meta = {"category": category} if category else {}
    if all(k in obj for k in SCENARIO_FIELDS[:3]):
        name, description = _text(obj, "name"), _text(obj, "description")
        response, category = _text(obj, "expected_response"), _text(obj, "category")
        # The scenario as an instruction, ending in the question a teacher asks.
        user = f"Scenario: {name}\nDescription: {description}\n{SCENARIO_QUESTION}"
        messages = [{"role": "user", "content": user},
                    {"role": "assistant", "content": response}]
        return ChatRecord(messages, str(obj.get("source") or source), {"category": category}), category
    for ask, answer in INSTRUCTION_SHAPES:
        if ask in obj and answer in obj:
            user = _text(obj, ask)
            if ask == "instruction" and answer == "output" and str(obj.get("input") or "").strip():
                user = f"{user}\n\n{obj['input']}"
            messages = [{"role": "user", "content": user},
                        {"role": "assistant", "content": _text(obj, answer)}]
            system = obj.get("system")
            if isinstance(system, str) and system.strip():
                messages.insert(0, {"role": "system", "content": system})
            return ChatRecord(messages, str(obj.get("source") or source), meta), category
    raise ValueError(_missing_fields(obj))


def _describe_student(student: Any) -> str:
    def text(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)

    parts = [str(getattr(student, "name", "a student"))]
    age = getattr(student, "age_or_grade", None)
    if age:
        parts[0] += f" ({age})"
    for label in ("traits", "needs"):
        value = getattr(student, label, None)
        if value:
            parts.append(f"{label}: {text(value)}")
    return "; ".join(parts)


def scenario_record(scenario: Any, system_prompt: str, source: str) -> ChatRecord:
    """A practice-mode scenario as a chat record: the situation, the students, the question,
    and the expert response as the target."""
    students = "\n".join(f"- {_describe_student(s)}" for s in getattr(scenario, "students", []))
    user = str(scenario.situation).strip()
    if students:
        user += f"\n\nStudents:\n{students}"
    user += f"\n\n{SCENARIO_QUESTION}"
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": user},
        {"role": "assistant", "content": scenario.expert_response.as_text()},
    ]
    meta = {"category": str(getattr(scenario, "category", "") or ""),
            "scenario": str(getattr(scenario, "id", "") or "")}
    return ChatRecord(messages, source, meta)


# --- reading files ---------------------------------------------------------------------------

Found = tuple[int, Any]  # (line, parsed object)


def _json_items(text: str) -> list[Found]:
    """The top-level object(s) of a JSON document with the line each starts on."""
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip(0)
    if not text.startswith("[", pos):
        obj, end = decoder.raw_decode(text, pos)
        if skip(end) != len(text):
            raise json.JSONDecodeError("extra data after the object", text, skip(end))
        return [(line_of(pos), obj)]
    items: list[Found] = []
    pos = skip(pos + 1)
    if text.startswith("]", pos):
        return items
    while True:
        obj, end = decoder.raw_decode(text, pos)
        items.append((line_of(pos), obj))
        pos = skip(end)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
        elif text.startswith("]", pos):
            return items
        else:
            raise json.JSONDecodeError("expected ',' or ']'", text, pos)


def _is_practice_scenario(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        "scenarios" in obj or ("situation" in obj and "expert_response" in obj)
    )


def _practice_file(path: Path, system_prompt: str) -> Iterator[tuple[int, Record | RecordError]]:
    from teachbot_tui.practice.scenarios import ScenarioError, validate_file

    try:
        scenarios = validate_file(path)
    except ScenarioError as exc:
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        yield 0, RecordError(path, exc.line or 0, message)
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for scenario in scenarios:
        sid = str(getattr(scenario, "id", ""))
        line = next((i for i, text in enumerate(lines, 1) if sid and sid in text), 1)
        yield line, scenario_record(scenario, system_prompt, path.name)


def _csv_rows(path: Path) -> Iterator[Found | RecordError]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        usable = [*INSTRUCTION_SHAPES, SCENARIO_FIELDS]  # on a tie, the commoner shape
        if not any(all(k in header for k in shape) for shape in usable):
            best = max(usable, key=lambda s: sum(k in header for k in s))
            if any(k in header for k in best):
                need = "missing column " + ", ".join(repr(k) for k in best if k not in header)
            else:
                need = ("no usable columns: need instruction,response (or prompt,completion or "
                        "input,output, or name,description,expected_response,category)")
            yield RecordError(path, 1, f"{need} (columns: {', '.join(header) or 'none'})")
            return
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                yield RecordError(path, start, "more values than columns")
            else:
                yield start, {k: v for k, v in row.items() if v is not None and v != ""}
            start = reader.line_num + 1


def read_file(path: Path, system_prompt: str) -> Iterator[tuple[int, Record, str] | RecordError]:
    """Yield ``(line, record, category)`` for each example of one file, or a RecordError."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield RecordError(path, 0, f"unsupported file type {suffix or '(none)'}; use {', '.join(SUFFIXES)}")
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        yield RecordError(path, 0, "not UTF-8 text")
        return
    except OSError as exc:
        yield RecordError(path, 0, f"cannot be read ({exc.strerror})")
        return

    found: list[Found | RecordError] = []
    if suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    found.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    found.append(RecordError(path, lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"))
    elif suffix == ".csv":
        found.extend(_csv_rows(path))
    elif suffix == ".json":
        try:
            items = _json_items(text)
        except json.JSONDecodeError as exc:
            yield RecordError(path, exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno})")
            return
        if items and _is_practice_scenario(items[0][1]):
            yield from _practice(path, system_prompt)
            return
        found.extend(items)
    else:  # YAML: practice-mode scenarios
        yield from _practice(path, system_prompt)
        return

    for item in found:
        if isinstance(item, RecordError):
            yield item
            continue
        lineno, obj = item
        try:
            record, category = convert(obj, path.name)
        except ValueError as exc:
            yield RecordError(path, lineno, str(exc))
        else:
            yield lineno, record, category


def _practice(path: Path, system_prompt: str) -> Iterator[tuple[int, Record, str] | RecordError]:
    for line, item in _practice_file(path, system_prompt):
        if isinstance(item, RecordError):
            yield item
        else:
            yield line, item, str(item.meta.get("category", ""))


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """The files named or found in the folders named. A path that does not exist, or a folder
    without training files, raises RecordError at once: it is a mistyped argument, not a bad
    record, so ``--skip-invalid`` must not drop it silently."""
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            if not found:
                raise RecordError(p, 0, f"no training files ({', '.join(SUFFIXES)}) in this folder")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise RecordError(p, 0, "no such file or folder; check the path")
    return files
