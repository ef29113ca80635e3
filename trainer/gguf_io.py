"""GGUF on the trainer side: load a base model into transformers, write weights back as GGUF.

- :func:`resolve_base` turns ``"default"``, a folder or a ``.gguf`` path into a checked path.
- :func:`load_base` loads it as a plain, trainable transformers model (a GGUF is dequantized to
  float32; its chat template and end-of-sequence token come with the tokenizer).
- :func:`write_gguf` writes a model's weights as an f16/f32 GGUF that llama.cpp runs: for a GGUF
  base every metadata key of the base is copied; for a Hugging Face folder the llama metadata
  and the byte-level BPE tokenizer are written from its config and tokenizer files.
- :func:`write_lora_gguf` writes a PEFT LoRA adapter as a llama.cpp GGUF adapter.
- :func:`quantize` runs llama.cpp's quantizer.

The conversion follows the layout of llama.cpp's ``convert_hf_to_gguf.py`` and
``convert_lora_to_gguf.py``: tensor names come from gguf-py's name tables, and the q/k
projections of llama-family models are permuted from the Hugging Face rotary layout (halves) to
llama.cpp's (interleaved pairs).

Importing this module has no side effects; torch, transformers and llama.cpp are imported by the
functions that need them, after :func:`teachbot_tui.offline.enforce`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from teachbot_tui import offline

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
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
}

#: GGUF ``general.file_type`` of the float files write_gguf produces.
FLOAT_FILE_TYPES: dict[str, int] = {"f32": 0, "f16": 1}

#: GGUF architectures whose q/k weights llama.cpp keeps in the interleaved rotary layout, and
#: which transformers un-permutes when it loads such a GGUF.
PERMUTED_QK_ARCHS = frozenset({"llama"})

#: Hugging Face ``model_type`` -> GGUF architecture, for Hugging Face folder bases.
HF_MODEL_TYPES: dict[str, str] = {"llama": "llama", "mistral": "llama"}

#: llama.cpp BPE pre-tokenizer names tried, in order, for a Hugging Face byte-level BPE
#: tokenizer; the first whose tokenization of PRE_PROBE_TEXT equals the tokenizer's wins.
PRE_TOKENIZER_CANDIDATES = (
    "gpt-2",
    "llama-bpe",
    "smollm",
    "qwen2",
    "default",
    "deepseek-llm",
    "deepseek-coder",
    "deepseek-v3",
    "falcon",
    "starcoder",
    "tekken",
    "gpt-4o",
    "stablelm2",
    "olmo",
    "command-r",
    "dbrx",
    "refact",
    "mpt",
    "phi-2",
    "superbpe",
)

PRE_PROBE_TEXT = (
    "Hello world! It's 9:05 and we've got 12345 pupils, 3.14 pies & 1,000,000 ideas.\n"
    "  Indented\tline\n\n\nThree blank lines   then spaces. naïve café — 日本語 Ünïcödé 🚀🦙\n"
    "I'M SHOUTING; don't you'll they'd WE'VE 'quoted' \"double\" ```code``` ...!!!??? -----===\n"
    "x=y+z*2/(a-b)^3 <tag attr='v'>text</tag> snake_case camelCaseWord CONSTANT_VALUE 0x1F 007"
)

#: Metadata keys of a GGUF base that write_gguf sets itself instead of copying.
_KV_NOT_COPIED = ("general.architecture", "general.file_type", "general.quantization_version")


@dataclass(frozen=True)
class BaseInfo:
    """What the trainer needs to know about a base model besides its weights."""

    kind: str  # "gguf" | "hf"
    path: Path
    architecture: str  # GGUF architecture name (llama, qwen2, ...)
    chat_template: str | None
    eos_token: str | None


# ---------------------------------------------------------------------------------------------
# Small helpers


@contextlib.contextmanager
def silence_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null (llama.cpp logs straight to it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def permute_qk(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Hugging Face rotary layout -> llama.cpp's, for a q or k projection (rows = heads).

    Works on any array whose first axis is ``n_head * head_dim`` (the weight, or a LoRA B).
    """
    shape = weight.shape
    return (
        weight.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
    )


def _qk_heads(hf_name: str, config: Any) -> int | None:
    """The head count to permute ``hf_name`` with, or None if it is not a q/k projection."""
    if hf_name.endswith("self_attn.q_proj.weight"):
        return int(config.num_attention_heads)
    if hf_name.endswith("self_attn.k_proj.weight"):
        return int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    return None


def _arch_enum(arch: str) -> Any:
    import gguf

    for enum, name in gguf.MODEL_ARCH_NAMES.items():
        if name == arch:
            return enum
    raise TrainerError(f"architecture {arch!r} is unknown to gguf-py; use a llama-family base")


