"""What the engine uses of llama-cpp-python below ``Llama``'s high-level methods, in one place.

Everything here goes through llama-cpp-python's public names: ``Llama``'s documented attributes
and methods (``ctx``, ``model``, ``input_ids``, ``n_tokens``, ``last_n_tokens_size``, ``eval``)
and the llama.cpp C API it exposes as ``llama_cpp.llama_*`` functions (the calls ``Llama``
itself makes inside). One need has no public form, the model-load progress callback
(:func:`load_progress`); it is isolated there, with the reason.

``tests/test_engine_api.py`` checks every assumption made here against the installed
llama-cpp-python, so an upgrade that breaks one fails there, by name, rather than as a wrong
answer in the app. pyproject pins the range these tests ran on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Sampler", "adds_bos", "eot_token", "held_tokens", "last_logits", "load_progress",
           "piece", "quiet_stderr", "rewind", "set_abort_callback", "set_threads",
           "token_bytes", "token_text", "tokenize_address", "vocab"]


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level logging on fd 2 for the duration (the engine's and the
    trainer's calls into llama.cpp)."""
    sys.stderr.flush()  # what Python has buffered still goes out
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def vocab(llm: Any) -> Any:
    """The model's ``llama_vocab`` pointer."""
    import llama_cpp

    return llama_cpp.llama_model_get_vocab(llm.model)


def token_text(llm: Any, token: int) -> str:
    """The vocabulary's text of ``token`` (a control token as written, e.g. ``<|im_end|>``)."""
    import llama_cpp

    return llama_cpp.llama_vocab_get_text(vocab(llm), token).decode("utf-8")


def piece(vocab: Any, token: int, buf: Any = None, special: bool = False) -> bytes:
    """The bytes ``token`` stands for in text, whole however long (``special``: a control
    token as written, else as nothing). ``buf``: a ctypes buffer to reuse (one per thread)."""
    import llama_cpp

    buf = buf if buf is not None else ctypes.create_string_buffer(64)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, special)
    if n < 0:  # the buffer was too small: -n is the size needed
        buf = ctypes.create_string_buffer(-n)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, special)
    return bytes(buf.raw[:n])


def token_bytes(llm: Any, token: int, special: bool = True) -> bytes:
    """:func:`piece` for a loaded model."""
    return piece(vocab(llm), token, special=special)


def adds_bos(llm: Any) -> bool:
    """Whether the model's tokenizer adds a BOS token to a prompt."""
    import llama_cpp

    return bool(llama_cpp.llama_vocab_get_add_bos(vocab(llm)))


def eot_token(llm: Any) -> int:
    """The end-of-turn token, or -1 when the vocabulary has none."""
    import llama_cpp

    return int(llama_cpp.llama_vocab_eot(vocab(llm)))


def held_tokens(llm: Any) -> list[int]:
    """The tokens the context holds now (evaluated, in order)."""
    return llm.input_ids[: llm.n_tokens].tolist()


def rewind(llm: Any, keep: int) -> None:
    """Keep only the first ``keep`` tokens of the context (their KV cache stays: the next
    ``eval`` continues after them)."""
    import llama_cpp

    if keep < llm.n_tokens:
        llm.n_tokens = keep
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), -1, keep, -1)


def load_adapter(llm: Any, path: str) -> Any:
    """Load a LoRA adapter GGUF for ``llm``'s model, not yet applied (:func:`apply_adapter`).
    Raises RuntimeError when llama.cpp refuses the file."""
    import llama_cpp

    handle = llama_cpp.llama_adapter_lora_init(llm.model, path.encode("utf-8"))
    if not handle:
        raise RuntimeError("llama.cpp could not load the adapter")
    return handle


def apply_adapter(llm: Any, handle: Any | None) -> None:
    """Compute with the adapter ``handle`` at scale 1 from now on, or with none (None). The
    KV cache already held was computed under the previous setting."""
    import llama_cpp

    if handle is None:
        failed = llama_cpp.llama_set_adapters_lora(llm.ctx, None, 0, None)
    else:
        handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
        failed = llama_cpp.llama_set_adapters_lora(llm.ctx, handles, 1,
                                                    (ctypes.c_float * 1)(1.0))
    if failed:
        raise RuntimeError("llama.cpp could not set the adapter")


def free_adapter(handle: Any) -> None:
    import llama_cpp

    llama_cpp.llama_adapter_lora_free(handle)


