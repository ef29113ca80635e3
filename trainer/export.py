"""Export a training run to GGUF and check the file against transformers.

``export_run(RUN, OUT)`` loads the run's base model in full precision, applies ``RUN/adapter``
and either

- merges the LoRA into the weights, has llama.cpp's own converter (trainer/convert.py) write an
  f32/f16/bf16 GGUF and quantizes it with llama.cpp (Q4_K_M by default), or
- writes the LoRA as a llama.cpp adapter GGUF with llama.cpp's ``convert_lora_to_gguf.py``
  (``adapter=True``), to be loaded with ``Llama(model_path=BASE_GGUF, lora_path=OUT)``. For a
  Hugging Face base, a GGUF of the base is written next to it (``OUT-base.gguf``) because
  llama.cpp needs one.

A run trained on a GGUF base keeps that GGUF's tokenizer and chat template: its tokenizer keys
are copied as they are. A run trained on a 4-bit base (QLoRA) is merged into the
full-precision base here, like any other.

Then (unless ``verify=False``) it runs sample prompts, in the base's chat template, through the
merged model in transformers (float32) and through llama.cpp on the exported file, and compares
the tokenization, the next-token logits and the greedy continuations. The output file only
appears once that check passes; a failed check raises :class:`TrainerError` saying what differs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teachbot_tui import offline
from teachbot_tui.text import one_line
from trainer.convert import convert_adapter, convert_folder
from trainer.gguf_io import (
    QUANT_FTYPES,
    BaseInfo,
    TrainerError,
    load_base,
    quantize,
    resolve_base,
)

# peft calls transformers' deprecated ``is_gradient_checkpointing`` when it applies an adapter;
# the warning is for peft's authors, not for the person exporting
warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")

VERIFY_PROMPTS = (
    "How can I help a pupil who always finishes early?",
    "Give me a two-minute starter activity for fractions.",
    "What is a good way to end a lesson?",
    "Explain photosynthesis to a ten-year-old in two sentences.",
)

#: Greedy tokens compared after each prompt.
GREEDY_TOKENS = 8

#: Top-k used for the overlap figure.
TOP_K = 5

#: Where transformers' own top two logits are closer than this, either token counts as its
#: top-1 (a tie that the last bit of rounding decides; random test models have many).
TIE_EPS = 0.01

#: Lowest (top-1 agreement, top-5 overlap) accepted for each kind of exported file. Float files
#: must agree almost everywhere (measured on SmolLM2-135M: f32 1.0/1.0, max |Δlogit| 0.02).
#: Quantized files drift: llama.cpp also quantizes activations, so even the original Q4_1
#: SmolLM2 file agrees 0.94 with its own exact dequantization, and a Q8_0 export 0.89;
#: Q4_K_M 0.89 top-1 and 0.83 top-5.
VERIFY_THRESHOLDS: dict[str, tuple[float, float]] = {
    "f32": (0.95, 0.9),
    "f16": (0.9, 0.85),
    "bf16": (0.85, 0.8),
    "q8_0": (0.85, 0.8),
    "q5_k_m": (0.7, 0.6),
    "q4_k_m": (0.6, 0.5),
}

#: Models up to this many parameters are written as f32 before quantizing (no double rounding);
#: larger ones as bf16 (the range of the trained weights, half the temporary file).
F32_INTERMEDIATE_MAX_PARAMS = 400_000_000

#: Bases whose weight files are larger than this are merged in bfloat16 rather than float32
#: (an 8B base in float32 needs 32 GB of RAM).
FP32_MERGE_MAX_BYTES = 2 * 2**30

#: Files of a Hugging Face folder that are weights (not copied next to the merged weights).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5")


@dataclass
class ExportReport:
    out: Path
    quant: str
    adapter: bool
    seconds: float
    size_bytes: int
    verify: dict[str, Any] = field(default_factory=dict)
    base_gguf: Path | None = None  # the GGUF an adapter applies to

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        d["base_gguf"] = str(self.base_gguf) if self.base_gguf else None
        return d


@dataclass(frozen=True)
class RunSpec:
    """The parts of ``RUN/run.json`` export needs."""

    run: Path
    base: str
    lora_alpha: float
    system_prompt: str | None
    adapter_dir: Path


def read_run(run: str | Path) -> RunSpec:
    """Read and check ``RUN/run.json`` and ``RUN/adapter``; TrainerError names what is wrong."""
    run = Path(run).expanduser()
    if not run.is_dir():
        raise TrainerError(
            f"{run}: no such run folder; give the folder `teachbot-train train` wrote"
        )
    meta_path = run / "run.json"
    if not meta_path.is_file():
        raise TrainerError(f"{meta_path}: missing; is {run} a training run folder?")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainerError(f"{meta_path}: unreadable ({type(exc).__name__}); train again") from None
    if not isinstance(meta, dict) or not meta.get("base"):
        raise TrainerError(f"{meta_path}: has no 'base'; train again")
    adapter_dir = run / "adapter"
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise TrainerError(
            f"{config_path}: missing; the run has no saved adapter, finish training first"
        )
    if not any(
        (adapter_dir / n).is_file() for n in ("adapter_model.safetensors", "adapter_model.bin")
    ):
        raise TrainerError(
            f"{adapter_dir}: has no adapter_model.safetensors; finish training first"
        )
    try:
        adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainerError(
            f"{config_path}: unreadable ({type(exc).__name__}); train again"
        ) from None
    lora = meta.get("lora") or {}
    alpha = adapter_config.get("lora_alpha", lora.get("alpha"))
    if alpha is None:
        raise TrainerError(f"{config_path}: has no lora_alpha; train again")
    base = str(meta["base"])
    if base != "default" and not Path(base).expanduser().exists():
        raise TrainerError(f"{meta_path}: base {base} no longer exists; put it back or train again")
    return RunSpec(run, base, float(alpha), meta.get("system_prompt") or None, adapter_dir)


def export_run(
    run: Path,
    out: Path,
    quant: str = "q4_k_m",
    adapter: bool = False,
    verify: bool = True,
    progress: Callable[[str], None] | None = None,
    prompts: Sequence[str] | None = None,
) -> ExportReport:
    """Export ``run`` to the GGUF ``out`` (see the module docstring); return what was done."""
    offline.enforce()
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    quant = quant.lower()
    if quant not in QUANT_FTYPES:
        raise TrainerError(f"unknown quantization {quant!r}; pick one of {', '.join(QUANT_FTYPES)}")
    spec = read_run(run)
    out = Path(out).expanduser().resolve()
    if out.suffix != ".gguf":
        raise TrainerError(f"{out}: the output must be a .gguf file")
    out.parent.mkdir(parents=True, exist_ok=True)

    import torch
    from peft import PeftModel

    say(f"loading base {spec.base}")
    base_path = resolve_base(spec.base)
    dtype = torch.float32 if _weight_bytes(base_path) <= FP32_MERGE_MAX_BYTES else torch.bfloat16
    model, tokenizer, info = load_base(base_path, dtype=dtype)
    n_params = sum(p.numel() for p in model.parameters())
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.stem}-"))
    staged = work / out.name
    base_gguf: Path | None = None
    staged_base: Path | None = None
    try:
        if adapter and info.kind == "hf":
            base_gguf = out.with_name(f"{out.stem}-base.gguf")
            staged_base = work / base_gguf.name
            say(f"writing the base model as {quant} GGUF (llama.cpp applies the adapter to it)")
            _convert_quantized(info.path, staged_base, quant, n_params, work, None, info)
        elif adapter:
            base_gguf = info.path
        if adapter:
            say("writing LoRA adapter GGUF")
            config_dir = info.path if info.kind == "hf" else work / "base-config"
            if info.kind != "hf":  # the converter reads the family from config.json
                model.config.architectures = [type(model).__name__]
                model.config.save_pretrained(config_dir)
            convert_adapter(spec.adapter_dir, config_dir, staged, "f32", name=spec.adapter_dir)

        say(f"applying adapter {spec.adapter_dir}")
        try:
            peft_model = PeftModel.from_pretrained(model, str(spec.adapter_dir))
        except Exception as exc:
            raise TrainerError(
                f"{spec.adapter_dir}: PEFT cannot apply this adapter to {info.path.name} "
                f"({type(exc).__name__}); was it trained on another base?"
            ) from exc
        merged = peft_model.merge_and_unload()
        merged.eval()
        if not adapter:
            say(f"writing merged GGUF and quantizing to {quant}")
            folder = save_merged(merged, tokenizer, info, work / "merged")
            vocab = info.path if info.kind == "gguf" else None
            _convert_quantized(folder, staged, quant, n_params, work, vocab, info)
            shutil.rmtree(folder, ignore_errors=True)

        results: dict[str, Any] = {}
        if verify:
            say("checking the GGUF against transformers")
            if adapter:
                assert base_gguf is not None
                results = verify_gguf(
                    merged,
                    tokenizer,
                    staged_base or base_gguf,
                    quant=_adapter_quant(info, quant),
                    lora_path=staged,
                    system_prompt=spec.system_prompt,
                    prompts=prompts,
                    name=out,
                )
            else:
                results = verify_gguf(
                    merged,
                    tokenizer,
                    staged,
                    quant=quant,
                    system_prompt=spec.system_prompt,
                    prompts=prompts,
                    name=out,
                )
        if staged_base is not None and base_gguf is not None:
            os.replace(staged_base, base_gguf)
        os.replace(staged, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    say(f"wrote {out} in {seconds:.1f} s")
    return ExportReport(out, quant, adapter, seconds, out.stat().st_size, results, base_gguf)


def _adapter_quant(info: BaseInfo, quant: str) -> str:
    """The threshold row for an adapter check: the base file's own precision decides."""
    if info.kind == "hf":
        return quant
    # a GGUF base is loaded into transformers exactly as stored, so the only differences are
    # llama.cpp's arithmetic; hold it to the Q8_0 row
    return "q8_0"


