"""The numbered sources of an answer: file, page, heading, snippet; Enter opens the passage."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..keys import bindings
from ..text import safe_line, short_line, storable

SOURCE_KEYS = ("n", "path", "page", "heading", "snippet", "score", "chunk_id", "cited")


def source_dict(source: Any) -> dict[str, Any]:
    """A source (the Assistant's ``Source`` or a stored dict) as a plain dict of the fields
    shown and stored (not the passage's full text: that is one key away, in the library)."""
    if isinstance(source, dict):
        data = dict(source)
    elif dataclasses.is_dataclass(source) and not isinstance(source, type):
        data = dataclasses.asdict(source)
    else:
        data = {k: getattr(source, k, None) for k in SOURCE_KEYS}
    return {k: storable(v) if isinstance(v, str) else v
            for k, v in ((k, data.get(k)) for k in SOURCE_KEYS)}


def short_path(path: str) -> str:
    try:
        p = Path(path)
        home = Path.home()
        if p.is_absolute() and p.is_relative_to(home):
            return "~/" + str(p.relative_to(home))
    except (ValueError, OSError, RuntimeError):
        pass
    return path


def where(source: dict[str, Any]) -> str:
    """``file.pdf · p. 3 · Heading · ~/folder`` for one source: the file name first, its
    folder last (a long folder then wraps or is cut where it matters least)."""
    path = str(source.get("path") or "?")
    name = Path(path).name or path
    parts = [safe_line(name)]
    page = source.get("page")
    if page not in (None, "", 0):
        parts.append(f"p. {page}")
    heading = short_line(source.get("heading") or "", 80)
    if heading:
        parts.append(heading)
    folder = str(Path(path).parent) if name != path else ""
    if folder and folder != ".":
        parts.append("in " + safe_line(short_path(folder)))
    return " · ".join(parts)


def source_content(source: dict[str, Any], snippet_width: int = 160) -> Content:
    n = source.get("n", "?")
    cited = source.get("cited")
    parts: list[str | tuple[str, str]] = [(f"[{n}] ", "bold $accent"), (where(source), "bold")]
    score = source.get("score")
    if isinstance(score, (int, float)):
        parts.append((f"  {score:.2f}", "$text-muted"))
    if cited:
        parts.append(("  cited", "$success"))
    snippet = short_line(source.get("snippet") or "", snippet_width)
    if snippet:
        parts.append(("\n    " + snippet, "$text-muted"))
    return Content.assemble(*parts)


class SourcesList(OptionList):
    """One answer's sources. Enter (or a click) asks to open the passage."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("sources")

    DEFAULT_CSS = """
    SourcesList { height: auto; max-height: 16; border: none; padding: 0 1; margin: 0 0 0 2;
                  background: $surface; }
    SourcesList:focus { border: none; background-tint: $foreground 4%; }
    """

    class OpenPassage(Message):
        def __init__(self, source: dict[str, Any]) -> None:
            super().__init__()
            self.source = source

    def __init__(self, sources: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources: list[dict[str, Any]] = []
        if sources:
            self.set_sources(sources)

    def set_sources(self, sources: list[dict[str, Any]]) -> None:
        self.sources = [source_dict(s) for s in sources]
        self.set_options(Option(source_content(s), id=f"s{i}")
                         for i, s in enumerate(self.sources))

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_open(self) -> None:
        index = self.highlighted if self.highlighted is not None else 0
        if index is not None and 0 <= index < len(self.sources):
            self.post_message(self.OpenPassage(self.sources[index]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.sources):
            self.post_message(self.OpenPassage(self.sources[event.option_index]))
