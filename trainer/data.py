"""``teachbot-train prepare``: read, validate and split training data.

Inputs are files or folders of them, in the shapes :mod:`trainer.inputs` reads. Everything
becomes a :class:`~teachbot_tui.training_format.ChatRecord` (or a
:class:`~teachbot_tui.training_format.PreferencePair`). Validation checks required fields, empty
values and the instruction's length (at least 10 characters), and finds duplicates, bad roles
and over-length records. Every problem is reported as ``file:line: message``.

Output: ``DIR/train.jsonl``, ``DIR/val.jsonl``, ``DIR/pairs.jsonl`` (when there are pairs) and
``DIR/stats.json``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachbot_tui.training_format import (
    ChatRecord,
    PreferencePair,
    Record,
    RecordError,
    write_jsonl,
)
from trainer.inputs import expand_inputs, read_file

MIN_INSTRUCTION_CHARS = 10  # the shortest question worth training on
DEFAULT_MAX_TOKENS = 2048  # also train's default --max-len
CHARS_PER_TOKEN = 4  # the heuristic when no tokenizer is given


@dataclass
class Example:
    record: Record
    file: str
    line: int
    category: str = ""
    tokens: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class PrepareReport:
    out: Path
    train: int = 0
    val: int = 0
    pairs: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    written: bool = False
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "written": self.written,
            "train": self.train,
            "val": self.val,
            "pairs": self.pairs,
            "skipped": self.skipped,
            "errors": self.errors,
            "stats": self.stats,
        }


# --- validation --------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def dedup_key(record: Record) -> str:
    """Records that teach the same thing: same non-system turns (whitespace and case aside)."""
    if isinstance(record, ChatRecord):
        turns = [(m["role"], _norm(m["content"])) for m in record.messages if m["role"] != "system"]
    else:
        turns = [(m["role"], _norm(m["content"])) for m in record.prompt if m["role"] != "system"]
        turns += [("chosen", _norm(record.chosen)), ("rejected", _norm(record.rejected))]
    return json.dumps(turns, ensure_ascii=False)


def char_token_count(messages: list[dict[str, str]], system_prompt: str) -> int:
    """Rough token count of a formatted conversation: characters / 4 plus per-turn overhead."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return sum(len(m["content"]) // CHARS_PER_TOKEN + 5 for m in messages) + 3


def _messages(record: Record) -> list[dict[str, str]]:
    if isinstance(record, ChatRecord):
        return record.messages
    return [*record.prompt, {"role": "assistant", "content": max(record.chosen, record.rejected, key=len)}]


def validate(
    examples: list[Example], count_tokens: Callable[[list[dict[str, str]]], int], max_tokens: int
) -> tuple[list[Example], list[RecordError]]:
    """Apply the dataset rules; return the good examples and the errors (file:line each)."""
    good: list[Example] = []
    errors: list[RecordError] = []
    seen: dict[str, str] = {}
    for ex in examples:
        messages = _messages(ex.record)
        users = [m for m in messages if m["role"] == "user"]
        if len(users[-1]["content"].strip()) < MIN_INSTRUCTION_CHARS:
            errors.append(RecordError(ex.file, ex.line,
                f"instruction too short ({len(users[-1]['content'].strip())} characters; "
                f"at least {MIN_INSTRUCTION_CHARS})"))
            continue
        key = dedup_key(ex.record)
        if key in seen:
            errors.append(RecordError(ex.file, ex.line, f"duplicate of {seen[key]}"))
            continue
        ex.tokens = count_tokens(messages)
        if ex.tokens > max_tokens:
            errors.append(RecordError(ex.file, ex.line,
                f"too long: {ex.tokens} tokens, the limit is {max_tokens} (--max-tokens)"))
            continue
        seen[key] = ex.where
        good.append(ex)
    return good, errors


# --- split and stats ---------------------------------------------------------------------------