def _weight_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.suffix in _WEIGHT_SUFFIXES)
    return path.stat().st_size


def save_merged(model: Any, tokenizer: Any, info: BaseInfo, folder: Path) -> Path:
    """Write ``model`` as a Hugging Face folder for the converter: the weights, and the base's
    own tokenizer and config files (a folder base) or the loaded tokenizer (a GGUF base)."""
    folder.mkdir(parents=True, exist_ok=True)
    if info.kind == "hf":
        for f in info.path.iterdir():
            if f.is_file() and f.suffix not in _WEIGHT_SUFFIXES and not f.name.endswith(".index.json"):
                shutil.copy2(f, folder / f.name)
    else:
        tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def write_gguf(model: Any, tokenizer: Any, info: BaseInfo, out: Path, dtype: str = "f16") -> Path:
    """Write ``model`` (a transformers model of ``info``'s base) as an f32/f16/bf16 GGUF with
    llama.cpp's converter. ``info.kind == "gguf"``: the tokenizer keys come from that GGUF."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.stem}-"))
    try:
        folder = save_merged(model, tokenizer, info, work / "model")
        convert_folder(folder, out, dtype, vocab_from=info.path if info.kind == "gguf" else None,
                       name=info.path, model_name=model_name(info))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def model_name(info: BaseInfo) -> str:
    """``general.name`` for files made from this base: the base's own (its folder's name, or
    the name inside the base GGUF)."""
    if info.kind == "gguf":
        from trainer.gguf_io import read_gguf_header

        name = read_gguf_header(info.path, {"general.name"}).get("general.name")
        return str(name or info.path.stem)
    return info.path.name


def _convert_quantized(folder: Path, dst: Path, quant: str, n_params: int, work: Path,
                       vocab_from: Path | None, info: BaseInfo) -> Path:
    """Convert a Hugging Face folder to ``dst`` in ``quant`` (float types directly)."""
    kw = {"vocab_from": vocab_from, "name": info.path, "model_name": model_name(info)}
    if quant in ("f16", "f32", "bf16"):
        return convert_folder(folder, dst, quant, **kw)
    dtype = "f32" if n_params <= F32_INTERMEDIATE_MAX_PARAMS else "bf16"
    tmp = work / f"{dst.stem}.{dtype}.gguf"
    convert_folder(folder, tmp, dtype, **kw)
    quantize(tmp, dst, quant)
    tmp.unlink()
    return dst


# ---------------------------------------------------------------------------------------------
# Verification


def format_prompt(tokenizer: Any, prompt: str, system_prompt: str | None) -> str:
    """The prompt as the chat model sees it (its chat template, ready for the reply)."""
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    from trainer.chat import render_chat

    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": prompt}
    ]
    return render_chat(tokenizer, messages, add_generation_prompt=True)


def verify_gguf(
    model: Any,
    tokenizer: Any,
    gguf_path: Path,
    quant: str,
    lora_path: Path | None = None,
    system_prompt: str | None = None,
    prompts: Sequence[str] | None = None,
    n_tokens: int = GREEDY_TOKENS,
    name: str | Path | None = None,
) -> dict[str, Any]:
    """Compare llama.cpp on ``gguf_path`` (plus ``lora_path``) with ``model`` in transformers.

    For each prompt: the token ids must be equal; then transformers' greedy continuation of
    ``n_tokens`` is fed to both, and the next-token logits at the last prompt position and at
    each continuation position are compared. Raises TrainerError below VERIFY_THRESHOLDS[quant];
    messages name ``name`` (default: the file).
    """
    import torch
    from llama_cpp import Llama

    started = time.perf_counter()
    shown = str(name or gguf_path)
    prompts = list(prompts or VERIFY_PROMPTS)
    texts = [format_prompt(tokenizer, p, system_prompt) for p in prompts]
    hf_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    n_ctx = max(len(ids) for ids in hf_ids) + n_tokens + 8

    try:
        llm = Llama(
            model_path=str(gguf_path),
            lora_path=str(lora_path) if lora_path else None,
            n_ctx=n_ctx,
            n_batch=n_ctx,
            logits_all=True,
            verbose=False,
            n_threads=max(1, os.cpu_count() or 1),
        )
    except Exception as exc:
        what = f"{gguf_path} with adapter {shown}" if lora_path else shown
        raise TrainerError(f"{what}: llama.cpp cannot load it ({type(exc).__name__}: {one_line(exc)})") from exc

    agree: list[bool] = []
    exact: list[bool] = []
    overlap: list[float] = []
    greedy_same = True
    max_dlogit = 0.0
    max_logit = 0.0
    samples: list[str] = []
    try:
        for text, ids in zip(texts, hf_ids, strict=True):
            cpp_ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            if list(cpp_ids) != list(ids):
                i = next(
                    (k for k, (a, b) in enumerate(zip(ids, cpp_ids, strict=False)) if a != b),
                    min(len(ids), len(cpp_ids)),
                )
                raise TrainerError(
                    f"{shown}: llama.cpp tokenizes the prompt differently from transformers "
                    f"(first difference at token {i}: {ids[i : i + 3]} vs {list(cpp_ids)[i : i + 3]}); "
                    "the GGUF's tokenizer metadata is wrong"
                )
            full, hf_logits = _hf_greedy(model, ids, n_tokens, torch)
            llm.reset()
            llm.eval(full)
            cpp_logits = np.array(llm.scores[: len(full)], dtype=np.float32)
            vocab = min(hf_logits.shape[1], cpp_logits.shape[1])
            hf_logits, cpp_logits = hf_logits[:, :vocab], cpp_logits[:, :vocab]
            start = len(ids) - 1
            for pos in range(start, len(full)):
                h, c = hf_logits[pos], cpp_logits[pos]
                h_top, c_top = int(h.argmax()), int(c.argmax())
                exact.append(h_top == c_top)
                same = h_top == c_top or float(h[h_top] - h[c_top]) <= TIE_EPS
                agree.append(same)
                if not same and pos < len(full) - 1:
                    greedy_same = False
                top_h = set(np.argpartition(-h, TOP_K)[:TOP_K].tolist())
                top_c = set(np.argpartition(-c, TOP_K)[:TOP_K].tolist())
                overlap.append(len(top_h & top_c) / TOP_K)
                max_dlogit = max(max_dlogit, float(np.abs(h - c).max()))
                max_logit = max(max_logit, float(np.abs(h).max()))
            samples.append(tokenizer.decode(full[len(ids) :], skip_special_tokens=False))
    finally:
        llm.close()

    results = {
        "prompts": len(prompts),
        "positions": len(agree),
        "top1_agreement": round(float(np.mean(agree)), 4),
        "top1_exact": round(float(np.mean(exact)), 4),
        "topk_overlap": round(float(np.mean(overlap)), 4),
        "max_abs_dlogit": round(max_dlogit, 4),
        "max_abs_logit": round(max_logit, 4),
        "same_greedy_tokens": greedy_same,
        "quant": quant,
        "continuations": samples,
        "seconds": round(time.perf_counter() - started, 2),
    }
    min_top1, min_overlap = VERIFY_THRESHOLDS.get(quant, VERIFY_THRESHOLDS["q4_k_m"])
    if results["top1_agreement"] < min_top1 or results["topk_overlap"] < min_overlap:
        advice = (
            "the conversion is wrong; please report it"
            if quant in ("f32", "f16", "q8_0")
            else "this quantization loses too much for this model; try --quant q8_0"
        )
        raise TrainerError(
            f"{shown}: llama.cpp disagrees with transformers on the {quant} export "
            f"(top-1 agreement {results['top1_agreement']:.2f}, needs {min_top1}; top-{TOP_K} "
            f"overlap {results['topk_overlap']:.2f}, needs {min_overlap}; max |Δlogit| "
            f"{max_dlogit:.2f}); {advice}"
        )
    return results


def _hf_greedy(
    model: Any, ids: list[int], n_tokens: int, torch: Any
) -> tuple[list[int], np.ndarray]:
    """Greedy continuation with the KV cache; returns the ids and the logits at every position."""
    from trainer.batches import cache_kwarg

    full = list(ids)
    rows = []
    kwarg = cache_kwarg(model)
    with torch.no_grad():
        out = model(torch.tensor([full]), use_cache=True)
        rows.append(out.logits[0].float())
        for _ in range(n_tokens):
            nxt = int(rows[-1][-1].argmax())
            full.append(nxt)
            past = getattr(out, "cache", None) or out.past_key_values
            out = model(torch.tensor([[nxt]]), use_cache=True, **{kwarg: past})
            rows.append(out.logits[0].float())
    return full, torch.cat(rows).numpy()
