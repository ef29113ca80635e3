"""Sentence embeddings for chunks and queries, with a content-hash cache.

:class:`Embedder` (what the app and the library use) runs the model folder with ONNX Runtime
(:mod:`.onnx_model`): no torch, transformers or sentence-transformers in the process. The ONNX
file is exported from the folder once (:mod:`.onnx_export`, in a subprocess: at set-up, or on
first use) and kept, named by the embedder's fingerprint, in the installation's
``share/teachbot/onnx`` (or, where that is read-only, the cache directory's ``onnx/``).
``embedder_torch.TorchEmbedder`` is the sentence-transformers reference (benchmarks, tests).

Vectors are float32 and L2-normalized, so inner product is cosine. ``model_id`` (the
fingerprint the library stamps its vectors with) names the model folder, the runtime, the
export recipe and the quantization: vectors of two embedders never mix.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import offline

# int8 dynamic quantization: nDCG@10 on both BEIR sets within 0.005 of the torch embedder,
# vectors at cosine >= 0.98 of sentence-transformers' (docs/retrieval.md)
DEFAULT_QUANTIZE = "int8"
# ONNX Runtime's threads for a run, and runs at once for a batch encode. Measured on 2 cores
# (bench_import.py --threads-sweep, docs/benchmarks.md): at load ~3, two one-thread runs side by
# side embedded a batch 1.5x faster than one run on 2 threads (114.6 vs 75.6 chunks/s), and a
# single query took 1.96 ms p50 on one thread vs 2.65 ms on two. The runs share one session
# (ONNX Runtime's run is thread-safe), so the weights are in memory once.
RUN_THREADS = 1
BATCH_WORKERS = max(1, min(4, os.cpu_count() or 1))


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def fingerprint(folder: Path) -> str:
    """Which model a folder holds, cheaply: its name, plus a hash of its config.json and of
    the size and first MiB of each weights file (a fine-tune differs there too)."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.name == "config.json" or path.suffix in (".safetensors", ".bin"):
            try:
                with path.open("rb") as fh:
                    h.update(f"{path.name}:{path.stat().st_size}:".encode())
                    h.update(fh.read(1 << 20))
            except OSError:
                continue
    name = folder.name if folder.name != "model" else folder.parent.name  # (packaged models)
    return f"{name}@{h.hexdigest()[:12]}"


