"""Sentence embeddings for chunks and queries, with a content-hash cache.

sentence-transformers (and torch) are imported only when the first vector is needed: the
import alone costs seconds. Vectors are float32 and L2-normalized, so inner product is cosine.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import offline


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


class Embedder:
    def __init__(self, model_path: Path, cache_path: Path | None = None,
                 batch_size: int = 64) -> None:
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
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
        self.model_id = fingerprint(self.model_path)

    # -- loading -------------------------------------------------------------------------
    @property
    def model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                offline.enforce()
                from sentence_transformers import SentenceTransformer

                if not (self.model_path / "config.json").exists() and not (
                    self.model_path / "modules.json"
                ).exists():
                    from .types import LibraryError

                    raise LibraryError(
                        f"{self.model_path}: not a sentence-transformers model folder; "
                        "set `embedder` in config.toml to a model folder"
                    )
                self._model = SentenceTransformer(str(self.model_path), device=_device())
            return self._model

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = self._model.tokenizer
            else:
                offline.enforce()
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        return self._tokenizer

    @property
    def max_seq_length(self) -> int:
        if self._model is not None:
            return int(self._model.max_seq_length)
        cfg = self.model_path / "sentence_bert_config.json"
        if cfg.exists():
            import json

            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        return 256

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        return int(get())

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    # -- encoding ------------------------------------------------------------------------
    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

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

    def encode_query(self, text: str) -> np.ndarray:
        """One short text: a single torch thread is faster than several (and far faster when
        the cores are busy), so the thread count is lowered for the call."""
        import torch

        model = self.model
        with self._lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                vec = model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
            finally:
                torch.set_num_threads(threads)
        return np.asarray(vec, dtype=np.float32)[0]

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
