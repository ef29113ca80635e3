#!/usr/bin/env python
"""Make the benchmark model: a random-weight GGUF with the shape of Llama-3.2-1B, offline.

Its text is noise, but reading a prompt and writing a token cost what they cost with a real
1B model. The shape is Llama-3.2-1B-Instruct's: hidden 2048, 16 layers, 32 query and 8
key/value heads (head 64), MLP 8192, tied embeddings, RoPE theta 500000 with llama3 scaling,
a 128,256-entry vocabulary and a 131,072-token context (the engine caps it at ``n_ctx``).
The vocabulary is the bundled SmolLM2 tokenizer (49,152 byte-level BPE tokens and its ChatML
chat template) padded to 128,256 entries: the output layer, the logits and every sampler
(grammar included) see a Llama-3-size vocabulary, while text is tokenized as SmolLM2 does
(about 10% more tokens than Llama 3's tokenizer for English). The padding rows of the
embedding are zero, so like a real model it never writes an unused token.

It goes through the trainer's own export path: a Hugging Face folder with random weights, a
training run with a no-op LoRA adapter (PEFT's initial B = 0), then
``trainer.export.export_run(..., quant="q4_k_m", verify=False)`` (see :func:`export`).

The GGUF is cached: ``<home>/bench-models/`` with ``--home``, else
``~/.cache/teachbot/bench-models/`` (``$TEACHBOT_BENCH_MODELS`` overrides both). The file name
carries a hash of the recipe, so a changed recipe makes a new file. Making it takes a few
minutes and ~6 GiB of memory on two cores; later calls return the cached file at once.

    .venv/bin/python scripts/make_bench_model.py [--home DIR] [--json]

The last line printed is one JSON object: ``{"path": ..., "made": true|false, ...}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log  # noqa: E402

NAME = "bench-1b"
QUANT = "q4_k_m"
SEED = 1234
#: Llama-3.2-1B-Instruct's config.json, less what does not change the cost.
SHAPE: dict[str, Any] = {
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": True,
    "hidden_act": "silu",
}
#: The same recipe at toy size, for smoke tests of the scripts (``--tiny``).
TINY: dict[str, Any] = {**SHAPE, "hidden_size": 64, "intermediate_size": 128,
                        "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 50000,
                        "max_position_embeddings": 8192}


def recipe_hash(shape: dict[str, Any]) -> str:
    recipe = {"shape": shape, "quant": QUANT, "seed": SEED, "tokenizer": "smollm2-135m",
              "pad_rows": "zero", "version": 1}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def cache_dir(home: Path | None) -> Path:
    env = os.environ.get("TEACHBOT_BENCH_MODELS")
    if env:
        return Path(env).expanduser()
    if home is not None:
        return home / "bench-models"
    return Path.home() / ".cache" / "teachbot" / "bench-models"


def model_path(home: Path | None, tiny: bool = False) -> Path:
    name = f"{NAME}-tiny" if tiny else NAME
    return cache_dir(home) / f"{name}-{recipe_hash(TINY if tiny else SHAPE)}.{QUANT}.gguf"


def _tokenizer() -> Any:
    """The bundled SmolLM2's tokenizer (read from its GGUF by transformers)."""
    from transformers import AutoTokenizer

    from teachbot_tui.defaults import chat_model_path

    gguf = chat_model_path()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def _hf_folder(folder: Path, shape: dict[str, Any]) -> None:
    """A Hugging Face Llama folder with random weights (bf16 on disk) and the tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer()
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(**shape, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(SEED)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # halves the memory of the random init
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():
        # rows past the tokenizer's vocabulary are padding: zero, so their logit is 0 while
        # real tokens spread around it (a real model never writes an unused token either)
        model.model.embed_tokens.weight[len(tokenizer):].zero_()
    model.save_pretrained(folder)
    del model


def _run_folder(run: Path, base: Path) -> None:
    """A training run (as `teachbot-train train` leaves one) whose adapter changes nothing."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    # a small model with the same attention widths and depth carries the adapter: PEFT saves
    # only the LoRA tensors, whose names and shapes depend on those alone
    config = LlamaConfig.from_pretrained(base)
    config.vocab_size, config.intermediate_size = 32, 8
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        skeleton = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    lora = LoraConfig(r=1, lora_alpha=1, target_modules=["q_proj"], lora_dropout=0.0)
    peft_model = get_peft_model(skeleton, lora)  # lora_B starts at zero: merging is a no-op
    peft_model.save_pretrained(run / "adapter")
    (run / "run.json").write_text(json.dumps(
        {"base": str(base), "lora": {"r": 1, "alpha": 1}, "system_prompt": None}))


def export(run: Path, out: Path) -> Path:
    """The one call into the trainer's export path."""
    from trainer.export import export_run

    report = export_run(run, out, quant=QUANT, adapter=False, verify=False, progress=log)
    return report.out


def ensure(home: Path | None = None, tiny: bool = False) -> tuple[Path, bool]:
    """The cached bench model's path, made first if missing; (path, made now)."""
    out = model_path(home, tiny)
    if out.is_file():
        return out, False
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"making the bench model {out} (a few minutes, once) ...")
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=".make-"))
    try:
        base, run = work / "hf", work / "run"
        base.mkdir()
        run.mkdir()
        t0 = time.perf_counter()
        _hf_folder(base, TINY if tiny else SHAPE)
        log(f"  random weights written in {time.perf_counter() - t0:.0f} s")
        _run_folder(run, base)
        export(run, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out, True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="benchmark home; the model is cached in HOME/bench-models")
    ap.add_argument("--json", action="store_true", help="print only the JSON summary")
    ap.add_argument("--tiny", action="store_true",
                    help="the same recipe at toy size (hidden 64, 2 layers): for smoke tests")
    args = ap.parse_args(argv)
    _bench.setup(args.home)
    home = Path(args.home).expanduser().resolve() if args.home else None
    t0 = time.perf_counter()
    path, made = ensure(home, args.tiny)
    from teachbot_tui.gguf_info import read_info

    info = read_info(path)
    _bench.emit({"path": str(path), "made": made, "seconds": round(time.perf_counter() - t0, 1),
                 "size_bytes": path.stat().st_size, "architecture": info.architecture,
                 "context_length": info.context_length, "quant": QUANT},
                pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
