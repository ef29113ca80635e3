"""The training-record format shared by practice export and ``teachbot-train``.

One JSON object per line (JSONL). Two kinds of record:

* a **chat record** — the last assistant message is the target the model learns::

    {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...],
     "source": "practice", "meta": {...}, "feedback": "optional coach feedback"}

  ``feedback`` is kept for people reading the file; it is never trained on.

* a **preference pair** — a better and a worse reply to the same prompt::

    {"prompt": [messages...], "chosen": "...", "rejected": "...",
     "source": "practice", "meta": {...}}

Reading never raises a traceback-worthy error: every problem is a :class:`RecordError`
whose text is ``path:line: message``. This module is stdlib-only so the app can import it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")


class RecordError(Exception):
    """A record cannot be used; ``str()`` is ``path:line: message`` (``path: message`` when
    the problem is the whole file, ``line`` 0)."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line > 0 else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class ChatRecord:
    messages: list[dict[str, str]]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    feedback: str | None = None

    @property
    def target(self) -> str:
        """The reply the model learns: the last assistant message."""
        return self.messages[-1]["content"]

    @property
    def prompt(self) -> list[dict[str, str]]:
        """Everything before the target."""
        return self.messages[:-1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"messages": self.messages, "source": self.source, "meta": self.meta}
        if self.feedback is not None:
            d["feedback"] = self.feedback
        return d


@dataclass
class PreferencePair:
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "source": self.source,
            "meta": self.meta,
        }


Record = ChatRecord | PreferencePair


def _check_messages(messages: Any, what: str) -> list[dict[str, str]]:
    """Validate a message list; raise ValueError with a short reason."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{what} must be a non-empty list of messages")
    out = []
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, dict):
            raise ValueError(f"{what}[{i}] is not an object with role and content")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ValueError(
                f"{what}[{i}] has bad role {role!r} (use one of {', '.join(ROLES)})"
            )
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"{what}[{i}] ({role}) has empty or missing content")
        if role == "system" and i != 1:
            raise ValueError(f"{what}[{i}]: a system message may only come first")
        out.append({"role": role, "content": content})
    return out


def record_from_dict(obj: Any) -> Record:
    """Build a record from a parsed JSON object; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    source = obj.get("source", "")
    meta = obj.get("meta", {})
    if not isinstance(source, str):
        raise ValueError("source must be a string")
    if not isinstance(meta, dict):
        raise ValueError("meta must be an object")
    if "messages" in obj:
        messages = _check_messages(obj["messages"], "messages")
        if messages[-1]["role"] != "assistant":
            raise ValueError("the last message must be the assistant's reply (the target)")
        if not any(m["role"] == "user" for m in messages):
            raise ValueError("messages need at least one user message")
        feedback = obj.get("feedback")
        if feedback is not None and not isinstance(feedback, str):
            raise ValueError("feedback must be a string")
        return ChatRecord(messages, source, meta, feedback)
    if "prompt" in obj and "chosen" in obj:
        prompt = _check_messages(obj["prompt"], "prompt")
        if prompt[-1]["role"] != "user":
            raise ValueError("a preference pair's prompt must end with a user message")
        for key in ("chosen", "rejected"):
            value = obj.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{key} is missing or empty")
        if obj["chosen"].strip() == obj["rejected"].strip():
            raise ValueError("chosen and rejected are the same text")
        return PreferencePair(prompt, obj["chosen"], obj["rejected"], source, meta)
    raise ValueError(
        "not a training record: expected 'messages' (chat) or 'prompt'/'chosen'/'rejected' (pair)"
    )


def read_records(
    path: str | Path, on_error: Callable[[RecordError], None] | None = None
) -> Iterator[tuple[int, Record]]:
    """Yield ``(line number, record)`` for each non-blank line of a JSONL file.

    A bad line raises :class:`RecordError`, or, when ``on_error`` is given, is passed to it
    and skipped, so a caller can collect every error in one pass.
    """
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as exc:
        raise RecordError(p, 0, f"cannot be read ({exc.strerror})") from None
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):  # noqa: B007
                if not line.strip():
                    continue
                try:
                    record = record_from_dict(json.loads(line))
                except json.JSONDecodeError as exc:
                    err = RecordError(p, lineno, f"not valid JSON ({exc.msg}, column {exc.colno})")
                except ValueError as exc:
                    err = RecordError(p, lineno, str(exc))
                else:
                    yield lineno, record
                    continue
                if on_error is None:
                    raise err
                on_error(err)
        except UnicodeDecodeError:
            raise RecordError(p, lineno + 1, "not UTF-8 text") from None


def write_jsonl(path: str | Path, records: Iterable[Record | dict[str, Any]]) -> int:
    """Write records as JSONL atomically (temporary file + rename); return the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in records:
                d = r if isinstance(r, dict) else r.to_dict()
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
