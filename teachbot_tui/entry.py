"""The ``teachbot`` console script: the app when run bare, the subcommands otherwise.

Kept tiny on purpose: a bare ``teachbot`` must paint within half a second, so it imports
only the app; the command line (typer, and pydantic through it) is imported only when a
subcommand was asked for.
"""

from __future__ import annotations

import sys


def main() -> None:
    from . import offline

    offline.enforce()
    if sys.argv[1:]:
        from .cli import main as run_command

        run_command()
        return
    from .errors import reported_as_one_line
    from .tui.app import run

    with reported_as_one_line():
        run()
