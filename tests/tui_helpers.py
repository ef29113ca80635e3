"""Helpers for the TUI tests (not a test module): the app on a tmp TEACHBOT_HOME with the
package's FakeEngine as the chat model, the real ``Assistant`` (prompt, fences, citations,
sources) and a small real ``Library`` (SQLite, hnswlib and the real embedder) of two
documents with long paths.

The library is imported once per test process into a template folder and copied for each
test, so every test gets its own library without paying for the import again.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from teachbot_tui.config import Settings
from teachbot_tui.engine.base import Cancel
from teachbot_tui.engine.fake import FakeEngine
from teachbot_tui.library.types import (
    CollectionInfo,
    DocumentInfo,
    Hit,
    ImportReport,
    Passage,
)
from teachbot_tui.paths import Paths

DOC_TEXT = (
    "# Behaviour plan for Year 7\n\n"
    "## Disruption\n\n"
    "When a student consistently disrupts class, speak to them privately, name the behaviour, "
    "and agree on a signal. Praise the first improvement within the same lesson.\n\n"
    "Follow up with the family after three incidents.\n\n"
    "## Quiet students\n\n"
    "A shy student who will not speak up in class needs wait time: ask the question, wait, "
    "let them rehearse the answer with a partner first, and praise their thinking privately "
    "and specifically."
)
CHUNK = "When a student consistently disrupts class, speak to them privately"
FRACTIONS_TEXT = (
    "# Equivalent fractions\n\n"
    "Give every pair of students three paper strips. Fold one into halves, one into quarters "
    "and one into eighths, then compare the strips to find equal lengths."
)
POLICY_DIR = ("Documents/school-year-2026-2027/year-7-science-and-maths/"
              "behaviour-and-classroom-management-policies")
POLICY_NAME = "behaviour-plan-for-students-who-consistently-disrupt-class.md"
LESSON_DIR = "Documents/lessons/fractions"
LESSON_NAME = "introducing-equivalent-fractions-with-paper-strips.md"
IMPORTED_AT = "2026-09-01T10:00:00Z"
"""Every template document's import date (fixed, so pictures of the library are stable)."""
LONG_TITLE = ("My Year 7 class gets noisy after lunch every single day. What routine do my "
              "disruptive students need to settle quickly?")


@cache
def embedder() -> Any:
    """The real default embedder (all-MiniLM-L6-v2), loaded once per test process."""
    from teachbot_tui import defaults
    from teachbot_tui.library.embedder import Embedder

    emb = Embedder(defaults.embedder_path())
    _ = emb.model
    return emb


@cache
def template() -> Path:
    """A folder with ``home/`` (the documents) and ``data/`` (their library), made once."""
    from teachbot_tui.library import Library

    root = Path(tempfile.mkdtemp(prefix="teachbot-tui-template-"))
    atexit.register(shutil.rmtree, root, True)
    home = root / "home"
    policies, lessons = home / POLICY_DIR, home / LESSON_DIR
    policies.mkdir(parents=True)
    lessons.mkdir(parents=True)
    (policies / POLICY_NAME).write_text(DOC_TEXT, encoding="utf-8")
    (lessons / LESSON_NAME).write_text(FRACTIONS_TEXT, encoding="utf-8")
    paths = Paths(root / "config", root / "data", root / "cache").ensure()
    lib = Library(paths, Settings(), embedder=embedder())
    try:
        for folder, collection in ((policies, "policies"), (lessons, "lessons")):
            report = lib.import_paths([folder], collection=collection)
            assert report.added == 1 and not report.failed, report
    finally:
        lib.close()
    con = sqlite3.connect(paths.library_dir / "library.db")
    with con:
        con.execute("UPDATE documents SET imported_at = ?", (IMPORTED_AT,))
    con.close()
    return root


def template_home() -> Path:
    """The folder the template documents live under (as ``~`` in pictures of the app)."""
    return template() / "home"


def policy_path() -> Path:
    return template_home() / POLICY_DIR / POLICY_NAME


def home_paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache")


def real_library(tmp_path: Path, settings: Settings | None = None, cls: Any = None) -> Any:
    """A copy of the template library in ``tmp_path``, opened with the shared embedder
    (as ``cls``, a subclass of ``Library``, if given)."""
    from teachbot_tui.library import Library

    paths = home_paths(tmp_path)
    if not paths.library_dir.exists():
        paths.library_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(template() / "data" / paths.library_dir.name, paths.library_dir)
    return (cls or Library)(paths.ensure(), settings or Settings(), embedder=embedder())