def _tensor_name_map(arch: str, n_blocks: int) -> Callable[[str], str | None]:
    import gguf

    tmap = gguf.get_tensor_name_map(_arch_enum(arch), n_blocks)
    return lambda hf_name: tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))


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


def load_base(
    base: str | Path, dtype: torch.dtype | None = None, device: str = "cpu"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, BaseInfo]:
    """Load a base model as a plain trainable transformers model with its tokenizer.

    A GGUF is dequantized (float32) and rebuilt without its quantization config, so PEFT and
    optimizers treat it as ordinary weights. The tokenizer carries the chat template and
    end-of-sequence token; a missing pad token is set to the end-of-sequence token.
    """
    offline.enforce()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = dtype or torch.float32
    path = resolve_base(base)
    try:
        if path.is_dir():
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
            tokenizer = AutoTokenizer.from_pretrained(path)
            arch = HF_MODEL_TYPES.get(model.config.model_type, model.config.model_type)
            info = BaseInfo("hf", path, arch, tokenizer.chat_template, tokenizer.eos_token)
        else:
            model, tokenizer, info = _load_gguf_base(path, dtype)
    except TrainerError:
        raise
    except Exception as exc:  # transformers raises many kinds for unsupported files
        raise TrainerError(
            f"{path}: transformers cannot load this base ({_first_line(exc)}); "
            "use a llama-family GGUF or a Hugging Face folder"
        ) from exc
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
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
# Writing merged weights


def _hf_tensors(model: Any, arch: str) -> Iterator[tuple[str, str, np.ndarray]]:
    """(hf name, gguf name, float32 array in llama.cpp layout) for each weight of ``model``."""
    config = model.config
    to_gguf = _tensor_name_map(arch, int(config.num_hidden_layers))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        gguf_name = to_gguf(hf_name)
        if gguf_name is None:
            raise TrainerError(
                f"no GGUF name for weight {hf_name!r} of a {arch} model; export a llama-family model"
            )
        data = tensor.detach().to(device="cpu").float().numpy()
        if arch in PERMUTED_QK_ARCHS and (heads := _qk_heads(hf_name, config)) is not None:
            data = permute_qk(data, heads)
        yield hf_name, gguf_name, data


def _as_dtype(name: str, data: np.ndarray, dtype: str) -> np.ndarray:
    # llama.cpp keeps 1-D tensors (norms, biases) in f32 whatever the file type.
    if dtype == "f16" and data.ndim >= 2:
        return data.astype(np.float16)
    return np.ascontiguousarray(data, dtype=np.float32)


def write_gguf(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    info: BaseInfo,
    out: Path,
    dtype: str = "f16",
) -> Path:
    """Write ``model``'s weights to ``out`` as an f16 or f32 GGUF that llama.cpp can run."""
    import gguf

    if dtype not in FLOAT_FILE_TYPES:
        raise TrainerError(f"write_gguf: dtype {dtype!r} is not f16 or f32")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arch = info.architecture
    if info.kind == "hf" and arch not in HF_MODEL_TYPES.values():
        raise TrainerError(
            f"{info.path}: exporting a Hugging Face {arch!r} model is not supported; "
            "convert the base to GGUF with llama.cpp and train on that"
        )
    tensors = {name: (hf, data) for hf, name, data in _hf_tensors(model, arch)}

    if info.kind == "gguf":
        reader = gguf.GGUFReader(info.path, "r")
        writer = gguf.GGUFWriter(out, arch)
        _copy_kv(reader, writer)
        writer.add_file_type(FLOAT_FILE_TYPES[dtype])
        base_names = [t.name for t in reader.tensors]
        extra = sorted(set(tensors) - set(base_names))
        if extra:
            raise TrainerError(
                f"{info.path}: the trained model has weights the base GGUF lacks ({extra[:3]}); "
                "was it trained on another base?"
            )
        for t in reader.tensors:
            if t.name in tensors:
                _, data = tensors[t.name]
                writer.add_tensor(t.name, _as_dtype(t.name, data, dtype))
            else:  # e.g. rope_freqs: not a transformers weight, copied as it is
                writer.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
    else:
        writer = gguf.GGUFWriter(out, arch)
        _write_llama_hparams(writer, model.config, info, dtype)
        _write_bpe_vocab(writer, tokenizer, info, model.config, pre=None, out=out)
        for name, (_, data) in tensors.items():
            writer.add_tensor(name, _as_dtype(name, data, dtype))
        extra = _extra_hf_tensors(model.config)
        for name, data in extra.items():
            writer.add_tensor(name, data)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out


