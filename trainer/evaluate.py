"""``teachbot-train eval``: compare models on held-out chat records.

For each record the last assistant message is the reference; each model generates a reply
(llama.cpp, temperature 0) from the messages before it, under the app's system prompt when
the record has none. Per model: embedding similarity to the reference (cosine of normalized
sentence-transformers vectors: mean, min, max, std), ROUGE-L F1 on words, and reply length
statistics.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachbot_tui import offline
from teachbot_tui.training_format import ChatRecord, RecordError, read_records

WORD = re.compile(r"\w+", re.UNICODE)


# --- metrics -----------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (one row of the DP table at a time)."""
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, start=1):
            prev_diag, row[j] = row[j], prev_diag + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 on lower-cased words."""
    c, r = words(candidate), words(reference)
    lcs = lcs_length(c, r) if c and r else 0
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def summary(values: list[float]) -> dict[str, float]:
    """mean, min, max and (population) std, rounded to 4 places."""
    if not values:
        return {"mean": math.nan, "min": math.nan, "max": math.nan, "std": math.nan}
    return {
        "mean": round(statistics.fmean(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "std": round(statistics.pstdev(values), 4),
    }


# --- models ------------------------------------------------------------------------------------


def resolve_model(spec: str) -> Path:
    """A GGUF path, a registry name, or ``default``."""
    path = Path(spec).expanduser()
    if path.suffix == ".gguf" or path.exists():
        from teachbot_tui.gguf_info import GGUFError, read_info

        try:
            return read_info(path).path
        except GGUFError as exc:
            raise RecordError(path, 0, str(exc).removeprefix(f"{path}: ")) from None
    from teachbot_tui.registry import ModelRegistry

    entry = ModelRegistry().get(spec)  # RegistryError names the known models
    if not entry.exists:
        if entry.builtin:
            from teachbot_tui import defaults

            defaults.chat_model_path()  # MissingModelError says how to install it
        raise RecordError(entry.path, 0, f"model {spec!r} is registered but its file is gone")
    return entry.path


def make_generator(path: Path, n_ctx: int, max_tokens: int) -> Callable[[list[dict[str, str]]], str]:
    """A function messages -> reply, greedy, through the app's engine."""
    from teachbot_tui.engine.base import Options
    from teachbot_tui.engine.llama import LlamaEngine

    engine = LlamaEngine(path, n_ctx=n_ctx)
    options = Options(max_tokens=max_tokens, temperature=0.0)
    return lambda messages: "".join(engine.execute(messages, options))


# --- the command -------------------------------------------------------------------------------


@dataclass
class ModelReport:
    model: str
    path: str
    n: int
    similarity: dict[str, float]
    rouge_l: dict[str, float]
    length: dict[str, float]
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, samples: bool = False) -> dict[str, Any]:
        d = {"model": self.model, "path": self.path, "n": self.n, "similarity": self.similarity,
             "rouge_l": self.rouge_l, "length": self.length}
        if samples:
            d["samples"] = self.samples
        return d


def load_references(data: Path, limit: int | None = None) -> list[ChatRecord]:
    records = [r for _, r in read_records(data) if isinstance(r, ChatRecord)]
    if not records:
        raise RecordError(data, 0, "no chat records to evaluate on")
    return records[:limit] if limit else records


def evaluate(
    models: list[str],
    data: Path,
    max_tokens: int = 128,
    limit: int | None = None,
    system_prompt: str | None = None,
    n_ctx: int = 2048,
    progress: Callable[[str], None] | None = None,
) -> list[ModelReport]:
    offline.enforce()
    say = progress or (lambda _msg: None)
    records = load_references(data, limit)
    paths = [resolve_model(m) for m in models]  # fail on a bad name before any generation
    if system_prompt is None:
        from teachbot_tui import config

        system_prompt = config.load().system_prompt

    from sentence_transformers import SentenceTransformer

    from teachbot_tui import defaults

    embedder = SentenceTransformer(str(defaults.embedder_path()), device="cpu")
    references = [r.target for r in records]
    ref_vectors = embedder.encode(references, normalize_embeddings=True, batch_size=32)
    ref_words = [len(words(t)) for t in references]

    reports = []
    for name, path in zip(models, paths, strict=True):
        generate = make_generator(path, n_ctx, max_tokens)
        replies = []
        for i, record in enumerate(records, start=1):
            prompt = record.prompt
            if prompt[0]["role"] != "system":
                prompt = [{"role": "system", "content": system_prompt}, *prompt]
            replies.append(generate(prompt).strip())
            say(f"{name}: {i}/{len(records)}")
        vectors = embedder.encode(replies, normalize_embeddings=True, batch_size=32)
        similarity = [float(v @ r) for v, r in zip(vectors, ref_vectors, strict=True)]
        rouge = [rouge_l(c, r) for c, r in zip(replies, references, strict=True)]
        lengths = [len(words(c)) for c in replies]
        length = {
            "mean_words": round(statistics.fmean(lengths), 1),
            "min_words": min(lengths),
            "max_words": max(lengths),
            "reference_mean_words": round(statistics.fmean(ref_words), 1),
            "empty": sum(1 for c in replies if not c),
        }
        samples = [{"prompt": r.prompt[-1]["content"], "reference": r.target, "reply": c,
                    "similarity": round(s, 4), "rouge_l": round(g, 4)}
                   for r, c, s, g in zip(records, replies, similarity, rouge, strict=True)]
        reports.append(ModelReport(name, str(path), len(records), summary(similarity),
                                   summary(rouge), length, samples))
    return reports
