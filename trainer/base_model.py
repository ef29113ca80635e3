"""Loading the base for training: full precision, or 4-bit NF4 for QLoRA, on the right device.

Also refuses, before any training, a family that llama.cpp's converter could not export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer import gguf_io
from trainer.gguf_io import TrainerError

if TYPE_CHECKING:
    import torch


GRAD_CHECKPOINTING_MIN_PARAMS = 1_000_000_000  # bases above this recompute activations by default
QUANTIZE_CHOICES = ("4bit",)


def check_quantize_base(mode: str, cuda: bool) -> None:
    """QLoRA needs a CUDA GPU and bitsandbytes; say so in one line before anything loads."""
    if mode not in QUANTIZE_CHOICES:
        raise TrainerError(f"--quantize-base {mode}: unknown; the choice is {', '.join(QUANTIZE_CHOICES)}")
    if not cuda:
        raise TrainerError("--quantize-base 4bit needs an NVIDIA GPU with CUDA (bitsandbytes NF4) "
                           "and this machine has none; train without --quantize-base")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TrainerError("--quantize-base 4bit needs bitsandbytes: "
                           ".venv/bin/pip install bitsandbytes") from None


def load_model(quantize_base: str | None, base_path: Path, base_kind: str, dtype: torch.dtype,
               local_rank: int) -> tuple[Any, Any]:
    """The base in ``dtype`` on this process's device, or in 4-bit NF4 with ``quantize_base``
    (LoRA then trains on top in ``dtype``; export merges into the full-precision base)."""
    if quantize_base:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        if base_kind != "hf":
            raise TrainerError(f"{base_path}: --quantize-base needs a Hugging Face folder base; "
                               "a GGUF base is already small, train on it without it")
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                 bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
        model, tokenizer, _ = gguf_io.load_base(base_path, dtype=dtype, quantization_config=bnb,
                                                device_map={"": local_rank})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        import torch

        model, tokenizer, _ = gguf_io.load_base(base_path, dtype=dtype)
        model.to(torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else "cpu")
    if not tokenizer.chat_template:
        raise TrainerError(f"{base_path}: the model has no chat template; use an instruct/chat model")
    check_convertible(model, base_path)
    model.config.use_cache = False
    return model, tokenizer


def check_convertible(model: Any, base_path: Path) -> None:
    """Refuse, before training, a family llama.cpp's converter could not export afterwards."""
    from trainer.convert import check_supported, converter_dir

    try:
        converter_dir()
    except TrainerError:
        return  # not installed: export says how to install it
    archs = getattr(model.config, "architectures", None) or [type(model).__name__]
    check_supported(archs[0], base_path)
