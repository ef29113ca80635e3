"""Keep Hugging Face libraries offline.

Call :func:`enforce` before anything imports ``transformers``, ``huggingface_hub`` or
``sentence_transformers``. Every entry point (``teachbot``, ``teachbot-train``, the scripts)
does so first.
"""

from __future__ import annotations

import os

OFFLINE_FLAGS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def enforce() -> None:
    """Set the offline flags in this process's environment (idempotent)."""
    for key, value in OFFLINE_FLAGS.items():
        os.environ[key] = value


def status() -> dict[str, str | None]:
    return {key: os.environ.get(key) for key in OFFLINE_FLAGS}
