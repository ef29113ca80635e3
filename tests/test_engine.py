"""The llama.cpp engine with the real default model (SmolLM2-135M Q4_1). The tests that load
it are slow; the file checks and the thread choice are not."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from teachbot_tui import defaults
from teachbot_tui.engine import llama_api
from teachbot_tui.engine.base import Cancel, ChatModel, EngineError, Options, Usage
from teachbot_tui.engine.llama import LlamaEngine

QUESTION = [{"role": "system", "content": "You are a helpful teacher coach."},
            {"role": "user", "content": "Give one tip for a calm classroom."}]


@pytest.mark.slow
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


@pytest.mark.slow
def test_chat_template_comes_from_the_gguf(engine: LlamaEngine) -> None:
    prompt = engine.format_prompt(QUESTION)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful teacher coach.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_cancel_stops_the_reply(engine: LlamaEngine) -> None:
    """Esc while decoding stops the stream (how fast is measured by scripts/bench_chat.py)."""
    cancel = Cancel()
    usage = Usage()
    stream = engine.execute(QUESTION, Options(max_tokens=400, temperature=0.8, seed=1), cancel,
                            usage)
    got: list[str] = []

    def consume() -> None:
        for piece in stream:
            got.append(piece)

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.monotonic() + 60
    while len(got) < 5 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(got) >= 5, "the reply did not start"
    cancel.set()
    t.join(timeout=10)  # a hang, not a speed check
    assert not t.is_alive()
    assert usage.finish_reason == "cancelled"
    assert usage.decode_tokens < 400


@pytest.mark.slow
def test_cancel_aborts_the_prompt_being_read(engine: LlamaEngine) -> None:
    """A cancel while a long prompt is read stops it (llama.cpp aborts the slice in
    progress); the slices read before stay cached, and the next call reads the rest and
    answers exactly as a fresh engine does."""
    long_prompt = [{"role": "user", "content": "The class reads a story together. " * 250}]
    cancel = Cancel()
    usage = Usage()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 0:  # lands inside a slice, most likely the second or third
            threading.Timer(0.3, cancel.set).start()

    engine.execute([{"role": "user", "content": "hi"}], Options(max_tokens=1))  # other prompt
    pieces = list(engine.execute(long_prompt, Options(max_tokens=8, temperature=0), cancel,
                                 usage, progress=progress))
    assert pieces == [] and usage.finish_reason == "cancelled"
    total = seen[0][1]
    assert seen[0] == (0, total) and seen[-1][0] < total
    kept = engine.cached_tokens(long_prompt)
    assert kept == usage.cached_tokens + seen[-1][0]  # exactly the slices read before
    again = Usage()
    text = "".join(engine.execute(long_prompt, Options(max_tokens=8, temperature=0), None, again))
    assert again.cached_tokens == kept
    fresh = LlamaEngine(defaults.chat_model_path(), n_ctx=engine.n_ctx, n_threads=1)
    try:
        assert "".join(fresh.execute(long_prompt, Options(max_tokens=8, temperature=0))) == text
    finally:
        fresh.close()


@pytest.mark.slow
def test_prompt_reading_reports_progress_and_speed(engine: LlamaEngine) -> None:
    assert engine.prompt_speed() > 0
    prompt = [{"role": "user", "content": "Seating plans help a new class settle. " * 60}]
    seen: list[tuple[int, int]] = []
    usage = Usage()
    list(engine.execute(prompt, Options(max_tokens=2), None, usage,
                        progress=lambda done, total: seen.append((done, total))))
    to_read = usage.prompt_tokens - usage.cached_tokens - 1  # the last token is decoded
    assert seen[0] == (0, to_read) and seen[-1] == (to_read, to_read)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert engine.cached_tokens(prompt) == usage.prompt_tokens  # all of it is held now
    # nothing left to read: no progress at all
    seen.clear()
    list(engine.execute(prompt, Options(max_tokens=2), None, Usage(),
                        progress=lambda done, total: seen.append((done, total))))
    assert seen == []


def test_automatic_threads_leave_busy_cores_alone() -> None:
    from teachbot_tui.engine.llama import CpuLoad

    load = CpuLoad()
    assert 1 <= load.threads() <= load.cores
    # looked again at once: the window is too short to measure, the last figure stands
    load.others, load._last = float(load.cores), load._read()
    assert load.threads() == 1  # every core busy elsewhere: still one thread
    load.others, load._last = 0.0, load._read()
    assert load.threads() == load.cores


@pytest.mark.slow
def test_second_turn_reuses_the_prompt_prefix(engine: LlamaEngine) -> None:
    first = Usage()
    reply = "".join(engine.execute(QUESTION, Options(max_tokens=16, temperature=0), None, first))
    follow = [*QUESTION, {"role": "assistant", "content": reply},
              {"role": "user", "content": "And for a noisy class after lunch?"}]
    second = Usage()
    "".join(engine.execute(follow, Options(max_tokens=8, temperature=0), None, second))
    assert second.cached_tokens >= first.prompt_tokens
    assert second.prompt_tokens - second.cached_tokens < 40


@pytest.mark.slow
def test_a_reply_is_not_read_again_when_its_text_tokenizes_otherwise(
        engine: LlamaEngine) -> None:
    llm = engine.llm
    prompt = engine.tokenize_prompt(QUESTION)
    words = "Start every lesson with a calm routine, the same each day."
    # written one character at a time, with a control token in the middle that the reply's
    # text leaves out: not how that text tokenizes
    chars = [t for ch in words for t in llm.tokenize(ch.encode(), add_bos=False)]
    control = llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert len(control) == 1 and llama_api.token_bytes(llm, control[0], special=False) == b""
    written = chars[:20] + control + chars[20:]
    assert written != llm.tokenize(words.encode(), add_bos=False)
    llama_api.rewind(llm, 0)
    llm.eval(prompt + written)
    follow = [*QUESTION, {"role": "assistant", "content": words},
              {"role": "user", "content": "And for a noisy class after lunch?"}]
    usage = Usage()
    "".join(engine.execute(follow, Options(max_tokens=4, temperature=0), None, usage))
    assert usage.cached_tokens == len(prompt) + len(written)
    # the rest of the prompt is read as its own text tokenizes
    rest = engine.tokenize_prompt(follow)[usage.cached_tokens:]
    assert b"".join(llama_api.token_bytes(llm, t) for t in rest).startswith(b"<|im_end|>")


@pytest.mark.slow
def test_json_schema_output_always_parses(engine: LlamaEngine) -> None:
    schema = {"type": "object", "properties": {
        "score": {"type": "integer", "enum": [1, 2, 3, 4]},
        "tip": {"type": "string", "maxLength": 80}},
        "required": ["score", "tip"]}
    out = engine.generate_json(
        [{"role": "user", "content": "Rate 'shouting at pupils' from 1 to 4 and give a tip."}],
        schema, Options(max_tokens=80, temperature=0))
    assert out["score"] in (1, 2, 3, 4) and isinstance(out["tip"], str)


@pytest.mark.slow
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


@pytest.mark.slow
def test_load_reports_progress() -> None:
    seen: list[float] = []
    eng = LlamaEngine(defaults.chat_model_path(), n_ctx=512, n_threads=1, progress=seen.append)
    eng.close()
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_niced_processes_leave_their_cores_to_the_model() -> None:
    """A background job at the lowest priority yields its core: it does not count as busy
    for a model running at normal priority, and does for a niced one."""
    from teachbot_tui.engine.llama import CpuLoad

    #        user nice system idle iowait irq softirq steal
    stat = "cpu  100  900  0      1000 0      0   0       0 0 0"
    own = "123 (python) R " + " ".join(["0"] * 10) + " 60 40 0 0"  # utime 60, stime 40
    total, free, mine = CpuLoad.parse(stat, own, niced_is_free=True)
    assert (total, free, mine) == (2000, 1900, 100)
    assert CpuLoad.parse(stat, own, niced_is_free=False)[1] == 1000
