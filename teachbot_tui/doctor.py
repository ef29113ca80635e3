"""`teachbot doctor`: versions, paths, default models, llama.cpp's system info, offline flags."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from . import __version__, defaults, offline
from .paths import Paths


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def report(paths: Paths | None = None) -> dict[str, Any]:
    paths = paths or Paths.from_env()
    chat = defaults.chat_model()
    emb = defaults.embedder()
    llama: dict[str, Any] = {"version": _version("llama-cpp-python"), "gpu_offload": False,
                             "system_info": None}
    try:
        import llama_cpp

        llama["gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
        info = llama_cpp.llama_print_system_info()
        llama["system_info"] = info.decode() if isinstance(info, bytes) else str(info)
    except Exception as exc:  # doctor reports problems, it does not crash on them
        llama["error"] = f"{type(exc).__name__}: {exc}"
    return {
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            name: _version(name)
            for name in ("llama-cpp-python", "torch", "sentence-transformers", "transformers",
                         "textual", "hnswlib", "peft", "gguf", "typer")
        },
        "paths": {
            "config": str(paths.config_dir),
            "data": str(paths.data_dir),
            "cache": str(paths.cache_dir),
            "config_file": str(paths.config_file),
            "library": str(paths.library_dir),
        },
        "chat_model": {
            "name": defaults.CHAT_NAME,
            "path": str(chat.path) if chat.path else None,
            "exists": chat.exists,
            "install": None if chat.exists else chat.install,
        },
        "embedder": {
            "path": str(emb.path) if emb.path else None,
            "exists": emb.exists,
            "install": None if emb.exists else emb.install,
        },
        "llama_cpp": llama,
        "offline": offline.status(),
        "best_fit": _best_fit(paths),
    }


def _best_fit(paths: Paths) -> str | None:
    """The catalog model that fits this machine best, from the cached speed measurement
    (`teachbot models catalog` measures; doctor never does, it stays quick)."""
    try:
        from . import catalog, config

        machine = catalog.this_machine(paths, config.load(paths).threads, measure=False)
        best = catalog.best_fit(catalog.fits(machine))
    except Exception:  # doctor reports problems, it does not crash on them
        return None
    return best.entry.name if best else None
