"""The decoding loop: sample a token, turn it into text, evaluate it, until the reply ends.

One loop serves free text and JSON (where an llguidance matcher masks the logits first, see
:mod:`.structured`), with llama.cpp's sampler chain set up as ``Llama.create_completion``
sets it (:class:`.llama_api.Sampler`). It replaces ``create_completion`` because that drops
every token whose text is longer than 32 bytes (runs of spaces or ``=``: its detokenize buffer
is 32 bytes and a negative "too small" answer slices to nothing, llama-cpp-python issue
#2362), so replies lost indentation and rules; here each token's bytes are read whole.

Text comes out as UTF-8 is completed (a character split over tokens is held back; bytes that
make no character show as U+FFFD). The reply ends at an end-of-generation token, at a
``stop`` string (which is not shown; text that may still become one is held back), when the
matcher's JSON is complete, at ``max_tokens``, or when ``cancel`` is set.

:func:`grammar_decode` is the fallback for a JSON schema llguidance cannot take: llama.cpp's
own grammar, through ``create_completion``.
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections.abc import Iterator
from typing import Any

from . import llama_api
from .base import Cancel, Options, Usage

TOP_K = 40
MIN_P = 0.05
"""The sampler settings ``Llama.create_completion`` uses by default, kept equal here."""


class StopStrings:
    """Cuts text at the first of ``stops``; holds back an end that may still become one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """(text that can be shown now, whether a stop string was reached)."""
        text = self.held + text
        self.held = ""
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            return text[: min(hits)], True
        keep = max((k for s in self.stops for k in range(min(len(s) - 1, len(text)), 0, -1)
                    if text.endswith(s[:k])), default=0)
        if keep:
            text, self.held = text[:-keep], text[-keep:]
        return text, False

    def flush(self) -> str:
        text, self.held = self.held, ""
        return text


def decode(llm: Any, tokens: list[int], opts: Options, cancel: Cancel | None, usage: Usage,
           t0: float, seed: int = 0, matcher: Any | None = None) -> Iterator[str]:
    """Decode after the prompt ``tokens`` (all but the last already evaluated: the engine's
    prefill). Yields text pieces; fills ``usage`` (``t0``: when the prompt started, for
    ``prompt_eval_ms``; ``seed``: for sampling at a temperature above 0). With ``matcher``
    (llguidance), only tokens it allows are sampled and ``stop`` strings do not apply."""
    import llama_cpp

    vocab = llama_api.vocab(llm)
    n_vocab = int(llm.n_vocab())
    keep = len(tokens) - 1
    # the same prompt again (or a longer cached state): re-run its end
    llama_api.rewind(llm, keep)
    sampler = llama_api.Sampler(llm, top_k=TOP_K, top_p=opts.top_p, min_p=MIN_P, typical_p=1.0,
                                temp=opts.temperature, repeat_penalty=opts.repeat_penalty,
                                seed=seed)
    mask = _Mask(n_vocab) if matcher is not None else None
    stops = StopStrings([] if matcher is not None else opts.stop)
    buf = ctypes.create_string_buffer(64)
    text = codecs.getincrementaldecoder("utf-8")("replace")
    first: float | None = None
    stopped = False
    usage.finish_reason = "length"
    try:
        llm.eval(tokens[keep:])
        for _ in range(opts.max_tokens):
            if cancel is not None and cancel.is_set:
                usage.finish_reason = "cancelled"
                break
            if mask is not None and not mask.apply(llm, matcher):
                usage.finish_reason = "stop"  # a dead end (cannot happen for a valid grammar)
                break
            token = sampler.sample()
            if first is None:
                first = time.perf_counter()
                usage.prompt_eval_ms = (first - t0) * 1000
            if llama_cpp.llama_vocab_is_eog(vocab, token) or (
                    matcher is not None and not matcher.consume_token(token)):
                usage.finish_reason = "stop"
                break
            usage.decode_tokens += 1
            piece, stopped = stops.feed(text.decode(llama_api.piece(vocab, token, buf)))
            if piece:
                yield piece
            if stopped or (matcher is not None and matcher.is_stopped()):
                usage.finish_reason = "stop"  # a stop string, or the JSON is complete
                break
            llm.eval([token])
        if not stopped:  # what was held back: an unfinished character, or a stop string's start
            tail, _ = stops.feed(text.decode(b"", final=True))
            tail += stops.flush()
            if tail:
                yield tail
    finally:
        sampler.close()
        if first is not None:
            usage.decode_ms = (time.perf_counter() - first) * 1000


class _Mask:
    """The matcher's allowed next tokens, written into llama.cpp's logits as -inf for the
    others (one vectorised write in llama.cpp's own buffer, no copy)."""

    def __init__(self, n_vocab: int) -> None:
        import numpy as np

        self.n_vocab = n_vocab
        self.bits = np.zeros((n_vocab + 31) // 32, dtype=np.int32)

    def apply(self, llm: Any, matcher: Any) -> bool:
        """False when the matcher allows nothing."""
        import numpy as np

        matcher.unsafe_compute_mask_ptr(self.bits.ctypes.data, self.bits.nbytes)
        if not self.bits.any():
            return False
        logits = llama_api.last_logits(llm, self.n_vocab)
        allowed = np.unpackbits(self.bits.view(np.uint8), count=self.n_vocab, bitorder="little")
        np.copyto(logits, -np.inf, where=allowed == 0)
        return True


def grammar_decode(llm: Any, tokens: list[int], opts: Options, cancel: Cancel | None,
                   usage: Usage, t0: float, seed: int = 0) -> Iterator[str]:
    """JSON under llama.cpp's own grammar, for a schema llguidance cannot take: slower,
    and through ``create_completion`` (whose text drops pieces over 32 bytes; JSON has
    none worth keeping)."""
    import json

    from llama_cpp import LlamaGrammar

    with llama_api.quiet_stderr():
        grammar = LlamaGrammar.from_json_schema(json.dumps(opts.json_schema), verbose=False)
    stream = llm.create_completion(
        tokens, max_tokens=opts.max_tokens, temperature=opts.temperature,
        top_p=opts.top_p, repeat_penalty=opts.repeat_penalty, stream=True, grammar=grammar,
        seed=seed,
    )
    first: float | None = None
    usage.finish_reason = "length"
    try:
        for part in stream:
            if first is None:
                first = time.perf_counter()
                usage.prompt_eval_ms = (first - t0) * 1000
            choice = part["choices"][0]
            text = choice["text"]
            if choice.get("finish_reason"):
                usage.finish_reason = choice["finish_reason"]
                if not text:  # the closing chunk carries no token
                    break
            usage.decode_tokens += 1
            if text:
                yield text
            if cancel is not None and cancel.is_set:
                usage.finish_reason = "cancelled"
                break
    finally:
        stream.close()
        if first is not None:
            usage.decode_ms = (time.perf_counter() - first) * 1000
