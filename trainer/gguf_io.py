"""Base models on the trainer side: find them, load them into transformers, quantize GGUFs.

- :func:`resolve_base` turns ``"default"``, a folder or a ``.gguf`` path into a checked path.
- :func:`load_base` loads it as a plain, trainable transformers model (a GGUF is dequantized to
  float32; its chat template and end-of-sequence token come with the tokenizer).
- :func:`load_folder_tokenizer` loads a Hugging Face folder's tokenizer exactly as its
  ``tokenizer.json`` describes it.
- :func:`quantize` runs llama.cpp's quantizer.

Writing GGUF files is llama.cpp's own converter's job (trainer/convert.py).

Importing this module has no side effects; torch, transformers and llama.cpp are imported by the
functions that need them, after :func:`teachbot_tui.offline.enforce`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teachbot_tui import offline
from teachbot_tui.text import one_line

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class TrainerError(Exception):
    """A trainer step cannot go on; the message is one line naming the file and what to do."""


# ---------------------------------------------------------------------------------------------
# Tables

#: llama.cpp file types by the names the CLI takes (``llama_ftype`` in llama.h).
QUANT_FTYPES: dict[str, str] = {
    "f32": "LLAMA_FTYPE_ALL_F32",
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "bf16": "LLAMA_FTYPE_MOSTLY_BF16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
}


@dataclass(frozen=True)
class BaseInfo:
    """What the trainer needs to know about a base model besides its weights."""

    kind: str  # "gguf" | "hf"
    path: Path
    architecture: str  # GGUF architecture (a GGUF base) or Hugging Face model_type (a folder)
    chat_template: str | None
    eos_token: str | None


# ---------------------------------------------------------------------------------------------
# Loading


def resolve_base(base: str | Path) -> Path:
    """``"default"`` -> the bundled SmolLM2 GGUF; otherwise an existing HF folder or .gguf file."""
    if str(base) == "default":
        from teachbot_tui.defaults import MissingModelError, chat_model_path

        try:
            return chat_model_path()
        except MissingModelError as exc:
            raise TrainerError(str(exc)) from None
    path = Path(base).expanduser()
    if not path.exists():
        raise TrainerError(
            f"{path}: no such base model; give a Hugging Face folder, a .gguf file or 'default'"
        )
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainerError(
                f"{path}: folder has no config.json; give a Hugging Face model folder"
            )
        return path.resolve()
    from teachbot_tui.gguf_info import GGUFError, read_info

    try:
        read_info(path)
    except GGUFError as exc:
        raise TrainerError(str(exc)) from None
    return path.resolve()


def load_folder_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """A Hugging Face folder's tokenizer, as its ``tokenizer.json`` describes it.

    transformers 5 swaps in its own class for some model types (Qwen2, Phi-3) and rebuilds the
    pipeline from the vocabulary; the file is what the model was trained with and what
    llama.cpp's converter reads, so it is loaded as it is when there is one.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if (Path(path) / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


def load_base(
    base: str | Path, dtype: torch.dtype | None = None, device: str = "cpu", **model_kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, BaseInfo]:
    """Load a base model as a plain trainable transformers model with its tokenizer.

    A GGUF is dequantized (float32) and rebuilt without its quantization config, so PEFT and
    optimizers treat it as ordinary weights. The tokenizer carries the chat template and
    end-of-sequence token; a missing pad token is set to the end-of-sequence token.
    ``model_kwargs`` go to ``from_pretrained`` for a folder (e.g. a ``quantization_config``;
    the model is then left where transformers put it).
    """
    offline.enforce()
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or torch.float32
    path = resolve_base(base)
    try:
        if path.is_dir():
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **model_kwargs)
            tokenizer = load_folder_tokenizer(path)
            info = BaseInfo("hf", path, model.config.model_type, tokenizer.chat_template,
                            tokenizer.eos_token)
        elif model_kwargs:
            raise TrainerError(f"{path}: a quantized base must be a Hugging Face folder, not a GGUF")
        else:
            model, tokenizer, info = _load_gguf_base(path, dtype)
    except TrainerError:
        raise
    except Exception as exc:  # transformers raises many kinds for unsupported files
        raise TrainerError(
            f"{path}: transformers cannot load this base ({type(exc).__name__}: {one_line(exc)}); "
            "use a Hugging Face folder or a GGUF of a family transformers reads"
        ) from exc
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if not model_kwargs:
        model.to(device)
    return model, tokenizer, info


