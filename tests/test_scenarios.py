"""Practice scenarios: the starter bank, the schema, and file:line validation errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from teachbot_tui.practice import scenarios as sc
from teachbot_tui.practice.scenarios import (
    CATEGORIES,
    DEFAULT_RUBRIC,
    GRADE_BANDS,
    Scenario,
    ScenarioError,
    check_files,
    load_all,
    load_bank,
    validate_file,
    validate_object,
)

DATA = Path(__file__).parent / "data" / "scenarios"
BANK_FILES = sorted(
    p.name
    for p in resources.files("teachbot_tui.practice").joinpath("bank").iterdir()
    if p.name.endswith(".yaml")
)


def _error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        validate_file(path)
    return info.value


def _minimal() -> dict:
    return yaml.safe_load((DATA / "valid-minimal.yaml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the bank


def test_bank_loads_with_enough_unique_scenarios() -> None:
    bank = load_bank()
    assert len(bank) >= 30
    ids = [s.id for s in bank]
    assert len(ids) == len(set(ids))
    assert all(s.source == "bank" for s in bank)
    assert len(BANK_FILES) == len(bank)  # one scenario per file


def test_bank_covers_every_grade_band_and_category() -> None:
    bank = load_bank()
    assert {s.grade_band for s in bank} == set(GRADE_BANDS)
    assert {s.category for s in bank} == set(CATEGORIES)
    assert len({s.subject for s in bank}) >= 6


def test_bank_scenarios_are_substantial() -> None:
    for s in load_bank():
        assert 1 <= len(s.students) <= 3, s.id
        assert 2 <= len(s.learning_objectives) <= 4, s.id
        assert 2 <= len(s.common_mistakes) <= 3, s.id
        assert len(s.situation.split()) >= 25, s.id
        voices = [st.voice for st in s.students]
        assert len(set(voices)) == len(voices), s.id
    assert any(s.title.startswith("A shy student") for s in load_bank())
    assert any(not s.uses_default_rubric for s in load_bank())


@pytest.mark.parametrize("name", BANK_FILES)
def test_every_bank_file_validates_against_schema_json_directly(name: str) -> None:
    schema = json.loads(
        resources.files("teachbot_tui.practice").joinpath("schema.json").read_text("utf-8")
    )
    text = resources.files("teachbot_tui.practice").joinpath("bank", name).read_text("utf-8")
    data = yaml.safe_load(text)
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["id"] == name.removesuffix(".yaml")


def test_schema_is_a_valid_draft_2020_12_schema_with_descriptions() -> None:
    schema = sc.SCHEMA
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False

    def walk(node: dict, where: str) -> None:
        for name, sub in node.get("properties", {}).items():
            assert sub.get("description"), f"{where}.{name} has no description"
            walk(sub, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], where + "[]")
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, where

    walk(schema, "scenario")
    for name, sub in schema["$defs"].items():
        walk(sub, name)


def test_default_rubric_is_the_original_four_criteria() -> None:
    names = [c.criterion for c in DEFAULT_RUBRIC]
    assert names == [
        "professional conduct",
        "pedagogical approach",
        "student support",
        "classroom management",
    ]
    assert all(c.weight == 0.25 for c in DEFAULT_RUBRIC)
    for c in DEFAULT_RUBRIC:
        assert [lv.score for lv in c.levels] == [1, 2, 3, 4]
        assert all(len(lv.descriptor) > 20 for lv in c.levels)


def test_expert_response_as_text_contains_every_part() -> None:
    s = next(s for s in load_bank() if s.id == "shy-student-speaking-up")
    text = s.expert_response.as_text()
    assert text.startswith("Immediate action: ")
    for part in ("Follow-up: ", "Prevention: ", "Key principles: wait time; "):
        assert part in text


# --------------------------------------------------------------------------- round trips


def test_to_dict_round_trips_for_every_bank_scenario() -> None:
    for s in load_bank():
        data = s.to_dict()
        json.dumps(data)  # JSON-able
        assert validate_object(data) == s


def test_default_rubric_is_filled_in_and_round_trips() -> None:
    s = validate_object(_minimal(), "x.yaml")
    assert s.rubric == DEFAULT_RUBRIC
    assert s.uses_default_rubric
    assert s.source == "x.yaml"
    assert validate_object(s.to_dict()) == s


def test_json_file_and_scenarios_list_load(tmp_path: Path) -> None:
    data = _minimal()
    path = tmp_path / "one.json"
    path.write_text(json.dumps(data, indent="\t"), encoding="utf-8")
    (s,) = validate_file(path)
    assert s.id == "test-valid-minimal" and s.source == str(path)

    two = tmp_path / "two.yaml"
    second = dict(data, id="test-second")
    two.write_text(yaml.safe_dump({"scenarios": [data, second]}), encoding="utf-8")
    assert [s.id for s in validate_file(two)] == ["test-valid-minimal", "test-second"]


def test_integer_age_is_read_as_text() -> None:
    data = _minimal()
    data["students"][0]["age_or_grade"] = 9
    assert validate_object(data).students[0].age_or_grade == "9"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "line", "field", "message"),
    [
        ("missing-field.yaml", 8, "students[0].age_or_grade", "required field missing"),
        ("wrong-enum.yaml", 4, "grade_band", "must be one of: K-2, 3-5, 6-8, 9-12 (got 'K-3')"),
        ("bad-weights.yaml", 27, "rubric", "weights must add up to 1 (got 0.9)"),
        (
            "wrong-type-in-list.yaml",
            12,
            "students[0].traits[1]",
            "must be text (got a whole number)",
        ),
        (
            "unknown-field.yaml",
            13,
            "students[0].voise",
            "unknown field; did you mean 'voice'? (voice is required)",
        ),
        (
            "json-error.json",
            6,
            "category",
            "must be one of: behaviour, engagement, learning difficulty, English learners, "
            "social-emotional, parent communication, safety, inclusion, assessment, "
            "classroom routines (got 'behavior'; did you mean 'behaviour'?)",
        ),
        ("multi.yaml", 43, "scenarios[1].students[0].needs", "must be a list (got text)"),
    ],
)
def test_broken_file_gives_file_line_field_message(
    name: str, line: int, field: str, message: str
) -> None:
    path = DATA / name
    err = _error(path)
    assert (err.path, err.line, err.field, err.message) == (str(path), line, field, message)
    assert str(err) == f"{path}:{line}: {field}: {message}"


def test_yaml_syntax_error_has_file_and_line() -> None:
    path = DATA / "syntax-error.yaml"
    err = _error(path)
    assert (err.line, err.field) == (14, "")
    assert str(err).startswith(f"{path}:14: YAML syntax error: mapping values are not allowed")
    assert "quotes" in str(err)


def test_json_syntax_error_has_file_and_line() -> None:
    path = DATA / "json-syntax-error.json"
    err = _error(path)
    assert str(err) == f"{path}:4: JSON syntax error: Expecting ',' delimiter (column 3)"


def test_duplicate_id_inside_one_file() -> None:
    path = DATA / "multi.yaml"
    errors = check_files([path])
    assert [str(e) for e in errors] == [
        f"{path}:43: scenarios[1].students[0].needs: must be a list (got text)",
        f"{path}:51: scenarios[2].id: duplicate id 'test-multi-one' (also at line 3)",
    ]


def test_duplicate_id_across_files() -> None:
    folder = DATA / "duplicate-ids"
    errors = check_files([folder])
    assert [str(e) for e in errors] == [
        f"{folder / 'b.yaml'}:2: id: duplicate id 'test-valid-minimal' "
        f"(also in {folder / 'a.yaml'}:2)"
    ]


def test_check_files_reports_every_error_in_every_file() -> None:
    errors = check_files([DATA])
    files = {Path(e.path).name for e in errors}
    assert {
        "missing-field.yaml",
        "wrong-enum.yaml",
        "bad-weights.yaml",
        "syntax-error.yaml",
        "wrong-type-in-list.yaml",
        "unknown-field.yaml",
        "json-error.json",
        "json-syntax-error.json",
        "multi.yaml",
        "b.yaml",
    } <= files
    assert all(e.line is not None for e in errors)


def test_check_files_on_missing_path_and_clean_bank(tmp_path: Path) -> None:
    (err,) = check_files([tmp_path / "nope"])
    assert str(err) == f"{tmp_path / 'nope'}: no such file or folder"
    bank_dir = resources.files("teachbot_tui.practice").joinpath("bank")
    with resources.as_file(bank_dir) as folder:
        assert check_files([Path(folder)]) == []


def test_draft_errors_without_lines() -> None:
    data = _minimal()
    del data["students"][0]["name"]
    with pytest.raises(ScenarioError) as info:
        validate_object(data)
    assert str(info.value) == "<draft>: students[0].name: required field missing"
    assert info.value.line is None


def test_weights_within_tolerance_pass_and_duplicate_scores_fail() -> None:
    data = _minimal()
    levels = [{"score": 1, "descriptor": "weak"}, {"score": 4, "descriptor": "strong"}]
    data["rubric"] = [
        {"criterion": "a", "description": "A.", "weight": 0.335, "levels": levels},
        {"criterion": "b", "description": "B.", "weight": 0.333, "levels": levels},
        {"criterion": "c", "description": "C.", "weight": 0.333, "levels": levels},
    ]
    assert [c.criterion for c in validate_object(data).rubric] == ["a", "b", "c"]
    data["rubric"][2]["levels"] = [*levels, {"score": 4, "descriptor": "again"}]
    with pytest.raises(ScenarioError, match=r"rubric\[2\]\.levels\[2\]\.score: score 4 appears"):
        validate_object(data)


def test_bad_id_and_blank_text() -> None:
    data = _minimal()
    data["id"] = "Bad Id"
    with pytest.raises(ScenarioError, match="id: must be 3-64 lowercase"):
        validate_object(data)
    data = _minimal()
    data["situation"] = "   "
    with pytest.raises(ScenarioError, match="situation: must not be blank"):
        validate_object(data)


# --------------------------------------------------------------------------- load_all


def test_load_all_without_user_dir_is_the_bank() -> None:
    scenarios, errors = load_all(None)
    assert errors == []
    assert [s.id for s in scenarios] == [s.id for s in load_bank()]


def test_user_dir_overrides_bank_by_id_and_reports_bad_files(tmp_path: Path) -> None:
    bank = load_bank()
    target = bank[3]
    mine = target.to_dict()
    mine.pop("source")
    mine["title"] = "My own version"
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(mine), encoding="utf-8")
    extra = dict(_minimal(), id="my-new-scenario")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.json").write_text(json.dumps(extra), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a scenario", encoding="utf-8")

    scenarios, errors = load_all(tmp_path)

    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids)) == len(bank) + 1
    replaced = scenarios[3]
    assert replaced.id == target.id
    assert replaced.title == "My own version"
    assert replaced.source == str(tmp_path / "override.yaml")
    assert scenarios[-1].id == "my-new-scenario"
    assert [Path(e.path).name for e in errors] == ["broken.yaml"]
    assert errors[0].line is not None
    assert isinstance(scenarios[0], Scenario)


def test_load_all_with_missing_user_dir_reports_it(tmp_path: Path) -> None:
    scenarios, errors = load_all(tmp_path / "missing")
    assert len(scenarios) == len(load_bank())
    assert len(errors) == 1 and "folder not found" in str(errors[0])


# --------------------------------------------------------------------------- docs


def _doc_blocks() -> list[str]:
    text = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    return [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith("yaml\n")]


def test_docs_example_and_rubric_example_validate() -> None:
    blocks = _doc_blocks()
    example = next(yaml.safe_load(b) for b in blocks if b.startswith("id: "))
    scenario = validate_object(example, "docs/scenarios.md")
    assert scenario.uses_default_rubric
    rubric = next(yaml.safe_load(b) for b in blocks if b.startswith("rubric:"))
    custom = validate_object({**example, **rubric})
    assert [c.weight for c in custom.rubric] == [0.6, 0.4]


def test_docs_list_every_schema_field() -> None:
    text = (Path(__file__).parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    schema = sc.SCHEMA
    names = set(schema["properties"])
    names |= set(schema["properties"]["expert_response"]["properties"])
    names |= set(schema["properties"]["common_mistakes"]["items"]["properties"])
    for sub in ("student", "criterion"):
        names |= set(schema["$defs"][sub]["properties"])
    for name in names:
        assert f"| `{name}` |" in text, name
