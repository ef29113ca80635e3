"""JSON decoding under a schema (engine/structured.py: llguidance token masks over llama.cpp)
with the real llama.cpp and the real default model. Slow: the model loads."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from teachbot_tui.engine import structured
from teachbot_tui.engine.base import Cancel, Options, Usage
from teachbot_tui.practice.coach import evaluation_schema
from teachbot_tui.practice.draft import draft_messages, draft_schema
from teachbot_tui.practice.scenarios import load_bank

pytestmark = pytest.mark.slow

ASK = [{"role": "system", "content": "You are a helpful assistant. Reply with JSON only."},
       {"role": "user", "content": "Describe a calm classroom in JSON."}]


def decode(engine: Any, messages: list[dict[str, str]], schema: dict[str, Any],
           **kw: Any) -> tuple[str, Usage]:
    usage = Usage()
    opts = Options(json_schema=schema, **{"max_tokens": 400, "temperature": 0.2, "seed": 0,
                                          **kw})
    return "".join(engine.execute(messages, opts, None, usage)), usage


def test_coach_schema_output_validates_and_uses_llguidance(engine: Any) -> None:
    scenario = next(s for s in load_bank() if s.id == "adhd-carpet-time")
    schema = evaluation_schema(scenario)
    assert structured.matcher_for(engine.llm, schema) is not None  # not the fallback
    text, usage = decode(engine, ASK, schema)
    obj = json.loads(text)
    jsonschema.validate(obj, schema)
    assert list(obj) == ["scores", "strength", "improvement"]  # the schema's order
    assert list(obj["scores"]) == [c.criterion for c in scenario.rubric]
    assert usage.finish_reason == "stop" and usage.decode_tokens > 10
    assert usage.decode_ms > 0 and usage.prompt_eval_ms > 0


def test_draft_schema_output_validates(engine: Any) -> None:
    schema = draft_schema("3-5", None)
    messages = draft_messages("A pupil who keeps leaving the room", "3-5", None)
    text, usage = decode(engine, messages, schema, max_tokens=900, repeat_penalty=1.2)
    assert usage.finish_reason == "stop", text[-200:]
    jsonschema.validate(json.loads(text), schema)


def test_the_same_prompt_twice_and_a_prompt_extending_the_last(engine: Any) -> None:
    schema = {"type": "object", "properties": {"mood": {"enum": ["calm", "busy", "loud"]}},
              "required": ["mood"], "additionalProperties": False}
    first, _ = decode(engine, ASK, schema, temperature=0.0)
    again, usage = decode(engine, ASK, schema, temperature=0.0)
    assert first == again and json.loads(again)["mood"] in ("calm", "busy", "loud")
    assert usage.cached_tokens == usage.prompt_tokens  # all cached: only the last re-runs
    longer = [*ASK, {"role": "assistant", "content": again},
              {"role": "user", "content": "And a noisy one?"}]
    text, usage = decode(engine, longer, schema)
    assert json.loads(text)["mood"] in ("calm", "busy", "loud")
    assert usage.cached_tokens > 0


def test_multibyte_text_comes_out_whole(engine: Any) -> None:
    schema = {"type": "object", "properties": {"word": {"enum": ["café crème", "naïveté"]}},
              "required": ["word"], "additionalProperties": False}
    text, _ = decode(engine, ASK, schema)
    assert json.loads(text)["word"] in ("café crème", "naïveté")


def test_cut_short_and_cancelled(engine: Any) -> None:
    schema = evaluation_schema(next(iter(load_bank())))
    text, usage = decode(engine, ASK, schema, max_tokens=6)
    assert usage.finish_reason == "length" and usage.decode_tokens == 6
    assert text.startswith('{"scores": {')
    cancel = Cancel()
    usage = Usage()
    pieces = []
    for piece in engine.execute(ASK, Options(json_schema=schema, max_tokens=200), cancel,
                                usage):
        pieces.append(piece)
        cancel.set()
    assert usage.finish_reason == "cancelled" and len(pieces) == 1


def test_fallback_to_llama_cpp_grammar(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema llguidance cannot take goes through llama.cpp's own grammar."""
    schema = {"type": "object", "properties": {"mood": {"enum": ["calm", "busy"]}},
              "required": ["mood"], "additionalProperties": False}
    calls = []

    def refuse(*args: Any) -> None:
        calls.append(args)
        return None

    monkeypatch.setattr(structured, "matcher_for", refuse)
    text, usage = decode(engine, ASK, schema)
    assert calls and json.loads(text)["mood"] in ("calm", "busy")
    assert usage.finish_reason == "stop"


def test_an_impossible_schema_is_refused_not_raised(engine: Any) -> None:
    assert structured.matcher_for(engine.llm, {"type": "string", "pattern": "("}) is None
