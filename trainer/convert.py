"""llama.cpp's own converter, at the version of the installed llama-cpp-python.

``scripts/fetch_converter.py`` (run by scripts/setup.sh) keeps ``convert_hf_to_gguf.py``, its
``conversion/`` package, ``convert_lora_to_gguf.py`` and ``gguf-py`` from the llama-cpp-python
source distribution in ``<venv>/share/teachbot/llama.cpp-<version>/``. This module runs them in
a child process of the same Python (trainer/_convert_driver.py), with the converter's own
``gguf-py`` first on the path, so it never mixes with the ``gguf`` package the app uses.

- :func:`convert_folder`: a Hugging Face model folder -> an f32/f16/bf16 GGUF.
- :func:`convert_adapter`: a PEFT LoRA adapter folder -> a llama.cpp LoRA adapter GGUF.
- :func:`supported_architectures`: the Hugging Face architectures the converter knows.

Every failure is a :class:`TrainerError` of one line naming the model and the reason.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from trainer.gguf_io import TrainerError

DRIVER = Path(__file__).with_name("_convert_driver.py")
ERROR_PREFIX = "CONVERT-ERROR: "
#: Overrides where the converter is looked for (a folder laid out like the one set-up keeps).
ENV_DIR = "TEACHBOT_LLAMA_CONVERTER"
OUTTYPES = ("f32", "f16", "bf16")


def llama_cpp_version() -> str:
    return importlib.metadata.version("llama-cpp-python")


def converter_dir() -> Path:
    """The converter folder; TrainerError (with the command that installs it) when missing."""
    if os.environ.get(ENV_DIR):
        path = Path(os.environ[ENV_DIR]).expanduser()
    else:
        path = Path(sys.prefix) / "share" / "teachbot" / f"llama.cpp-{llama_cpp_version()}"
    if not (path / "convert_hf_to_gguf.py").is_file() or not (path / "gguf-py").is_dir():
        raise TrainerError(
            f"{path}: llama.cpp's converter is not installed; run "
            f"{Path(sys.executable).name} scripts/fetch_converter.py (scripts/setup.sh does it)"
        )
    return path


@cache
def supported_architectures() -> frozenset[str]:
    """Hugging Face ``architectures`` names that the converter turns into a text model."""
    text = (converter_dir() / "conversion" / "__init__.py").read_text(encoding="utf-8")
    block = text.split("TEXT_MODEL_MAP", 1)[1].split("}", 1)[0]
    return frozenset(re.findall(r'"(\w+)"\s*:', block))


def check_supported(architecture: str, model: str | Path) -> None:
    """TrainerError unless the converter can write ``architecture`` (checked before training)."""
    if architecture not in supported_architectures():
        raise TrainerError(
            f"{model}: llama.cpp {llama_cpp_version()} cannot convert {architecture} models to "
            "GGUF, so teachbot could not run the trained model; pick a base of another family"
        )


def _run(args: list[str], model: str | Path, what: str) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONIOENCODING="utf-8")
    env.pop("NO_LOCAL_GGUF", None)
    cmd = [sys.executable, "-I", str(DRIVER), str(converter_dir()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode == 0:
        return
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    reason = next((ln[len(ERROR_PREFIX):] for ln in reversed(lines) if ln.startswith(ERROR_PREFIX)),
                  lines[-1] if lines else f"exit status {proc.returncode}")
    if "pre-tokenizer was not recognized" in reason or "update get_vocab_base_pre" in reason:
        reason = (f"its tokenizer is not one llama.cpp {llama_cpp_version()} knows how to split "
                  "(BPE pre-tokenizer not recognized)")
    raise TrainerError(f"{model}: llama.cpp's converter cannot write {what} ({reason})")


def convert_folder(model_dir: Path, out: Path, outtype: str = "f16", *,
                   vocab_from: Path | None = None, name: str | Path | None = None,
                   model_name: str | None = None) -> Path:
    """Convert a Hugging Face model folder to a float GGUF at ``out``.

    ``vocab_from``: a GGUF whose tokenizer keys are copied instead of converting the folder's
    tokenizer (for a model trained on that GGUF). ``name`` is what error messages call it;
    ``model_name`` goes into ``general.name`` (default: the folder's name; llama.cpp reads it,
    e.g. Phi-3's special-token spacing depends on it).
    """
    if outtype not in OUTTYPES:
        raise TrainerError(f"convert: outtype {outtype!r} is not one of {', '.join(OUTTYPES)}")
    args = ["hf", str(model_dir), str(out), outtype, model_name or Path(model_dir).name]
    if vocab_from is not None:
        args.append(str(vocab_from))
    _run(args, name or model_dir, f"a {outtype} GGUF")
    if not Path(out).is_file():
        raise TrainerError(f"{name or model_dir}: llama.cpp's converter wrote no file")
    return Path(out)


def convert_adapter(adapter_dir: Path, base_config_dir: Path, out: Path, outtype: str = "f32",
                    *, name: str | Path | None = None) -> Path:
    """Convert a PEFT LoRA adapter (on the base whose config.json is in ``base_config_dir``)."""
    _run(["lora", str(adapter_dir), str(base_config_dir), str(out), outtype],
         name or adapter_dir, "a LoRA adapter GGUF")
    if not Path(out).is_file():
        raise TrainerError(f"{name or adapter_dir}: llama.cpp's converter wrote no file")
    return Path(out)
