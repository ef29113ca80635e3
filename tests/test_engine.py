"""The llama.cpp engine with the real default model (SmolLM2-135M Q4_1)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from teachbot_tui import defaults
from teachbot_tui.engine.base import Cancel, ChatModel, EngineError, Options, Usage
from teachbot_tui.engine.llama import LlamaEngine

QUESTION = [{"role": "system", "content": "You are a helpful teacher coach."},
            {"role": "user", "content": "Give one tip for a calm classroom."}]


def test_engine_streams_text_and_reports_usage(engine: LlamaEngine) -> None:
    assert isinstance(engine, ChatModel)
    usage = Usage()
    pieces = list(engine.execute(QUESTION, Options(max_tokens=24, temperature=0), None, usage))
    text = "".join(pieces)
    assert len(pieces) > 3 and text.strip()
    assert usage.prompt_tokens == engine.count_prompt_tokens(QUESTION)
    assert 0 < usage.decode_tokens <= 24
    assert usage.finish_reason in ("stop", "length")
    again = "".join(engine.execute(QUESTION, Options(max_tokens=24, temperature=0)))
    assert again == text  # temperature 0 is deterministic


def test_chat_template_comes_from_the_gguf(engine: LlamaEngine) -> None:
    prompt = engine.format_prompt(QUESTION)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful teacher coach.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_cancel_stops_within_100_ms(engine: LlamaEngine) -> None:
    cancel = Cancel()
    usage = Usage()
    stream = engine.execute(QUESTION, Options(max_tokens=400, temperature=0.8, seed=1), cancel,
                            usage)
    got: list[str] = []
    stopped_at: list[float] = []

    def consume() -> None:
        for piece in stream:
            got.append(piece)
        stopped_at.append(time.perf_counter())

    t = threading.Thread(target=consume)
    t.start()
    while len(got) < 5:
        time.sleep(0.005)
    cancel_at = time.perf_counter()
    cancel.set()
    t.join(timeout=5)
    assert not t.is_alive()
    assert usage.finish_reason == "cancelled"
    assert usage.decode_tokens < 400
    lag = stopped_at[0] - cancel_at
    assert lag < 0.1, f"cancel took {lag * 1000:.0f} ms"


def test_second_turn_reuses_the_prompt_prefix(engine: LlamaEngine) -> None:
    first = Usage()
    reply = "".join(engine.execute(QUESTION, Options(max_tokens=16, temperature=0), None, first))
    follow = [*QUESTION, {"role": "assistant", "content": reply},
              {"role": "user", "content": "And for a noisy class after lunch?"}]
    second = Usage()
    "".join(engine.execute(follow, Options(max_tokens=8, temperature=0), None, second))
    assert second.cached_tokens >= first.prompt_tokens
    assert second.prompt_tokens - second.cached_tokens < 40


def test_json_schema_output_always_parses(engine: LlamaEngine) -> None:
    schema = {"type": "object", "properties": {
        "score": {"type": "integer", "enum": [1, 2, 3, 4]},
        "tip": {"type": "string", "maxLength": 80}},
        "required": ["score", "tip"]}
    out = engine.generate_json(
        [{"role": "user", "content": "Rate 'shouting at pupils' from 1 to 4 and give a tip."}],
        schema, Options(max_tokens=80, temperature=0))
    assert out["score"] in (1, 2, 3, 4) and isinstance(out["tip"], str)


def test_prompt_over_the_context_is_refused(engine: LlamaEngine) -> None:
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(EngineError, match="exceed the context window"):
        list(engine.execute(huge, Options(max_tokens=10)))


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("text", "not a GGUF"),
    ("truncated", "truncated"),
    ("folder", "is a folder"),
])
def test_bad_model_files_give_one_clear_line(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "model.gguf"
    if kind == "text":
        path.write_text("not a model")
    elif kind == "truncated":
        src = defaults.chat_model_path()
        with src.open("rb") as fh:
            path.write_bytes(fh.read(src.stat().st_size - 1000))
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(EngineError, match=message) as info:
        LlamaEngine(path, n_ctx=512)
    assert "\n" not in str(info.value) and "model.gguf" in str(info.value)


def test_unsupported_architecture_is_one_line(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "weird.gguf"
    w = gguf.GGUFWriter(str(path), "notarealarch")
    w.add_context_length(128)
    import numpy as np

    w.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(EngineError, match="could not load") as info:
        LlamaEngine(path, n_ctx=128)
    assert "\n" not in str(info.value)


def test_load_reports_progress() -> None:
    seen: list[float] = []
    eng = LlamaEngine(defaults.chat_model_path(), n_ctx=512, n_threads=1, progress=seen.append)
    eng.close()
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
