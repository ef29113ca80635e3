"""The small interface every chat model offers (in the spirit of simonw/llm's ``execute``).

The UI, practice mode and the CLIs talk to a :class:`ChatModel`; the real one is
:class:`teachbot_tui.engine.llama.LlamaEngine`, and UI tests use
:class:`teachbot_tui.engine.fake.FakeEngine`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


class EngineError(Exception):
    """The model cannot be loaded or run; the message is one line saying what to do."""


class Cancel:
    """A cancel flag shared between the caller and a running generation.

    ``execute`` checks it between tokens, so a generation stops within one token's time
    (a few ms for small models) of :meth:`set`; while a prompt is read, the real engine also
    aborts the evaluation in progress.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass
class Options:
    max_tokens: int = 512
    temperature: float = 0.3
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    """Constrain the output to JSON matching this schema (llama.cpp grammar)."""
    adapter: bool = True
    """Apply the model's LoRA adapter, if it has one. The bundled model's adapter is trained
    for answers from passages only, so practice (role-play, feedback) and answers without
    passages turn it off."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    prompt_eval_ms: float = 0.0
    cached_tokens: int = 0
    decode_tokens: int = 0
    decode_ms: float = 0.0
    finish_reason: str = ""  # "stop", "length" or "cancelled"


@runtime_checkable
class ChatModel(Protocol):
    name: str
    n_ctx: int

    def execute(
        self,
        messages: list[Message],
        options: Options | None = None,
        cancel: Cancel | None = None,
        usage: Usage | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are decoded; fills ``usage`` when done.
        ``progress(read, to_read)`` is called while the prompt is read (prompt tokens)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens the formatted chat prompt (with the generation prompt) takes."""
        ...

    # An engine may also offer (the Assistant uses them when present):
    #   prompt_speed() -> float: prompt tokens it reads per second, measured;
    #   cached_tokens(messages) -> int: tokens of that prompt it holds already (not re-read).
