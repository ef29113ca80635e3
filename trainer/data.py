"""``teachbot-train prepare``: read, validate and split training data.

Inputs (a file or a folder of them):

* scenario files — the seed guide's ``{name, description, expected_response, category}``
  (one object or a list), and practice-mode scenario YAML/JSON;
* chat JSONL (``{"messages": [...]}``) and practice exports (chat records + preference pairs);
* instruction JSONL: ``instruction/response``, ``instruction/output`` (+ optional ``input``),
  ``prompt/completion`` or ``input/output``;
* CSV with those columns (or the seed's scenario columns).

Everything becomes a :class:`~teachbot_tui.training_format.ChatRecord` (or a
:class:`~teachbot_tui.training_format.PreferencePair`). Validation follows the seed guide
(required fields, no empty values, instruction at least 10 characters) and adds duplicates,
bad roles and over-length records. Every problem is reported as ``file:line: message``.

Output: ``DIR/train.jsonl``, ``DIR/val.jsonl``, ``DIR/pairs.jsonl`` (when there are pairs) and
``DIR/stats.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachbot_tui.training_format import (
    ChatRecord,
    PreferencePair,
    Record,
    RecordError,
    record_from_dict,
    write_jsonl,
)

SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".csv")
MIN_INSTRUCTION_CHARS = 10  # the seed guide's rule
DEFAULT_MAX_TOKENS = 2048  # also train's default --max-len
CHARS_PER_TOKEN = 4  # the heuristic when no tokenizer is given
SCENARIO_QUESTION = "How should I respond?"

# Record shapes other than chat/pair, as data: (required keys, what the keys mean).
# The first shape whose keys are all present wins; "instruction/output" is Alpaca's.
SEED_SCENARIO = ("name", "description", "expected_response", "category")
INSTRUCTION_SHAPES: list[tuple[str, str]] = [
    ("instruction", "response"),
    ("instruction", "output"),
    ("prompt", "completion"),
    ("input", "output"),
]


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


# --- converting one object -------------------------------------------------------------------


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        raise ValueError(f"missing field {key!r}")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"field {key!r} must be text")
    value = str(value)
    if not value.strip():
        raise ValueError(f"field {key!r} is empty")
    return value


def _missing_fields(obj: dict[str, Any]) -> str:
    """Say which fields are missing for the shape the object most looks like."""
    shapes = [*INSTRUCTION_SHAPES, SEED_SCENARIO]  # on a tie, the commoner shape
    best = max(shapes, key=lambda s: sum(k in obj for k in s))
    if not any(k in obj for k in best):
        return (
            "unknown record: expected messages, instruction/response, prompt/completion, "
            "input/output or a scenario (name, description, expected_response, category)"
        )
    missing = [k for k in best if k not in obj]
    return "missing field " + ", ".join(repr(k) for k in missing)


def convert(obj: Any, source: str) -> tuple[Record, str]:
    """Turn one parsed object into a record and its category; ValueError says why not."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "messages" in obj or ("prompt" in obj and "chosen" in obj):
        record = record_from_dict(obj)
        record.source = record.source or source
        return record, str(record.meta.get("category", ""))
    category = str(obj.get("category") or "")
    meta = {"category": category} if category else {}
    if all(k in obj for k in SEED_SCENARIO[:3]):
        name, description = _text(obj, "name"), _text(obj, "description")
        response, category = _text(obj, "expected_response"), _text(obj, "category")
        # The seed guide's instruction format, ending in the question a teacher asks.
        user = f"Scenario: {name}\nDescription: {description}\n{SCENARIO_QUESTION}"
        messages = [{"role": "user", "content": user},
                    {"role": "assistant", "content": response}]
        return ChatRecord(messages, str(obj.get("source") or source), {"category": category}), category
    for ask, answer in INSTRUCTION_SHAPES:
        if ask in obj and answer in obj:
            user = _text(obj, ask)
            if ask == "instruction" and answer == "output" and str(obj.get("input") or "").strip():
                user = f"{user}\n\n{obj['input']}"
            messages = [{"role": "user", "content": user},
                        {"role": "assistant", "content": _text(obj, answer)}]
            system = obj.get("system")
            if isinstance(system, str) and system.strip():
                messages.insert(0, {"role": "system", "content": system})
            return ChatRecord(messages, str(obj.get("source") or source), meta), category
    raise ValueError(_missing_fields(obj))


def _describe_student(student: Any) -> str:
    def text(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)

    parts = [str(getattr(student, "name", "a student"))]
    age = getattr(student, "age_or_grade", None)
    if age:
        parts[0] += f" ({age})"
    for label in ("traits", "needs"):
        value = getattr(student, label, None)
        if value:
            parts.append(f"{label}: {text(value)}")
    return "; ".join(parts)


