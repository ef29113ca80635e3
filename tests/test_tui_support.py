"""Shared fakes and helpers for the TUI tests (a fake library and assistant behind the real
interfaces, an app factory pointed at a tmp TEACHBOT_HOME). No tests here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachbot_tui.answers import Source
from teachbot_tui.config import Settings
from teachbot_tui.engine.base import Cancel
from teachbot_tui.engine.fake import FakeEngine
from teachbot_tui.library.types import (
    CollectionInfo,
    DocumentInfo,
    Failure,
    Hit,
    ImportProgress,
    ImportReport,
    Passage,
)
from teachbot_tui.paths import Paths

DOC_TEXT = (
    "Behaviour plan for Year 7.\n\n"
    "When a student consistently disrupts class, speak to them privately, name the behaviour, "
    "and agree on a signal. Praise the first improvement within the same lesson.\n\n"
    "Follow up with the family after three incidents."
)
CHUNK = "When a student consistently disrupts class, speak to them privately"


@dataclass
class FakeLibrary:
    """The Library API the app uses, over a few in-memory documents."""

    docs: list[DocumentInfo] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    import_delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    hostile: bool = False

    @classmethod
    def sample(cls, hostile: bool = False) -> FakeLibrary:
        lib = cls(hostile=hostile)
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
               mode: str | None = None) -> list[Hit]:
        self.calls.append(f"search:{query}")
        if "nothing" in query.lower():
            return []
        start = DOC_TEXT.index(CHUNK)
        heading = "Disruption [bold]x[/] \x1b[31mred" if self.hostile else "Disruption"
        return [Hit(101, 1, "/school/policies/behaviour-plan.md", "policies", 2, heading,
                    CHUNK, 0.82, start, start + len(CHUNK))]

    def passage(self, chunk_id: int) -> Passage:
        start = DOC_TEXT.index(CHUNK)
        return Passage("/school/policies/behaviour-plan.md", 2, "Disruption", DOC_TEXT,
                       start, start + len(CHUNK))

    def import_paths(self, paths: list[Path], collection: str | None = None,
                     progress: Any = None, cancel: Cancel | None = None) -> ImportReport:
        self.calls.append(f"import:{paths[0]}:{collection}")
        files = sorted(p for p in Path(paths[0]).rglob("*") if p.is_file())
        report = ImportReport()
        if progress:
            progress(ImportProgress("scan", files_total=len(files)))
        for i, f in enumerate(files, 1):
            if cancel is not None and cancel.is_set:
                break
            time.sleep(self.import_delay)
            if f.suffix == ".bad":
                report.failed.append(Failure(str(f), "not a readable document [red]x[/]"))
            else:
                report.added += 1
                report.chunks_added += 2
                self.docs.append(DocumentInfo(len(self.docs) + 1, str(f), collection or "default",
                                              f.stem, None, f.suffix.lstrip("."), 10, 2,
                                              "2024-09-03T09:00:00Z"))
            if progress:
                progress(ImportProgress("import", i, len(files), i * 2, 10.0, 1.0, str(f)))
        if progress:
            progress(ImportProgress("done", len(files), len(files), len(files) * 2))
        report.seconds = 0.5
        return report

    def sync(self, progress: Any = None, cancel: Cancel | None = None) -> ImportReport:
        self.calls.append("sync")
        return ImportReport(unchanged=len(self.docs), seconds=0.1)

    def remove_document(self, path: str) -> int:
        self.calls.append(f"remove:{path}")
        self.docs = [d for d in self.docs if d.path != path]
        return 1

    def remove_collection(self, name: str) -> int:
        n = sum(1 for d in self.docs if d.collection == name)
        self.docs = [d for d in self.docs if d.collection != name]
        return n

    def close(self) -> None:
        pass


FakeSource = Source  # the real source record; it has no heavy imports


class FakeAnswer:
    def __init__(self, pieces: Iterator[str], sources: list[FakeSource]) -> None:
        self._pieces = pieces
        self.sources = sources
        self.no_context = not sources
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self.text += piece
            yield piece
        for s in self.sources:
            s.cited = f"[{s.n}]" in self.text


class FakeAssistant:
    """Retrieval through the (fake) library, generation through the engine: the same shape
    as ``teachbot_tui.answers.Assistant``."""

    def __init__(self, engine: Any, library: Any, settings: Settings) -> None:
        self.engine, self.library, self.settings = engine, library, settings

    def answer(self, question: str, history: list[dict[str, str]],
               cancel: Cancel | None = None, collection: str | None = None,
               retrieval: bool = True, progress: Any = None) -> FakeAnswer:
        hits = self.library.search(question) if (retrieval and self.library) else []
        sources = [FakeSource(i, h.path, h.page, h.heading, h.text, h.score, h.chunk_id)
                   for i, h in enumerate(hits, 1)]
        messages = [{"role": "system", "content": self.settings.system_prompt}, *history,
                    {"role": "user", "content": question}]
        return FakeAnswer(iter(self.engine.execute(messages, None, cancel)), sources)


def fake_app(tmp_path: Path, reply: Any = "Speak privately and agree a signal [1].",
             delay: float = 0.0, library: Any = None, engine_delay: float = 0.0,
             engine_error: str | None = None, settings: Settings | None = None,
             **kwargs: Any) -> Any:
    """A TeachbotApp on a tmp TEACHBOT_HOME with a FakeEngine, a FakeLibrary and a
    FakeAssistant. ``engine_delay`` makes the model 'load' slowly."""
    from teachbot_tui.engine.base import EngineError
    from teachbot_tui.tui.app import make_app

    paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache").ensure()
    engine = FakeEngine(reply, delay=delay)
    lib = library if library is not None else FakeLibrary.sample()

    def engine_factory(settings: Settings, progress: Any) -> FakeEngine:
        steps = 5
        for i in range(steps + 1):
            progress(i / steps)
            if engine_delay:
                time.sleep(engine_delay / steps)
        if engine_error:
            raise EngineError(engine_error)
        return engine

    app = make_app(paths, settings or Settings(), engine_factory,
                   lambda p, s: lib, assistant_factory=FakeAssistant, **kwargs)
    app.fake_engine = engine  # type: ignore[attr-defined]
    app.fake_library = lib  # type: ignore[attr-defined]
    return app


async def wait_for(pilot: Any, predicate: Any, timeout: float = 10.0) -> None:
    """Pause the pilot until ``predicate()`` is true (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
