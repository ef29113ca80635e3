"""The decoding loop (engine/decoding.py) with the real default model: text comes out whole,
stop strings end the reply, and the reply ends where it should."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from teachbot_tui import defaults
from teachbot_tui.engine import decoding, llama_api
from teachbot_tui.engine.base import Cancel, Options, Usage

PROMPT = b"<|im_start|>user\nName three calm ways to start a lesson.<|im_end|>\n" \
    b"<|im_start|>assistant\n"


@pytest.mark.parametrize(("pieces", "stops", "shown", "stopped"), [
    (["Hello", " wor", "ld"], ["\nStudent:"], "Hello world", False),
    (["One.", "\nStu", "dent: hi"], ["\nStudent:"], "One.", True),
    (["One.", "\nStu", "dy"], ["\nStudent:"], "One.\nStudy", False),  # held, then let go
    (["a<", "/s", ">b"], ["</s>", "\n\n"], "a", True),
    (["no stops"], [], "no stops", False),
])
def test_stop_strings_cut_the_text_and_hold_back_their_start(
        pieces: list[str], stops: list[str], shown: str, stopped: bool) -> None:
    cut = decoding.StopStrings(stops)
    out, hit = "", False
    for piece in pieces:
        text, hit = cut.feed(piece)
        out += text
        if hit:
            break
    if not hit:
        out += cut.flush()
    assert (out, hit) == (shown, stopped)


@pytest.fixture(scope="module")
def llm() -> Iterator[Any]:
    import llama_cpp

    model = llama_cpp.Llama(str(defaults.chat_model_path()), n_ctx=512, n_threads=1,
                            n_threads_batch=1, seed=0, verbose=False)
    yield model
    model.close()


class OnlyThese:
    """A matcher (llguidance's interface, as decoding.decode uses it) that allows exactly
    the given tokens, one per step, then is done."""

    def __init__(self, tokens: list[int], n_vocab: int) -> None:
        self.tokens = list(tokens)
        self.n_vocab = n_vocab

    def unsafe_compute_mask_ptr(self, address: int, size: int) -> None:
        bits = np.zeros(size // 4, dtype=np.int32)
        token = self.tokens[0]
        bits.view(np.uint8)[token // 8] = 1 << (token % 8)
        ctypes.memmove(address, bits.ctypes.data, size)

    def consume_token(self, token: int) -> bool:
        return token == self.tokens.pop(0)

    def is_stopped(self) -> bool:
        return not self.tokens


@pytest.mark.slow
def test_a_long_piece_comes_out_whole(llm: Any) -> None:
    vocab = llama_api.vocab(llm)
    long = next(t for t in range(llm.n_vocab()) if len(llama_api.piece(vocab, t)) > 32)
    word = llm.tokenize(b" calm", add_bos=False)
    tokens = llm.tokenize(PROMPT, add_bos=False, special=True)
    llama_api.rewind(llm, 0)
    llm.eval(tokens[:-1])
    usage = Usage()
    text = "".join(decoding.decode(llm, tokens, Options(max_tokens=8, temperature=0.0),
                                   None, usage, time.perf_counter(),
                                   matcher=OnlyThese([*word, long, *word], llm.n_vocab())))
    assert text == " calm" + llama_api.piece(vocab, long).decode() + " calm"
    assert usage.decode_tokens == 2 + len(word) and usage.finish_reason == "stop"


@pytest.mark.slow
def test_free_text_ends_at_a_stop_string_or_max_tokens(llm: Any) -> None:
    tokens = llm.tokenize(PROMPT, add_bos=False, special=True)

    def run(opts: Options, cancel: Cancel | None = None) -> tuple[str, Usage]:
        llama_api.rewind(llm, 0)
        llm.eval(tokens[:-1])
        usage = Usage()
        text = "".join(decoding.decode(llm, tokens, opts, cancel, usage, time.perf_counter()))
        return text, usage

    free, usage = run(Options(max_tokens=24, temperature=0.0))
    assert usage.finish_reason == "length" and usage.decode_tokens == 24 and free.strip()
    words = free.split()
    stop = " " + words[len(words) // 2]
    cut, usage = run(Options(max_tokens=24, temperature=0.0, stop=[stop]))
    assert usage.finish_reason == "stop" and cut == free[: free.index(stop)]
    cancel = Cancel()
    cancel.set()
    nothing, usage = run(Options(max_tokens=24), cancel)
    assert nothing == "" and usage.finish_reason == "cancelled"