def scenario_record(scenario: Any, system_prompt: str, source: str) -> ChatRecord:
    """A practice-mode scenario as a chat record: the situation, the students, the question,
    and the expert response as the target."""
    students = "\n".join(f"- {_describe_student(s)}" for s in getattr(scenario, "students", []))
    user = str(scenario.situation).strip()
    if students:
        user += f"\n\nStudents:\n{students}"
    user += f"\n\n{SCENARIO_QUESTION}"
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": user},
        {"role": "assistant", "content": scenario.expert_response.as_text()},
    ]
    meta = {"category": str(getattr(scenario, "category", "") or ""),
            "scenario": str(getattr(scenario, "id", "") or "")}
    return ChatRecord(messages, source, meta)


# --- reading files ---------------------------------------------------------------------------

Found = tuple[int, Any]  # (line, parsed object)


def _json_items(text: str) -> list[Found]:
    """The top-level object(s) of a JSON document with the line each starts on."""
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip(0)
    if not text.startswith("[", pos):
        obj, end = decoder.raw_decode(text, pos)
        if skip(end) != len(text):
            raise json.JSONDecodeError("extra data after the object", text, skip(end))
        return [(line_of(pos), obj)]
    items: list[Found] = []
    pos = skip(pos + 1)
    if text.startswith("]", pos):
        return items
    while True:
        obj, end = decoder.raw_decode(text, pos)
        items.append((line_of(pos), obj))
        pos = skip(end)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
        elif text.startswith("]", pos):
            return items
        else:
            raise json.JSONDecodeError("expected ',' or ']'", text, pos)


def _is_practice_scenario(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        "scenarios" in obj or ("situation" in obj and "expert_response" in obj)
    )


def _practice_file(path: Path, system_prompt: str) -> Iterator[tuple[int, Record | RecordError]]:
    try:
        from teachbot_tui.practice.scenarios import validate_file
    except ImportError:
        yield 0, RecordError(path, 0, "practice scenario support is not installed")
        return
    try:
        scenarios = validate_file(path)
    except Exception as exc:  # a ScenarioError: path, line, field, message
        field_ = getattr(exc, "field", "")
        message = getattr(exc, "message", None) or str(exc).strip() or type(exc).__name__
        line = getattr(exc, "line", None) or 0
        yield 0, RecordError(path, line, f"{field_}: {message}" if field_ else message)
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for scenario in scenarios:
        sid = str(getattr(scenario, "id", ""))
        line = next((i for i, text in enumerate(lines, 1) if sid and sid in text), 1)
        yield line, scenario_record(scenario, system_prompt, path.name)


def _csv_rows(path: Path) -> Iterator[Found | RecordError]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        usable = [*INSTRUCTION_SHAPES, SEED_SCENARIO]  # on a tie, the commoner shape
        if not any(all(k in header for k in shape) for shape in usable):
            best = max(usable, key=lambda s: sum(k in header for k in s))
            if any(k in header for k in best):
                need = "missing column " + ", ".join(repr(k) for k in best if k not in header)
            else:
                need = ("no usable columns: need instruction,response (or prompt,completion or "
                        "input,output, or name,description,expected_response,category)")
            yield RecordError(path, 1, f"{need} (columns: {', '.join(header) or 'none'})")
            return
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                yield RecordError(path, start, "more values than columns")
            else:
                yield start, {k: v for k, v in row.items() if v is not None and v != ""}
            start = reader.line_num + 1


def read_file(path: Path, system_prompt: str) -> Iterator[tuple[int, Record, str] | RecordError]:
    """Yield ``(line, record, category)`` for each example of one file, or a RecordError."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield RecordError(path, 0, f"unsupported file type {suffix or '(none)'}; use {', '.join(SUFFIXES)}")
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        yield RecordError(path, 0, "not UTF-8 text")
        return
    except OSError as exc:
        yield RecordError(path, 0, f"cannot be read ({exc.strerror})")
        return

    found: list[Found | RecordError] = []
    if suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    found.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    found.append(RecordError(path, lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"))
    elif suffix == ".csv":
        found.extend(_csv_rows(path))
    elif suffix == ".json":
        try:
            items = _json_items(text)
        except json.JSONDecodeError as exc:
            yield RecordError(path, exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno})")
            return
        if items and _is_practice_scenario(items[0][1]):
            yield from _practice(path, system_prompt)
            return
        found.extend(items)
    else:  # YAML: practice-mode scenarios
        yield from _practice(path, system_prompt)
        return

    for item in found:
        if isinstance(item, RecordError):
            yield item
            continue
        lineno, obj = item
        try:
            record, category = convert(obj, path.name)
        except ValueError as exc:
            yield RecordError(path, lineno, str(exc))
        else:
            yield lineno, record, category


def _practice(path: Path, system_prompt: str) -> Iterator[tuple[int, Record, str] | RecordError]:
    for line, item in _practice_file(path, system_prompt):
        if isinstance(item, RecordError):
            yield item
        else:
            yield line, item, str(item.meta.get("category", ""))


def expand_inputs(inputs: list[Path]) -> Iterator[Path | RecordError]:
    for p in inputs:
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            if not files:
                yield RecordError(p, 0, f"no training files ({', '.join(SUFFIXES)}) in this folder")
            yield from files
        elif p.exists():
            yield p
        else:
            yield RecordError(p, 0, "no such file or folder")


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
        if isinstance(path, RecordError):
            errors.append(path)
            continue
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