def set_threads(llm: Any, n: int) -> None:
    """Threads for decoding and for reading prompts from now on."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llm.ctx, n, n)


def set_abort_callback(llm: Any, should_abort: Callable[[], bool]) -> Any:
    """Have llama.cpp call ``should_abort`` between graph nodes of every evaluation; when it
    returns True the evaluation in progress stops (``Llama.eval`` raises RuntimeError).
    Returns the C callback: keep it alive as long as ``llm``."""
    import llama_cpp

    callback = llama_cpp.ggml_abort_callback(lambda _data: bool(should_abort()))
    llama_cpp.llama_set_abort_callback(llm.ctx, callback, None)
    return callback


def tokenize_address() -> int:
    """The C address of llama.cpp's ``llama_tokenize`` (llguidance calls it directly).
    llama-cpp-python's ``llama_cpp.llama_tokenize`` is the ctypes foreign function itself."""
    import llama_cpp

    address = ctypes.cast(llama_cpp.llama_tokenize, ctypes.c_void_p).value
    if not address:
        raise RuntimeError("llama_cpp.llama_tokenize is not a C function here")
    return address


def last_logits(llm: Any, n_vocab: int) -> Any:
    """The logits of the last evaluated token, as a writable numpy view of llama.cpp's own
    buffer (a change is seen by the next sampling)."""
    import llama_cpp
    from numpy.ctypeslib import as_array

    return as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))


class Sampler:
    """llama.cpp's sampler chain with the stages and order ``Llama.create_completion`` uses
    for free text: repeat penalty over the last ``llm.last_n_tokens_size`` tokens, then
    greedy at temperature 0, else top-k, typical, top-p, min-p, temperature and a seeded
    draw (a negative temperature: the seeded draw alone). Sampling a token also records it
    for the repeat penalty."""

    def __init__(self, llm: Any, *, top_k: int, top_p: float, min_p: float, typical_p: float,
                 temp: float, repeat_penalty: float, seed: int) -> None:
        import llama_cpp as lc

        self._llm = llm
        self._chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        stages = [lc.llama_sampler_init_penalties(int(llm.n_vocab()), llm.last_n_tokens_size,
                                                  repeat_penalty, 0.0, 0.0)]
        if temp < 0.0:
            stages.append(lc.llama_sampler_init_dist(seed))
        elif temp == 0.0:
            stages.append(lc.llama_sampler_init_greedy())
        else:
            stages += [lc.llama_sampler_init_top_k(top_k),
                       lc.llama_sampler_init_typical(typical_p, 1),
                       lc.llama_sampler_init_top_p(top_p, 1),
                       lc.llama_sampler_init_min_p(min_p, 1),
                       lc.llama_sampler_init_temp(temp),
                       lc.llama_sampler_init_dist(seed)]
        for stage in stages:  # the chain owns and frees its stages
            lc.llama_sampler_chain_add(self._chain, stage)

    def sample(self) -> int:
        """A token drawn from the last evaluated position's logits."""
        import llama_cpp

        if self._chain is None:
            raise RuntimeError("the sampler is closed")
        return int(llama_cpp.llama_sampler_sample(self._chain, self._llm.ctx, -1))

    def close(self) -> None:
        import llama_cpp

        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None


_LOAD_LOCK = threading.Lock()


@contextlib.contextmanager
def load_progress(report: Callable[[float], bool]) -> Iterator[None]:
    """Have the next ``Llama(...)`` load report its progress to ``report`` (a fraction from 0
    to 1; returning False stops the load).

    The one part with no public API: ``Llama.__init__`` takes no progress callback. It builds
    the model parameters from ``llama_cpp.llama_model_default_params()``, looked up in the
    ``llama_cpp.llama_cpp`` module at call time, so that function is wrapped, for one load
    and under a lock (loads are rare), to set the callback field of the C struct
    ``llama_model_params``. ``tests/test_engine_api.py`` fails if a new version stops
    reading the parameters this way (then the load would simply report no progress).
    """
    import llama_cpp.llama_cpp as low

    callback = low.llama_progress_callback(lambda fraction, _user: bool(report(fraction)))
    original = low.llama_model_default_params

    def with_progress() -> Any:
        params = original()
        params.progress_callback = callback
        return params

    with _LOAD_LOCK:
        low.llama_model_default_params = with_progress
        try:
            yield
        finally:
            low.llama_model_default_params = original
