"""JSON-schema constrained decoding at the speed of free decoding: llguidance over llama.cpp.

llama-cpp-python's grammar sampler (GBNF) walks the grammar for every token of the
vocabulary at every step, so its cost grows with the vocabulary (49k tokens for SmolLM2, 128k
for Llama 3, 151k for Qwen2.5) and halves the decode speed of a small model. llguidance
(MIT, Rust) computes the set of allowed next tokens as a bitmask in tens of microseconds
(a lexer/parser split over a token trie), whatever the vocabulary.

One decoding step (the loop is :func:`.decoding.decode`, shared with free text):

1. llguidance writes the mask of allowed next tokens for the output so far;
2. the logits of the disallowed tokens are set to -inf in place, in llama.cpp's own logits
   buffer (one vectorised write, no copy);
3. llama.cpp's usual sampler chain (repeat penalty, top-k, top-p, min-p, temperature: the
   same as for free text) picks the token;
4. the token is fed to the matcher and evaluated.

Decoding ends as soon as the JSON is complete (nothing but end-of-generation is allowed),
at an end-of-generation token, or at ``max_tokens`` (the caller repairs a cut-short output).
``stop`` strings do not apply to JSON output.

When llguidance cannot compile a schema, :func:`matcher_for` returns None and the engine
falls back to llama.cpp's own grammar, slower but equivalent.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import threading
import weakref
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from . import llama_api

__all__ = ["matcher_for", "schema_text", "tokenizer_for", "warm"]

JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
"""One space after ``,`` and ``:``, no other whitespace: no tokens spent on indentation."""

_TOKENIZERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_TOKENIZER_LOCK = threading.Lock()


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False)  # key order is the output order


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> str:
    import llguidance

    return llguidance.LLMatcher.grammar_from_json_schema(schema_json, overrides=JSON_STYLE)


def _build_tokenizer(llm: Any, stop_ids: Iterable[int]) -> Any:
    """llguidance's tokenizer over llama.cpp's vocabulary: every token's bytes (control
    tokens marked with a 0xFF prefix, as llguidance expects) and llama.cpp's own tokenize
    function. As ``llguidance.llamacpp.lltokenizer_from_vocab``, without its per-token call
    of a deprecated llama.cpp function (a warning per token)."""
    import llama_cpp
    import llguidance

    vocab = llama_api.vocab(llm)
    n_vocab = int(llm.n_vocab())
    eos = sorted({t for t in (int(llama_cpp.llama_vocab_eos(vocab)), *map(int, stop_ids))
                  if t >= 0})
    buf = ctypes.create_string_buffer(256)
    control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    user = llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    tokens: list[bytes] = []
    for token in range(int(llama_cpp.llama_vocab_n_tokens(vocab))):
        piece = llama_api.piece(vocab, token, buf, special=True)
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        if attr & control or (attr & user and piece.startswith(b"<") and piece.endswith(b">")):
            piece = b"\xff" + piece
        tokens.append(piece)
    tokens += [b""] * (n_vocab - len(tokens))
    return llguidance.LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
        tokens=tokens, vocab_ptr=vocab, tokenize_fptr=llama_api.tokenize_address(), eos_token=eos,
        slices=llguidance.LLTokenizer.json_slices())


def tokenizer_for(llm: Any, stop_ids: Iterable[int] = ()) -> Any:
    """llguidance's view of the model's vocabulary, built once per loaded model (it reads
    every token's bytes: a fraction of a second) and cached while the model lives."""
    with _TOKENIZER_LOCK:
        tok = _TOKENIZERS.get(llm)
        if tok is None:
            tok = _TOKENIZERS[llm] = _build_tokenizer(llm, stop_ids)
        return tok


def warm(llm: Any, stop_ids: Iterable[int] = ()) -> None:
    """Build the vocabulary view now (call from a background thread while the user types)."""
    with contextlib.suppress(Exception):
        tokenizer_for(llm, stop_ids)


def matcher_for(llm: Any, schema: dict[str, Any], stop_ids: Iterable[int] = ()) -> Any | None:
    """A fresh llguidance matcher for ``schema``, or None when llguidance cannot take it."""
    try:
        import llguidance

        grammar = _grammar(schema_text(schema))
        matcher = llguidance.LLMatcher(tokenizer_for(llm, stop_ids), grammar, log_level=0)
    except Exception:  # noqa: BLE001 - any failure means: use llama.cpp's grammar instead
        return None
    return None if matcher.is_error() else matcher