def _copy_kv(reader: Any, writer: Any) -> None:
    import gguf

    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in _KV_NOT_COPIED:
            continue
        vtype = field.types[0]
        sub = field.types[1] if vtype == gguf.GGUFValueType.ARRAY and len(field.types) > 1 else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)


def _rope_theta(config: Any) -> float | None:
    params = getattr(config, "rope_parameters", None) or {}
    theta = params.get("rope_theta") if isinstance(params, dict) else None
    return float(theta if theta is not None else getattr(config, "rope_theta", 10000.0))


def _rope_scaling(config: Any) -> dict[str, Any]:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return dict(params) if isinstance(params, dict) else {}


def _head_dim(config: Any) -> int:
    return int(
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )


def _write_llama_hparams(writer: Any, config: Any, info: BaseInfo, dtype: str) -> None:
    import gguf

    writer.add_name(info.path.name)
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(
        int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    )
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_freq_base(_rope_theta(config))
    head_dim = _head_dim(config)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // config.num_attention_heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_vocab_size(int(config.vocab_size))
    scaling = _rope_scaling(config)
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif rope_type not in ("default", "llama3", None):
        raise TrainerError(
            f"{info.path}: rope scaling {rope_type!r} is not supported for export; "
            "convert the base to GGUF with llama.cpp and train on that"
        )
    writer.add_file_type(FLOAT_FILE_TYPES[dtype])


def _extra_hf_tensors(config: Any) -> dict[str, np.ndarray]:
    """Tensors llama.cpp needs that transformers computes on the fly (llama3 rope factors)."""
    scaling = _rope_scaling(config)
    if scaling.get("rope_type", scaling.get("type")) != "llama3":
        return {}
    dim = _head_dim(config)
    freqs = 1.0 / (_rope_theta(config) ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factor = float(scaling.get("factor", 8.0))
    low, high = (
        float(scaling.get("low_freq_factor", 1.0)),
        float(scaling.get("high_freq_factor", 4.0)),
    )
    old_ctx = float(scaling.get("original_max_position_embeddings", 8192))
    wavelen = 2 * np.pi / freqs
    smooth = (old_ctx / wavelen - low) / (high - low)
    factors = np.where(
        wavelen < old_ctx / high,
        1.0,
        np.where(wavelen > old_ctx / low, factor, 1.0 / ((1 - smooth) / factor + smooth)),
    )
    return {"rope_freqs.weight": factors.astype(np.float32)}


# ---------------------------------------------------------------------------------------------
# Tokenizer of a Hugging Face folder


def _bpe_tokens(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    import gguf

    backend = (
        json.loads(tokenizer.backend_tokenizer.to_str())
        if getattr(tokenizer, "is_fast", False)
        else {}
    )
    model = backend.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise TrainerError(
            "only byte-level BPE tokenizers (GPT-2 style) can be exported from a Hugging Face folder; "
            "convert the base to GGUF with llama.cpp and train on that"
        )
    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= vocab_size:
        raise TrainerError(
            f"tokenizer has ids beyond the model's vocab_size {vocab_size}; check the base folder"
        )
    by_id = {i: tok for tok, i in vocab.items()}
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(
                gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED
            )
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _write_bpe_vocab(
    writer: Any, tokenizer: Any, info: BaseInfo, config: Any, pre: str | None, out: Path
) -> str:
    """Add the tokenizer keys; with ``pre=None`` find the pre-tokenizer llama.cpp must use."""
    import gguf

    tokens, types = _bpe_tokens(tokenizer, int(config.vocab_size))
    special = gguf.SpecialVocab(info.path, load_merges=True, n_vocab=len(tokens))
    if not special.merges:
        raise TrainerError(f"{info.path}: tokenizer.json has no BPE merges; check the base folder")
    if pre is None:
        pre = _probe_pre_tokenizer(tokenizer, info, config, out.parent)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None and getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)
    return pre


def _probe_pre_tokenizer(tokenizer: Any, info: BaseInfo, config: Any, workdir: Path) -> str:
    """Pick the llama.cpp pre-tokenizer that tokenizes a probe text as the HF tokenizer does.

    llama.cpp's converter recognizes tokenizers by a hash table; here llama.cpp itself is asked,
    with vocab-only files, which of its pre-tokenizers reproduces this tokenizer.
    """
    import gguf

    text = PRE_PROBE_TEXT
    if getattr(tokenizer, "chat_template", None):
        # a template that needs other roles is skipped: the plain probe is enough
        with contextlib.suppress(Exception):
            text += tokenizer.apply_chat_template(
                [
                    {"role": "user", "content": "Hi there, 2+2?"},
                    {"role": "assistant", "content": "4."},
                ],
                tokenize=False,
            )
    want = tokenizer(text, add_special_tokens=False)["input_ids"]
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".vocab-probe-") as tmp:
        for pre in PRE_TOKENIZER_CANDIDATES:
            path = Path(tmp) / f"{pre}.gguf"
            writer = gguf.GGUFWriter(path, "llama")
            _write_llama_hparams(writer, config, info, "f32")
            _write_bpe_vocab(writer, tokenizer, info, config, pre=pre, out=path)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
            try:
                got = llama_tokenize(path, text, vocab_only=True)
            except TrainerError:
                continue
            if got == want:
                return pre
    raise TrainerError(
        f"{info.path}: no llama.cpp pre-tokenizer reproduces this tokenizer; "
        "convert the base to GGUF with llama.cpp and train on that"
    )


