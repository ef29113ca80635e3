"""A sentence-transformers model run by ONNX Runtime: the ``tokenizers`` fast tokenizer, the
exported transformer (:mod:`.onnx_export`), then pooling and normalization in numpy.

Everything sentence-transformers does for a Transformer -> Pooling (-> Normalize) model is
read from the model folder and repeated here: texts are stripped, truncated at the folder's
``max_seq_length`` (sentence_bert_config.json, not tokenizer.json's own setting) and padded
to the longest text of their batch; pooling follows ``1_Pooling/config.json``. Imports only
numpy, onnxruntime and tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# sentence-transformers' Pooling modes, in the order it concatenates them
POOLING_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens")
SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}


class ModelFolderError(Exception):
    """The folder is not a model this runtime can reproduce; the message is one line."""


@dataclass(frozen=True)
class SentenceConfig:
    max_seq_length: int
    do_lower_case: bool
    pooling: tuple[str, ...]
    dim: int


def read_config(folder: Path) -> SentenceConfig:
    """The parts of a sentence-transformers folder that decide its vectors."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").is_file():
        raise ModelFolderError(f"{folder}: no tokenizer.json; the embedder needs a "
                               "sentence-transformers model folder with a fast tokenizer")
    modules = _json(folder / "modules.json", [])
    pooling_dir = "1_Pooling"
    for m in modules:
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        if kind not in SUPPORTED_MODULES:
            raise ModelFolderError(
                f"{folder}: its {kind} module is not supported by the ONNX embedder "
                "(Transformer, Pooling and Normalize are); choose another `embedder` folder")
        if kind == "Pooling":
            pooling_dir = m.get("path") or pooling_dir
    st = _json(folder / "sentence_bert_config.json", {})
    pool_cfg = _json(folder / pooling_dir / "config.json", {"pooling_mode_mean_tokens": True})
    for mode in ("weightedmean_tokens", "lasttoken"):
        if pool_cfg.get(f"pooling_mode_{mode}"):
            raise ModelFolderError(f"{folder}: {mode} pooling is not supported by the ONNX "
                                   "embedder; choose another `embedder` folder")
    modes = tuple(m for m in POOLING_MODES if pool_cfg.get(f"pooling_mode_{m}"))
    hidden = int(_json(folder / "config.json", {}).get("hidden_size", 0))
    dim = int(pool_cfg.get("word_embedding_dimension") or hidden) * max(len(modes), 1)
    return SentenceConfig(int(st.get("max_seq_length") or 256), bool(st.get("do_lower_case")),
                          modes or ("mean_tokens",), dim)


def _json(path: Path, default: object) -> dict | list:  # type: ignore[type-arg]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default  # type: ignore[return-value]
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{path}: unreadable ({exc})") from None


class OnnxSentenceModel:
    """Tokenize, run, pool. ``threads`` is ONNX Runtime's intra-op thread count for this
    session; :meth:`embed` may be called from several threads at once (``run`` is
    thread-safe in ONNX Runtime)."""

    def __init__(self, folder: Path, onnx_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.config = read_config(self.folder)
        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        # tokenizer.json carries its own truncation and fixed padding (128 for MiniLM):
        # the counter has neither, the encoder truncates where sentence-transformers does
        tok.no_padding()
        tok.no_truncation()
        self._counter = tok
        enc = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        enc.no_padding()
        enc.enable_truncation(max_length=self.config.max_seq_length)
        self._encoder = enc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no arena: a batch's activations (hundreds of MB for 64 x 256 tokens) are given
        # back after the run instead of staying with the process
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), opts,
                                            providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self.session.get_inputs()]
        _release_free_heap()

    @property
    def dim(self) -> int:
        return self.config.dim

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(list(texts),
                                                               add_special_tokens=False)]

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        out = [str(t).strip() for t in texts]
        return [t.lower() for t in out] if self.config.do_lower_case else out

    def encodings(self, texts: Sequence[str]) -> list:  # type: ignore[type-arg]
        """Token encodings (truncated, unpadded), one per text."""
        return self._encoder.encode_batch(self._prepare(texts))

    @staticmethod
    def pad(encodings: Sequence[object]) -> dict[str, np.ndarray]:
        """One batch, padded with 0 to its longest member."""
        n = len(encodings)
        width = max(len(e.ids) for e in encodings)  # type: ignore[attr-defined]
        ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for i, e in enumerate(encodings):
            k = len(e.ids)  # type: ignore[attr-defined]
            ids[i, :k] = e.ids  # type: ignore[attr-defined]
            mask[i, :k] = e.attention_mask  # type: ignore[attr-defined]
            types[i, :k] = e.type_ids  # type: ignore[attr-defined]
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return self.pad(self.encodings(texts))

    def run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Normalized sentence vectors of one padded batch."""
        tokens = self.session.run(None, {n: batch[n] for n in self._inputs})[0]
        return self.pool(tokens, batch["attention_mask"])

    def pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """sentence-transformers' Pooling (the folder's modes), then L2 normalization."""
        m = mask[:, :, None].astype(np.float32)
        parts = []
        for mode in self.config.pooling:
            if mode == "cls_token":
                parts.append(tokens[:, 0])
            elif mode == "max_tokens":
                parts.append(np.where(m > 0, tokens, -1e9).max(axis=1))
            else:
                total = (tokens * m).sum(axis=1)
                count = np.clip(m.sum(axis=1), 1e-9, None)
                parts.append(total / (np.sqrt(count) if mode == "mean_sqrt_len_tokens" else count))
        vec = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        norm = np.clip(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12, None)
        return (vec / norm).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in one batch (callers batch; see ``Embedder``)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.run(self.tokenize(texts))


def _release_free_heap() -> None:
    """Hand the heap that building the session freed back to the system (glibc keeps it
    otherwise: about 10 MB of the app's resident memory). A no-op elsewhere."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
