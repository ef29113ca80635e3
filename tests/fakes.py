"""Fake chat models shared by the practice tests (the real coach, session and CLI run on them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from teachbot_tui.engine.base import Cancel, Message, Options, Usage
from teachbot_tui.engine.fake import FakeEngine


def fake_json(schema: dict[str, Any]) -> Any:
    """The simplest value valid for a (grammar-style) schema."""
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type")
    if kind == "object":
        return {k: fake_json(v) for k, v in schema["properties"].items()}
    if kind == "array":
        return [fake_json(schema["items"]) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return 3
    return "Speak with the student privately and calmly"


class JsonFakeEngine(FakeEngine):
    """A FakeEngine that returns valid JSON whenever ``options.json_schema`` is set (or the
    given ``json_reply`` text), and ``reply`` otherwise."""

    def __init__(self, reply: Any = "I don't know... maybe?", json_reply: Any = None,
                 **kw: Any) -> None:
        super().__init__(reply, **kw)
        self.json_reply = json_reply
        self.options: list[Options | None] = []

    def execute(self, messages: list[Message], options: Options | None = None,
                cancel: Cancel | None = None, usage: Usage | None = None) -> Iterator[str]:
        self.options.append(options)
        if options is not None and options.json_schema is not None:
            self.calls.append(list(messages))
            if callable(self.json_reply):
                text = self.json_reply(options.json_schema, len(self.calls))
            elif self.json_reply is not None:
                text = self.json_reply
            else:
                text = json.dumps(fake_json(options.json_schema))
            return iter([text])
        return super().execute(messages, options, cancel, usage)