def fake_app(tmp_path: Path, reply: Any = "Speak privately and agree a signal [1].",
             delay: float = 0.0, library: Any = None, engine_delay: float = 0.0,
             engine_error: str | None = None, settings: Settings | None = None,
             **kwargs: Any) -> Any:
    """A TeachbotApp on a tmp TEACHBOT_HOME: a FakeEngine (``reply``, ``delay`` between
    words; ``engine_delay`` makes it 'load' slowly, ``engine_error`` fail), the real
    Assistant and a copy of the template library (or ``library``)."""
    from teachbot_tui.engine.base import EngineError
    from teachbot_tui.tui.app import make_app

    settings = settings or Settings()
    paths = home_paths(tmp_path).ensure()
    engine = FakeEngine(reply, delay=delay)
    lib = library if library is not None else real_library(tmp_path, settings)

    def engine_factory(settings: Settings, progress: Any) -> FakeEngine:
        steps = 5
        for i in range(steps + 1):
            progress(i / steps)
            if engine_delay:
                time.sleep(engine_delay / steps)
        if engine_error:
            raise EngineError(engine_error)
        return engine

    app = make_app(paths, settings, engine_factory, lambda p, s: lib, **kwargs)
    app.fake_engine = engine  # type: ignore[attr-defined]
    app.library = lib  # type: ignore[attr-defined]
    return app


def add_conversations(tmp_path: Path) -> None:
    """Two saved conversations, one with a long title and an answer citing a document."""
    from teachbot_tui.conversations import ConversationStore

    store = ConversationStore(home_paths(tmp_path).ensure())
    try:
        conv = store.create(title=LONG_TITLE, model="default")
        store.add_message(conv.id, "user", LONG_TITLE)
        store.add_message(
            conv.id, "assistant",
            "Start with a **calm, predictable entry routine** [1]: greet students at the door, "
            "put a short written task on the board, and speak privately to anyone who keeps "
            "disrupting.",
            sources=[{"n": 1, "path": str(policy_path()), "page": None,
                      "heading": "Disruption", "snippet": CHUNK, "score": 0.81,
                      "chunk_id": 1, "cited": True}])
        other = store.create(title="Fractions warm-up ideas", model="default")
        store.add_message(other.id, "user", "Fractions warm-up ideas")
    finally:
        store.close()


async def wait_for(pilot: Any, predicate: Any, timeout: float = 10.0) -> None:
    """Pause the pilot until ``predicate()`` is true (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


async def open_practice(pilot: Any) -> Any:
    """Press F5 and wait until the practice screen lists its scenarios; the screen."""
    from teachbot_tui.tui.screens.practice import PracticeScreen

    await pilot.press("f5")
    practice = pilot.app.screen
    assert isinstance(practice, PracticeScreen)
    await wait_for(pilot, lambda: practice.query_one("#scenario-list").option_count > 0)
    return practice


@dataclass
class FakeLibrary:
    """The Library API over a few in-memory documents, for unit tests of code that only
    reads a library (the coach's citations). The TUI tests use the real library."""

    docs: list[DocumentInfo] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)

    @classmethod
    def sample(cls) -> FakeLibrary:
        lib = cls()
        lib.docs = [
            DocumentInfo(1, "/school/policies/behaviour-plan.md", "policies", "Behaviour plan",
                         None, "md", 1200, 3, "2024-09-01T10:00:00Z"),
            DocumentInfo(2, "/school/lessons/fractions.pdf", "lessons", "Fractions", None,
                         "pdf", 52000, 12, "2024-09-02T11:30:00Z"),
        ]
        lib.texts = {1: DOC_TEXT}
        return lib

    def collections(self) -> list[CollectionInfo]:
        names = sorted({d.collection for d in self.docs})
        return [CollectionInfo(n, sum(1 for d in self.docs if d.collection == n),
                               sum(d.chunks for d in self.docs if d.collection == n))
                for n in names]

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        return [d for d in self.docs if collection is None or d.collection == collection]

    def search(self, query: str, k: int | None = None, collection: str | None = None,
               mode: str | None = None, threshold: float | None = None) -> list[Hit]:
        if "nothing" in query.lower():
            return []
        start = DOC_TEXT.index(CHUNK)
        return [Hit(101, 1, "/school/policies/behaviour-plan.md", "policies", 2,
                    "Disruption", CHUNK, 0.82, start, start + len(CHUNK))]

    def passage(self, chunk_id: int) -> Passage:
        start = DOC_TEXT.index(CHUNK)
        return Passage("/school/policies/behaviour-plan.md", 2, "Disruption", DOC_TEXT,
                       start, start + len(CHUNK))

    def sync(self, progress: Any = None, cancel: Cancel | None = None) -> ImportReport:
        return ImportReport(unchanged=len(self.docs), seconds=0.1)

    def close(self) -> None:
        pass