@contextlib.contextmanager
def _memoized_tensor_name_map() -> Iterator[None]:
    """transformers builds gguf-py's tensor-name table once per module while loading a GGUF
    (hundreds of times, ~10 s on two cores); answer repeats from a cache while it loads."""
    import functools

    import gguf

    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(original)
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original


_GGUF_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf_header(path: Path, keys: frozenset[str] | set[str]) -> dict[str, Any]:
    """The values of ``keys`` from a GGUF's metadata, skipping everything else.

    gguf-py's reader builds every field of the file (seconds for a 49k-token vocabulary);
    this walks the key/value section once with ``struct`` and keeps only what is asked for.
    """
    import mmap
    import struct

    found: dict[str, Any] = {}
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise TrainerError(f"{path}: not a GGUF file")
        (version,) = struct.unpack_from("<I", buf, 4)
        if version < 2:
            raise TrainerError(f"{path}: GGUF version {version} is too old; convert it again")
        _n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
        pos = 24

        def read_str(pos: int) -> tuple[str, int]:
            (n,) = struct.unpack_from("<Q", buf, pos)
            return buf[pos + 8 : pos + 8 + n].decode("utf-8", errors="replace"), pos + 8 + n

        def read_value(vtype: int, pos: int, keep: bool) -> tuple[Any, int]:
            if vtype in _GGUF_SCALARS:
                fmt = _GGUF_SCALARS[vtype]
                return (
                    struct.unpack_from(fmt, buf, pos)[0] if keep else None
                ), pos + struct.calcsize(fmt)
            if vtype == _GGUF_STRING:
                if keep:
                    return read_str(pos)
                (n,) = struct.unpack_from("<Q", buf, pos)
                return None, pos + 8 + n
            if vtype == _GGUF_ARRAY:
                etype, count = struct.unpack_from("<IQ", buf, pos)
                pos += 12
                if etype in _GGUF_SCALARS and not keep:
                    return None, pos + count * struct.calcsize(_GGUF_SCALARS[etype])
                items = []
                for _ in range(count):
                    item, pos = read_value(etype, pos, keep)
                    items.append(item)
                return (items if keep else None), pos
            raise TrainerError(f"{path}: unknown GGUF value type {vtype}; the file is damaged")

        for _ in range(n_kv):
            key, pos = read_str(pos)
            (vtype,) = struct.unpack_from("<I", buf, pos)
            value, pos = read_value(vtype, pos + 4, key in keys)
            if key in keys:
                found[key] = value
            if len(found) == len(keys):
                break
    return found


def _load_gguf_base(path: Path, dtype: torch.dtype) -> tuple[Any, Any, BaseInfo]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta = read_gguf_header(
        path,
        {
            "general.architecture",
            "tokenizer.chat_template",
            "tokenizer.ggml.tokens",
            "tokenizer.ggml.eos_token_id",
        },
    )
    arch = str(meta.get("general.architecture"))
    template = meta.get("tokenizer.chat_template")
    tokens = meta.get("tokenizer.ggml.tokens") or []
    eos_id = meta.get("tokenizer.ggml.eos_token_id")
    eos = tokens[eos_id] if eos_id is not None and 0 <= int(eos_id) < len(tokens) else None

    with _memoized_tensor_name_map():
        loaded = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=dtype
        )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise TrainerError(
            f"{path}: weights do not fit the model transformers built "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); use another base"
        )
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    del loaded
    model.eval()

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    if template and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    if eos and tokenizer.eos_token != eos:
        tokenizer.eos_token = eos
    info = BaseInfo("gguf", path, arch, template, eos)
    return model, tokenizer, info


# ---------------------------------------------------------------------------------------------
# Quantizing


def quantize(src: Path, dst: Path, quant: str) -> Path:
    """Quantize a float GGUF with llama.cpp to ``quant`` (q4_k_m, q5_k_m, q8_0, f16, f32)."""
    import ctypes

    import llama_cpp

    from teachbot_tui.engine.llama_api import quiet_stderr

    quant = quant.lower()
    if quant not in QUANT_FTYPES:
        raise TrainerError(f"unknown quantization {quant!r}; pick one of {', '.join(QUANT_FTYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_FTYPES[quant])
    params.nthread = max(1, os.cpu_count() or 1)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with quiet_stderr():
        rc = llama_cpp.llama_model_quantize(
            str(src).encode(), str(dst).encode(), ctypes.byref(params)
        )
    if rc != 0:
        raise TrainerError(f"{src}: llama.cpp could not quantize it to {quant} (code {rc})")
    return Path(dst)
