"""Practice scenarios: the file format, the starter bank, loading and validation.

A scenario file is YAML or JSON holding one scenario object, or a list of them under the key
``scenarios`` (a bare top-level list is accepted too). The format is defined once, as JSON
Schema, in ``practice/schema.json`` and documented in ``docs/scenarios.md``.

Every problem is reported as a :class:`ScenarioError` whose text is one line::

    bank/x.yaml:12: students[0].age_or_grade: required field missing

The modules: :mod:`.model` (the dataclasses and the default rubric), :mod:`.schema` (the JSON
Schema and its checks in plain words), :mod:`.validation` (line numbers and building a
:class:`Scenario`), :mod:`.loading` (files, folders and the bank, which is read on first use).
"""

from .loading import (
    BANK_SOURCE,
    SCENARIO_SUFFIXES,
    check_files,
    load_all,
    load_bank,
    load_files,
    validate_file,
)
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
from .schema import CATEGORIES, GRADE_BANDS, SCHEMA, load_schema
from .validation import format_path, validate_object

__all__ = [
    "BANK_SOURCE",
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
    "StudentWork",
    "check_files",
    "format_path",
    "load_all",
    "load_bank",
    "load_files",
    "load_schema",
    "validate_file",
    "validate_object",
]
