"""A function-backed fake chat model for UI tests (the engine itself is tested for real)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from .base import Cancel, Message, Options, Usage


class FakeEngine:
    """Replies with ``reply(messages)`` split into words, ``delay`` seconds apart."""

    def __init__(
        self,
        reply: Callable[[list[Message]], str] | str = "This is a fake reply [1].",
        delay: float = 0.0,
        name: str = "fake",
        n_ctx: int = 4096,
    ) -> None:
        self._reply = reply
        self.delay = delay
        self.name = name
        self.n_ctx = n_ctx
        self.calls: list[list[Message]] = []
        self.options: list[Options | None] = []  # each call's options

    def execute(
        self,
        messages: list[Message],
        options: Options | None = None,
        cancel: Cancel | None = None,
        usage: Usage | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.options.append(options)
        return self._run(messages, cancel, usage, progress)

    def _run(self, messages: list[Message], cancel: Cancel | None, usage: Usage | None,
             progress: Callable[[int, int], None] | None) -> Iterator[str]:
        text = self._reply(messages) if callable(self._reply) else self._reply
        pieces = text.split(" ")
        usage = usage if usage is not None else Usage()
        usage.prompt_tokens = self.count_prompt_tokens(messages)
        usage.finish_reason = "stop"
        if progress is not None:  # the prompt is "read" at once
            progress(0, usage.prompt_tokens)
            progress(usage.prompt_tokens, usage.prompt_tokens)
        for i, word in enumerate(pieces):
            if cancel is not None and cancel.is_set:
                usage.finish_reason = "cancelled"
                return
            if self.delay:
                time.sleep(self.delay)
            usage.decode_tokens += 1
            yield word if i == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return sum(self.count_tokens(m["content"]) + 4 for m in messages) + 2