def split(examples: list[Example], val_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Deterministic split: an example goes to validation by the hash of (seed, content), so
    the same data and seed always give the same split, whatever the input order."""
    if not examples or val_fraction <= 0:
        return list(examples), []
    n_val = round(len(examples) * val_fraction)
    n_val = min(max(n_val, 1), len(examples) - 1) if len(examples) > 1 else 0

    def rank(ex: Example) -> str:
        return hashlib.sha256(f"{seed}\0{dedup_key(ex.record)}".encode()).hexdigest()

    val_ids = {id(ex) for ex in sorted(examples, key=rank)[:n_val]}
    return [e for e in examples if id(e) not in val_ids], [e for e in examples if id(e) in val_ids]


def length_stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "mean": 0.0, "median": 0.0, "p95": 0, "max": 0, "total": 0}
    ordered = sorted(values)
    return {
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 1),
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "total": sum(ordered),
    }


def make_stats(train: list[Example], val: list[Example], pairs: list[Example], method: str) -> dict[str, Any]:
    chats = train + val
    return {
        "records": len(chats),
        "train": len(train),
        "val": len(val),
        "pairs": len(pairs),
        "by_source": dict(Counter(e.record.source for e in chats + pairs).most_common()),
        "by_category": dict(Counter(e.category or "(none)" for e in chats + pairs).most_common()),
        "tokens": length_stats([e.tokens for e in chats]),
        "token_count": method,
    }


# --- the command -------------------------------------------------------------------------------


def prepare(
    inputs: list[Path],
    out: Path,
    val_fraction: float = 0.1,
    seed: int = 0,
    max_tokens: int | None = None,
    base: str | None = None,
    skip_invalid: bool = False,
    system_prompt: str | None = None,
) -> PrepareReport:
    """Read, validate and split ``inputs`` into ``out``. Nothing is written when there are
    errors, unless ``skip_invalid`` (then bad records are dropped and reported)."""
    if not 0 <= val_fraction < 1:
        raise RecordError("--val-fraction", 0, f"must be at least 0 and below 1 (got {val_fraction})")
    if system_prompt is None:  # the app's setting: what train adds and the app sends
        from teachbot_tui import config

        system_prompt = config.load().system_prompt

    errors: list[RecordError] = []
    examples: list[Example] = []
    for path in expand_inputs(inputs):
        for item in read_file(path, system_prompt):
            if isinstance(item, RecordError):
                errors.append(item)
            else:
                line, record, category = item
                examples.append(Example(record, str(path), line, category))

    if base is not None:
        from trainer.chat import load_tokenizer, prompt_and_target_ids

        tokenizer, max_len = load_tokenizer(base)
        max_tokens = max_tokens or min(max_len, DEFAULT_MAX_TOKENS)
        method = f"tokenizer of {base}"

        def count(messages: list[dict[str, str]]) -> int:
            prompt, target = prompt_and_target_ids(tokenizer, messages, system_prompt)
            return len(prompt) + len(target)
    else:
        max_tokens = max_tokens or DEFAULT_MAX_TOKENS
        method = f"estimate (characters / {CHARS_PER_TOKEN})"

        def count(messages: list[dict[str, str]]) -> int:
            return char_token_count(messages, system_prompt)

    good, invalid = validate(examples, count, max_tokens)
    errors.extend(invalid)
    chats = [e for e in good if isinstance(e.record, ChatRecord)]
    pairs = [e for e in good if isinstance(e.record, PreferencePair)]
    train, val = split(chats, val_fraction, seed)

    report = PrepareReport(out=out, errors=[str(e) for e in errors], skipped=len(errors))
    report.stats = make_stats(train, val, pairs, method)
    report.stats["max_tokens"] = max_tokens
    report.train, report.val, report.pairs = len(train), len(val), len(pairs)
    if (errors and not skip_invalid) or not chats:
        return report

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "train.jsonl", (e.record for e in train))
    write_jsonl(out / "val.jsonl", (e.record for e in val))
    if pairs:
        write_jsonl(out / "pairs.jsonl", (e.record for e in pairs))
    else:
        (out / "pairs.jsonl").unlink(missing_ok=True)
    stats = dict(report.stats, inputs=[str(p) for p in inputs], seed=seed,
                 val_fraction=val_fraction, skipped=report.skipped, errors=report.errors)
    tmp = out / ".stats.json.tmp"
    tmp.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / "stats.json")
    report.written = True
    return report
