"""Errors a teacher can fix, and how the ``teachbot`` and ``teachbot-train`` commands report
them.

Every command, and the app when it cannot start, shows such an error as one line on stderr
(``teachbot: <what to do>``, ``teachbot-train: <what to do>``) and exits 1, never with a
traceback. Importing this module is cheap: the error classes are imported only when an
exception needs sorting.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's to fix: one line on stderr, exit 1, no traceback."""
    from .catalog import CatalogError
    from .config import ConfigError
    from .conversations import ConversationError
    from .defaults import MissingModelError
    from .engine.base import EngineError
    from .gguf_info import GGUFError
    from .hub import HubError
    from .library.types import LibraryError
    from .packs import PackError
    from .practice.scenarios import ScenarioError
    from .practice.session import PracticeError
    from .registry import RegistryError

    return (CatalogError, ConfigError, ConversationError, EngineError, GGUFError, HubError,
            LibraryError, MissingModelError, PackError, PracticeError, RegistryError,
            ScenarioError)


@contextmanager
def reported_as_one_line(prog: str = "teachbot",
                         also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Run the body; a user error (one of :func:`user_errors`, or of ``also``: a command's own
    error classes) becomes ``prog: message`` and exit 1, Ctrl-C exit 130, a closed output
    pipe exit 0. Any other exception is a bug and keeps its traceback."""
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except BrokenPipeError:
        raise SystemExit(0) from None
    except Exception as exc:
        if not isinstance(exc, (*user_errors(), *also)):
            raise
        from .text import one_line

        sys.stderr.write(f"{prog}: {one_line(exc, limit=None)}\n")
        raise SystemExit(1) from None
