"""What the ``teachbot`` command's parts share: JSON and terminal-safe output, the home
folder's paths and settings, and opening the library and the chat model.

The root command is :mod:`teachbot_tui.cli`; it registers the library commands
(:mod:`teachbot_tui.cli_library`) and ``teachbot practice`` (:mod:`teachbot_tui.practice.cli`),
which import from here, never from the root.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from .config import Settings
    from .engine.llama import LlamaEngine
    from .library import Library
    from .paths import Paths

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def out(text: str) -> None:
    """Write document or model text to stdout; on a terminal, without control sequences."""
    from .text import strip_controls

    sys.stdout.write(strip_controls(text) if sys.stdout.isatty() else text)


def err(text: str) -> None:
    """Write one message line to stderr, without control sequences."""
    from .text import strip_controls

    sys.stderr.write(strip_controls(text) + "\n")
    sys.stderr.flush()


def home_paths() -> Paths:
    from .paths import Paths

    return Paths.from_env()


def load_settings() -> Settings:
    from . import config

    return config.load(home_paths())


def open_library() -> Library:
    from .library import Library

    return Library(home_paths(), load_settings())


def load_engine(model: str | None, settings: Any, progress: Any = None) -> LlamaEngine:
    """The chat model ``model`` (a registered name; default: the configured one)."""
    from .engine.llama import LlamaEngine
    from .registry import ModelRegistry

    entry = ModelRegistry(home_paths()).get(model or settings.chat_model)
    if entry.builtin and not entry.exists:
        from . import defaults

        defaults.chat_model_path()  # raises MissingModelError with the install command
    return LlamaEngine.load(entry, settings, progress)