def clipped_text(screen: Any) -> list[str]:
    """What the screen lays out wider (or taller) than it shows, as readable lines: empty
    when every text is shown in full or in a box that scrolls up and down.

    For every visible widget: its region lies within what its container shows, left to
    right; scrolling widgets need no sideways scrolling; a box that does not scroll holds
    all of its content, top to bottom; a text widget shows all its lines
    (or scrolls); a button shows its whole label; an empty input shows its whole hint; a
    one-line (compact) choice box is one line tall; the footer shows whole keys, none of
    them under the command palette key or beyond the edge."""
    from rich.cells import cell_len
    from textual.containers import ScrollableContainer
    from textual.scroll_view import ScrollView
    from textual.widgets import Button, Footer, Input, Select, Static

    problems: list[str] = []
    for widget in screen.query("*"):
        if not widget.display or not widget.visible or not widget.region.area:
            continue
        if not all(a.display for a in widget.ancestors if hasattr(a, "display")):
            continue
        try:
            geometry = screen.find_widget(widget)
        except Exception:  # noqa: BLE001 - not on screen (scrolled out of view)
            continue
        name = f"{widget.__class__.__name__}#{widget.id or '-'}"
        region, clip = geometry.region, geometry.clip
        visible = region.intersection(clip)
        if visible.area and (region.x < clip.x or region.right > clip.right):
            problems.append(f"{name}: laid out {region.width} wide, {visible.width} shown")
        if isinstance(widget, (ScrollView, ScrollableContainer)) and not isinstance(widget, Input):
            inner = widget.scrollable_content_region.width
            if widget.virtual_size.width > inner:
                problems.append(f"{name}: {widget.virtual_size.width} wide content in {inner}")
        elif (widget.is_container and widget.styles.overflow_y == "hidden"
              and widget.virtual_size.height > widget.scrollable_content_region.height):
            problems.append(f"{name}: {widget.virtual_size.height} rows of content in "
                            f"{widget.scrollable_content_region.height}, cut at the bottom")
        if isinstance(widget, Static) and not isinstance(widget, Button):
            width, height = widget.content_region.width, widget.content_region.height
            if width > 0:
                needed = widget.get_content_height(screen.size, screen.size, width)
                if needed > height:
                    problems.append(f"{name}: {needed} lines of text in {height}")
        if isinstance(widget, Button):
            label = str(getattr(widget.label, "plain", widget.label))
            if cell_len(label) > widget.content_region.width:
                problems.append(f"{name}: label {label!r} in {widget.content_region.width}")
        if (isinstance(widget, Input) and not widget.value and widget.placeholder
                and cell_len(widget.placeholder) > widget.content_region.width - 1):
            problems.append(f"{name}: hint {widget.placeholder!r} in "
                            f"{widget.content_region.width}")
        if isinstance(widget, Select) and widget.compact and widget.region.height != 1:
            problems.append(f"{name}: a one-line choice box {widget.region.height} lines tall")
        if isinstance(widget, Footer):
            problems.extend(footer_problems(widget))
    return problems


def footer_problems(footer: Any) -> list[str]:
    """Footer keys laid out under the command palette key or beyond the footer's edge."""
    keys = [k for k in footer.children if k.display]
    palette = [k for k in keys if k.has_class("-command-palette")]
    edge = palette[0].region.x if palette else footer.region.right
    return [f"footer key {getattr(k, 'key_display', k)!r}: "
            + (f"{k.region.right - edge} cells under the palette key" if k.region.area
               else "beyond the edge")
            for k in keys if k not in palette and (not k.region.area or k.region.right > edge)]
