"""The sentence-transformers (torch) embedder: the reference the ONNX :class:`.Embedder` is
measured against (benchmarks, ``eval_retrieval.py --embedder torch``, the equivalence test).
The app does not use it. Its ``model_id`` is the bare folder fingerprint, which is what
libraries embedded before the ONNX runtime were stamped with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import offline
from .embedder import CachedEncoder, fingerprint


class TorchEmbedder(CachedEncoder):
    def __init__(self, model_path: Path, cache_path: Path | None = None,
                 batch_size: int = 64) -> None:
        super().__init__(model_path, cache_path, batch_size)
        self.model_id = fingerprint(self.model_path)
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer``."""
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
                self._model = SentenceTransformer(str(self.model_path), device="cpu")
            return self._model

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        return int(get())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.encode(text, add_special_tokens=False))

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
        return np.asarray(vec, dtype=np.float32)[0]
