"""Loading scenarios: one file, folders of files, the starter bank and the teacher's folder.

A scenario file is YAML or JSON holding one scenario object, or a list of them under the key
``scenarios`` (a bare top-level list is accepted too). Problems in a teacher's files are
returned, never raised, so the good scenarios still load; the bank must be clean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .model import Scenario, ScenarioError
from .schema import JsonPath, describe
from .validation import build_scenario, format_path, line_for, read_json, read_yaml, scenario_errors

SCENARIO_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")
BANK_SOURCE = "bank"


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
    reader = read_json if path.suffix.lower() == ".json" else read_yaml
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
                    f"must be a non-empty list of scenarios (got {describe(listed)})",
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
        errors = scenario_errors(obj, label, lines, prefix)
        if errors:
            problems.extend(errors)
            continue
        scenario = replace(build_scenario(obj, label), source=label)
        line = line_for(lines, (*prefix, "id"))
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



@cache
def _bank() -> tuple[Scenario, ...]:
    folder = resources.files("teachbot_tui.practice").joinpath("bank")
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


PACK_SOURCE = "pack:"  # a pack's scenarios show as source "pack:MODEL"


def _pack_scenarios(known: list[Scenario]) -> list[Scenario]:
    """Valid scenarios of every installed model pack (``DATA/packs/NAME/scenarios``, written
    by teachbot_tui/packs.py) whose ids are not known yet; problems were shown when the pack
    was added."""
    from ...paths import Paths

    root = Paths.from_env().data_dir / "packs"
    if not root.is_dir():
        return []
    found: list[Scenario] = []
    seen = {s.id for s in known}
    for folder in sorted(p for p in root.iterdir() if (p / "scenarios").is_dir()):
        files = sorted((folder / "scenarios").iterdir())
        if not files:
            continue
        scenarios, _problems = load_files(files, source=PACK_SOURCE + folder.name)
        for s in scenarios:
            if s.id not in seen:
                seen.add(s.id)
                found.append(s)
    return found
