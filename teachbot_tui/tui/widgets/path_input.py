"""Boxes for a line of text: :class:`HintInput` (its hint fits the box) and
:class:`PathInput`, a path box that completes from the file system (Tab or → accepts the
suggestion)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input

from .fit import fit_placeholder, hint_wordings

MAX_ENTRIES = 5000


def complete_path(value: str, dirs_only: bool = False,
                  suffixes: tuple[str, ...] = ()) -> str | None:
    """The completion of ``value`` (a path being typed), or None.

    Completes to the longest common prefix of the matching entries; a single directory gets
    a trailing slash. ``~`` is understood and kept. Hidden entries are offered only once a
    dot has been typed.
    """
    if not value:
        return None
    expanded = os.path.expanduser(value)
    head, tail = os.path.split(expanded)
    base = head or "."
    names: list[tuple[str, bool]] = []
    try:
        with os.scandir(base) as it:
            for i, entry in enumerate(it):
                if i >= MAX_ENTRIES:
                    break
                if not entry.name.startswith(tail):
                    continue
                if entry.name.startswith(".") and not tail.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if dirs_only and not is_dir:
                    continue
                if not is_dir and suffixes and not entry.name.lower().endswith(suffixes):
                    continue
                names.append((entry.name, is_dir))
    except OSError:
        return None
    if not names:
        return None
    if len(names) == 1:
        name, is_dir = names[0]
        rest = name[len(tail):] + ("/" if is_dir else "")
    else:
        common = os.path.commonprefix([n for n, _ in names])
        rest = common[len(tail):]
    return value + rest if rest else None


class HintInput(Input):
    """An ``Input`` with placeholders from the longest wording to the shortest."""

    def __init__(self, value: str = "", *, placeholders: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        if placeholders:
            kwargs.setdefault("placeholder", placeholders[0])
        super().__init__(value, **kwargs)
        self.placeholders = placeholders or hint_wordings(self.placeholder)

    def on_resize(self, event: events.Resize) -> None:
        fit_placeholder(self, self.placeholders)


class PathSuggester(Suggester):
    def __init__(self, dirs_only: bool = False, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.dirs_only = dirs_only
        self.suffixes = suffixes

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value, self.dirs_only, self.suffixes)


class PathInput(HintInput):
    """An ``Input`` with file-system completion; Tab accepts the completion."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete path", show=False),
    ]

    def __init__(self, value: str = "", dirs_only: bool = False,
                 suffixes: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(value, suggester=PathSuggester(dirs_only, suffixes), **kwargs)

    def action_complete(self) -> None:
        suggestion = self._suggestion
        if suggestion and len(suggestion) > len(self.value):
            self.value = suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
