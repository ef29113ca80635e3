"""The shared training-record format (teachbot_tui.training_format)."""

from __future__ import annotations

import json

import pytest

from teachbot_tui.training_format import (
    ChatRecord,
    PreferencePair,
    RecordError,
    read_records,
    write_jsonl,
)


def test_roundtrip(tmp_path):
    chat = ChatRecord(
        [{"role": "user", "content": "How do I start?"}, {"role": "assistant", "content": "Greet them."}],
        source="practice", meta={"scenario": "x"}, feedback="Good.",
    )
    pair = PreferencePair([{"role": "user", "content": "Q?"}], "better", "worse", "practice", {})
    path = tmp_path / "out" / "data.jsonl"
    assert write_jsonl(path, [chat, pair]) == 2
    assert [p.name for p in path.parent.iterdir()] == ["data.jsonl"]  # no temporary left
    got = list(read_records(path))
    assert got == [(1, chat), (2, pair)]
    assert got[0][1].target == "Greet them."


def test_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": "fine question"}, {"role": "assistant", "content": "ok"}]},
        {"messages": [{"role": "coach", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "x"}]},
        {"prompt": [{"role": "user", "content": "x"}], "chosen": "a", "rejected": "a"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{oops\n", encoding="utf-8")
    errors: list[RecordError] = []
    records = list(read_records(path, on_error=errors.append))
    assert [n for n, _ in records] == [1]
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert str(errors[0]).startswith(f"{path}:2: ") and "bad role 'coach'" in str(errors[0])
    assert "last message must be the assistant" in str(errors[1])
    assert "same text" in str(errors[2])
    assert "not valid JSON" in str(errors[3])
    with pytest.raises(RecordError, match=r"bad\.jsonl:2: "):
        list(read_records(path))
    assert str(RecordError("f.csv", 0, "unreadable")) == "f.csv: unreadable"
