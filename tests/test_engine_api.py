"""What the engine assumes about llama-cpp-python (engine/llama_api.py), checked one by one
against the installed version with the real default model. A new llama-cpp-python that
changes one of these fails here, by name. Slow: the model loads."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from teachbot_tui import defaults
from teachbot_tui.engine import llama_api

pytestmark = pytest.mark.slow

KEEP_ALIVE: list[Any] = []  # C callbacks handed to llama.cpp
PROMPT = b"<|im_start|>user\nName three calm ways to start a lesson.<|im_end|>\n"


def load(**kw: Any) -> Any:
    import llama_cpp

    return llama_cpp.Llama(str(defaults.chat_model_path()), n_ctx=512, n_threads=1,
                           n_threads_batch=1, seed=0, verbose=False, **kw)


def last_position(llm: Any) -> int:
    import llama_cpp

    return int(llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(llm.ctx), 0))


@pytest.fixture(scope="module")
def llm() -> Iterator[Any]:
    """A bare ``Llama`` of its own: these tests replace its callbacks and rewind it."""
    model = load()
    yield model
    model.close()


def test_the_public_names_the_engine_uses_exist(llm: Any) -> None:
    import llama_cpp

    for name in ("llama_model_get_vocab", "llama_vocab_get_text", "llama_vocab_get_add_bos",
                 "llama_vocab_eot", "llama_vocab_eos", "llama_vocab_n_tokens",
                 "llama_vocab_get_attr", "llama_vocab_is_eog", "llama_token_to_piece",
                 "llama_get_memory", "llama_memory_seq_rm", "llama_set_n_threads",
                 "ggml_abort_callback", "llama_set_abort_callback", "llama_tokenize",
                 "llama_get_logits_ith", "llama_sampler_chain_init",
                 "llama_sampler_chain_default_params", "llama_sampler_chain_add",
                 "llama_sampler_init_penalties", "llama_sampler_init_greedy",
                 "llama_sampler_init_top_k", "llama_sampler_init_typical",
                 "llama_sampler_init_top_p", "llama_sampler_init_min_p",
                 "llama_sampler_init_temp", "llama_sampler_init_dist", "llama_sampler_sample",
                 "llama_sampler_free", "llama_progress_callback", "LLAMA_TOKEN_ATTR_CONTROL",
                 "LLAMA_TOKEN_ATTR_USER_DEFINED", "llama_adapter_lora_init",
                 "llama_set_adapters_lora", "llama_adapter_lora_free",
                 "llama_adapter_lora_p_ctypes"):
        assert hasattr(llama_cpp, name), f"llama_cpp.{name} is gone"
    for name in ("ctx", "model", "input_ids", "n_tokens", "last_n_tokens_size", "eval",
                 "tokenize", "create_completion", "set_seed", "n_vocab", "metadata"):
        assert hasattr(llm, name), f"Llama.{name} is gone"


def test_vocabulary_facts(llm: Any) -> None:
    eos = llm.token_eos()
    assert llama_api.token_text(llm, eos) == "<|im_end|>"  # SmolLM2's ChatML end of turn
    assert llama_api.token_text(llm, llm.tokenize(b" lesson", add_bos=False)[0]) == "Ġlesson"
    assert isinstance(llama_api.adds_bos(llm), bool)
    eot = llama_api.eot_token(llm)
    assert eot == -1 or 0 <= eot < llm.n_vocab()


def test_held_tokens_and_rewind_keep_the_cache_consistent(llm: Any) -> None:
    tokens = llm.tokenize(PROMPT, add_bos=False, special=True)
    head, tail = tokens[:8], tokens[8:]
    llama_api.rewind(llm, 0)
    llm.eval(tokens)
    assert llama_api.held_tokens(llm) == tokens
    reference = llama_api.last_logits(llm, llm.n_vocab()).copy()
    llama_api.rewind(llm, len(head))
    assert llama_api.held_tokens(llm) == head
    assert last_position(llm) == len(head) - 1  # the KV cache after the head is gone too
    llm.eval(llm.tokenize(b" something else entirely, at length", add_bos=False))
    llama_api.rewind(llm, len(head))  # the other continuation's cache is dropped too
    llm.eval(tail)
    assert llama_api.held_tokens(llm) == tokens
    again = llama_api.last_logits(llm, llm.n_vocab())
    np.testing.assert_allclose(again, reference, rtol=1e-3, atol=1e-3)


def test_an_adapter_is_applied_and_lifted_on_the_context(llm: Any) -> None:
    tokens = llm.tokenize(PROMPT, add_bos=False, special=True)

    def logits() -> np.ndarray:
        llama_api.rewind(llm, 0)
        llm.eval(tokens)
        return llama_api.last_logits(llm, llm.n_vocab()).copy()

    base = logits()
    handle = llama_api.load_adapter(llm, str(defaults.ADAPTER_PATH))
    try:
        llama_api.apply_adapter(llm, handle)
        tuned = logits()
        llama_api.apply_adapter(llm, None)
        lifted = logits()
    finally:
        llama_api.apply_adapter(llm, None)
        llama_api.free_adapter(handle)
    assert float(np.abs(tuned - base).max()) > 0.05
    np.testing.assert_allclose(lifted, base, rtol=1e-3, atol=1e-3)
    with pytest.raises(RuntimeError):
        llama_api.load_adapter(llm, str(defaults.chat_model_path()))  # a model, not an adapter


def test_abort_callback_stops_an_evaluation(llm: Any) -> None:
    calls = {"n": 0, "abort": True}

    def should_abort() -> bool:
        calls["n"] += 1
        return calls["abort"]

    KEEP_ALIVE.append(llama_api.set_abort_callback(llm, should_abort))
    try:
        llama_api.rewind(llm, 0)
        with pytest.raises(RuntimeError):
            llm.eval(llm.tokenize(PROMPT, add_bos=False, special=True))
        assert calls["n"] >= 1
        calls["abort"] = False
        llama_api.rewind(llm, 0)
        tokens = llm.tokenize(PROMPT, add_bos=False, special=True)
        llm.eval(tokens)  # not aborted: reads the whole prompt
        assert llama_api.held_tokens(llm) == tokens
    finally:  # llama.cpp holds the C callback: it must outlive every later evaluation
        KEEP_ALIVE.append(llama_api.set_abort_callback(llm, lambda: False))


def test_thread_count_is_set(llm: Any) -> None:
    import llama_cpp

    llama_api.set_threads(llm, 1)
    assert llama_cpp.llama_n_threads(llm.ctx) == 1
    llama_api.set_threads(llm, 2)
    assert llama_cpp.llama_n_threads(llm.ctx) == 2
    llama_api.set_threads(llm, 1)


def test_tokenize_address_is_llama_tokenize(llm: Any) -> None:
    """llguidance calls the address directly: calling it here must tokenize as llama.cpp."""
    proto = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                             ctypes.POINTER(ctypes.c_int32), ctypes.c_int32, ctypes.c_bool,
                             ctypes.c_bool)
    tokenize = proto(llama_api.tokenize_address())
    text = b"The class reads a story together."
    out = (ctypes.c_int32 * 64)()
    n = tokenize(llama_api.vocab(llm), text, len(text), out, 64, False, False)
    assert list(out[:n]) == llm.tokenize(text, add_bos=False, special=False)


def test_sampler_draws_as_create_completion_does(llm: Any) -> None:
    """Same settings and seed: the sampler chain picks the tokens that llama-cpp-python's own
    free-text path picks (JSON output samples exactly like free text)."""
    tokens = llm.tokenize(PROMPT + b"<|im_start|>assistant\n", add_bos=False, special=True)
    settings = dict(top_p=0.9, temperature=0.8, repeat_penalty=1.1)
    llama_api.rewind(llm, 0)
    expected = llm.create_completion(tokens, max_tokens=12, seed=7, **settings)
    llama_api.rewind(llm, 0)
    llm.eval(tokens)
    sampler = llama_api.Sampler(llm, top_k=40, top_p=0.9, min_p=0.05, typical_p=1.0,
                                temp=0.8, repeat_penalty=1.1, seed=7)
    got: list[int] = []
    try:
        for _ in range(12):
            token = sampler.sample()
            if token == llm.token_eos():
                break
            got.append(token)
            llm.eval([token])
    finally:
        sampler.close()
    assert llm.detokenize(got).decode("utf-8", "replace") == expected["choices"][0]["text"]


def test_pieces_are_read_whole_where_detokenize_drops_them(llm: Any) -> None:
    """Why engine/decoding.py has its own loop: llama-cpp-python's detokenize (used by
    create_completion's text) gives nothing for a token whose text is over 32 bytes. When a
    new version fixes this, the first assertion fails: the loop may then go back to it."""
    vocab = llama_api.vocab(llm)
    long = next(t for t in range(llm.n_vocab())
                if len(llama_api.piece(vocab, t, ctypes.create_string_buffer(8))) > 32)
    whole = llama_api.piece(vocab, long)
    assert llm.detokenize([long]) == b""
    assert len(whole) > 32 and llm.tokenize(whole, add_bos=False, special=False) == [long]
    assert llama_api.token_bytes(llm, long) == whole
    eos = llm.token_eos()
    assert llama_api.piece(vocab, eos, special=True) == b"<|im_end|>"
    assert llama_api.piece(vocab, eos) == b""


def test_greedy_sampling_sees_writes_to_the_logits(llm: Any) -> None:
    """decoding.decode masks tokens by writing -inf into llama.cpp's logits buffer."""
    llama_api.rewind(llm, 0)
    llm.eval(llm.tokenize(PROMPT, add_bos=False, special=True))
    logits = llama_api.last_logits(llm, llm.n_vocab())
    best = int(np.argmax(logits))
    sampler = llama_api.Sampler(llm, top_k=40, top_p=1.0, min_p=0.0, typical_p=1.0, temp=0.0,
                                repeat_penalty=1.0, seed=0)
    try:
        logits[best] = -np.inf
        second = int(np.argmax(logits))
        assert sampler.sample() == second != best
    finally:
        sampler.close()


def test_load_progress_reaches_the_loader() -> None:
    """llama_api.load_progress wraps llama_cpp's default model parameters: the load reports
    fractions between 0 and 1, ending at 1."""
    seen: list[float] = []

    def report(fraction: float) -> bool:
        seen.append(fraction)
        return True

    with llama_api.load_progress(report):
        model = load()
    model.close()
    assert seen, "Llama(...) no longer takes its parameters from llama_model_default_params"
    assert seen[-1] == pytest.approx(1.0) and any(0.0 < f < 1.0 for f in seen)
    assert seen == sorted(seen)
    seen.clear()
    load().close()  # outside the context: the default parameters are back
    assert seen == []