def llama_tokenize(path: Path, text: str, vocab_only: bool = False) -> list[int]:
    """Token ids llama.cpp gives ``text`` (special tokens parsed, no BOS added)."""
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = vocab_only
    with silence_stderr():
        llama_cpp.llama_backend_init()
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise TrainerError(f"{path}: llama.cpp cannot load this GGUF")
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, cap, False, True)
        if n < 0:
            raise TrainerError(f"{path}: llama.cpp tokenization overflowed ({-n} tokens)")
        return [int(buf[i]) for i in range(n)]
    finally:
        llama_cpp.llama_model_free(model)


# ---------------------------------------------------------------------------------------------
# LoRA adapters


def lora_pairs(peft_model: Any) -> Iterator[tuple[str, np.ndarray, np.ndarray, float, int]]:
    """(hf weight name, A (r, in), B (out, r), PEFT scaling, rank) for each LoRA layer."""
    from peft.tuners.lora import LoraLayer

    for name, module in peft_model.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        for adapter_name in module.active_adapters:
            if adapter_name not in module.lora_A:
                continue
            if getattr(module, "use_dora", {}).get(adapter_name):
                raise TrainerError(
                    "DoRA adapters cannot be written as a llama.cpp LoRA; export merged instead"
                )
            a = module.lora_A[adapter_name].weight.detach().float().cpu().numpy()
            b = module.lora_B[adapter_name].weight.detach().float().cpu().numpy()
            hf_name = name.split("base_model.model.", 1)[-1] + ".weight"
            yield hf_name, a, b, float(module.scaling[adapter_name]), int(module.r[adapter_name])


def write_lora_gguf(peft_model: Any, info: BaseInfo, out: Path, alpha: float) -> Path:
    """Write the LoRA weights of ``peft_model`` as a llama.cpp adapter GGUF (f32 tensors).

    llama.cpp scales each pair by ``alpha / rank``; PEFT's own scaling (rsLoRA, per-module
    ranks or alphas) is folded into B so both give the same update.
    """
    import gguf

    config = peft_model.base_model.model.config
    arch = info.architecture
    to_gguf = _tensor_name_map(arch, int(config.num_hidden_layers))
    writer = gguf.GGUFWriter(Path(out), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    count = 0
    for hf_name, a, b, scaling, rank in lora_pairs(peft_model):
        gguf_name = to_gguf(hf_name)
        if gguf_name is None or "token_embd" in gguf_name or gguf_name.startswith("output."):
            raise TrainerError(
                f"LoRA on {hf_name!r} cannot be written as a llama.cpp adapter; export merged instead"
            )
        b = b * (scaling * rank / float(alpha))
        if arch in PERMUTED_QK_ARCHS and (heads := _qk_heads(hf_name, config)) is not None:
            b = permute_qk(b, heads)
        writer.add_tensor(gguf_name + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(gguf_name + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
        count += 1
    if count == 0:
        raise TrainerError("the adapter has no LoRA layers; check RUN/adapter")
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return Path(out)


# ---------------------------------------------------------------------------------------------
# Quantizing


def quantize(src: Path, dst: Path, quant: str) -> Path:
    """Quantize a float GGUF with llama.cpp to ``quant`` (q4_k_m, q5_k_m, q8_0, f16, f32)."""
    import ctypes

    import llama_cpp

    quant = quant.lower()
    if quant not in QUANT_FTYPES:
        raise TrainerError(f"unknown quantization {quant!r}; pick one of {', '.join(QUANT_FTYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_FTYPES[quant])
    params.nthread = max(1, os.cpu_count() or 1)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with silence_stderr():
        rc = llama_cpp.llama_model_quantize(
            str(src).encode(), str(dst).encode(), ctypes.byref(params)
        )
    if rc != 0:
        raise TrainerError(f"{src}: llama.cpp could not quantize it to {quant} (code {rc})")
    return Path(dst)