class CachedEncoder:
    """The content-hash cache shared by every embedder: ``encode`` embeds each distinct
    text once (now or in any earlier run with the same cache) through ``encode_uncached``."""

    model_id: str
    batch_size: int

    def __init__(self, model_path: Path, cache_path: Path | None = None,
                 batch_size: int = 64) -> None:
        self.model_path = Path(model_path)
        self.cache_path = cache_path
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._cache: sqlite3.Connection | None = None
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            self._cache = sqlite3.connect(cache_path, check_same_thread=False, timeout=10)
            self._cache.execute("PRAGMA journal_mode=WAL")
            self._cache.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vec BLOB,"
                " PRIMARY KEY (model, key)) WITHOUT ROWID"
            )

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts; identical texts (now or in any earlier run) are embedded once."""
        keys = [text_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        if self._cache is not None and keys:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                rows = self._cache.execute(
                    f"SELECT key, vec FROM vectors WHERE model=? AND key IN "
                    f"({','.join('?' * len(part))})",
                    (self.model_id, *part),
                ).fetchall()
                for key, blob in rows:
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in todo:
                todo[key] = text
        if todo:
            fresh = self.encode_uncached(list(todo.values()))
            for key, vec in zip(todo, fresh, strict=True):
                found[key] = vec
            if self._cache is not None:
                with self._cache:
                    self._cache.executemany(
                        "INSERT OR REPLACE INTO vectors(model, key, vec) VALUES (?,?,?)",
                        [(self.model_id, k, found[k].tobytes()) for k in todo],
                    )
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


class Embedder(CachedEncoder):
    """A sentence-transformers model folder, run with ONNX Runtime."""

    def __init__(self, model_path: Path, cache_path: Path | None = None,
                 batch_size: int = 64, *, quantize: str = DEFAULT_QUANTIZE,
                 onnx_roots: list[Path] | None = None) -> None:
        from .onnx_export import EXPORT_RECIPE, QUANTIZATIONS

        if quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS}, not {quantize!r}")
        super().__init__(model_path, cache_path, batch_size)
        self.quantize = quantize
        self.model_id = f"{fingerprint(self.model_path)}+onnx{EXPORT_RECIPE}-{quantize}"
        self._onnx_roots = onnx_roots
        self._model: Any = None
        self._config: Any = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def default_for_setup(cls, quantize: str = DEFAULT_QUANTIZE) -> Embedder:
        from .. import defaults

        return cls(defaults.embedder_path(), quantize=quantize)

    # -- loading -------------------------------------------------------------------------
    def onnx_roots(self) -> list[Path]:
        """Where exports are looked for; the first is where a new one is written. An export
        depends only on the model folder and the recipe (both in its name), so it goes to
        the installation's folder (``<prefix>/share/teachbot/onnx``: set-up writes there, and
        every TEACHBOT_HOME finds it) where that is writable, else to the cache directory's
        ``onnx/``."""
        from .onnx_export import shared_dir

        if self._onnx_roots is not None:
            return list(self._onnx_roots)
        if self.cache_path is not None:
            cache_dir = self.cache_path.parent
        else:
            from ..paths import Paths

            cache_dir = Paths.from_env().cache_dir
        shared = shared_dir()
        existing = next(p for p in (shared, *shared.parents) if p.exists())
        if os.access(existing, os.W_OK):
            return [shared, cache_dir / "onnx"]
        return [cache_dir / "onnx", shared]

    def export_dir(self, roots: list[Path] | None = None) -> Path:
        """The folder of this embedder's ONNX export, exporting it first if need be."""
        from .onnx_export import ExportError, ensure_exported
        from .onnx_model import ModelFolderError, read_config
        from .types import LibraryError

        offline.enforce()
        try:
            read_config(self.model_path)
            key = re.sub(r"[^A-Za-z0-9._@+-]", "_", self.model_id)
            return ensure_exported(self.model_path, key, self.quantize,
                                   roots or self.onnx_roots())
        except (ExportError, ModelFolderError) as exc:
            raise LibraryError(f"{exc}; set `embedder` in config.toml to a "
                               "sentence-transformers model folder") from None

    @property
    def model(self) -> Any:
        """The loaded :class:`.onnx_model.OnnxSentenceModel` (exported on first use)."""
        with self._lock:
            if self._model is None:
                from .onnx_model import OnnxSentenceModel

                folder = self.export_dir()
                self._model = OnnxSentenceModel(self.model_path, folder / "model.onnx",
                                                threads=RUN_THREADS)
            return self._model

    @property
    def config(self) -> Any:
        if self._config is None:
            from .onnx_model import ModelFolderError, read_config
            from .types import LibraryError

            try:
                self._config = read_config(self.model_path)
            except ModelFolderError as exc:
                raise LibraryError(str(exc)) from None
        return self._config

    @property
    def max_seq_length(self) -> int:
        return int(self.config.max_seq_length)

    @property
    def dim(self) -> int:
        return int(self.config.dim)

    def count_tokens(self, text: str) -> int:
        return int(self.model.count_tokens(text))

    # -- encoding ------------------------------------------------------------------------
    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """One ONNX Runtime run per text (``BATCH_WORKERS`` at a time). int8 activations
        are quantized with one scale per run, so in a padded batch a text's vector would
        depend on its batch-mates; alone it is the same in any batch, and the same as the
        query path gives. Without padding it also measured faster than batches of 64."""
        model = self.model
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = model.encodings(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)

        def run(i: int) -> None:
            out[i] = model.run(model.pad([encodings[i]]))[0]

        if len(texts) == 1 or BATCH_WORKERS == 1:
            for i in range(len(texts)):
                run(i)
        else:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(BATCH_WORKERS,
                                                    thread_name_prefix="teachbot-embed")
            list(self._pool.map(run, range(len(texts))))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One short text, on the calling thread."""
        return self.model.embed([text])[0]

    def close(self) -> None:
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
