"""The ``teachbot`` console script: the app when run bare, the subcommands otherwise.

Kept tiny on purpose: a bare ``teachbot`` must paint within half a second, so nothing here
imports typer (or pydantic through it) unless a subcommand was asked for.
"""

from __future__ import annotations

import sys


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's to fix: one line on stderr, exit 1, no traceback."""
    from .answers import EngineError
    from .config import ConfigError
    from .conversations import ConversationError
    from .defaults import MissingModelError
    from .gguf_info import GGUFError
    from .library.types import LibraryError
    from .registry import RegistryError

    errors: list[type[BaseException]] = [ConfigError, ConversationError, EngineError,
                                         GGUFError, LibraryError, MissingModelError,
                                         RegistryError]
    try:
        from .practice.scenarios import ScenarioError
        from .practice.session import PracticeError

        errors += [ScenarioError, PracticeError]
    except ImportError:
        pass
    return tuple(errors)


def main() -> None:
    from . import offline

    offline.enforce()
    try:
        if sys.argv[1:]:
            from .cli import app, register_practice

            register_practice()
            app()
        else:
            from .tui.app import run

            run()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except BrokenPipeError:
        raise SystemExit(0) from None
    except Exception as exc:
        if isinstance(exc, user_errors()):
            sys.stderr.write(f"teachbot: {exc}\n")
            raise SystemExit(1) from None
        raise
