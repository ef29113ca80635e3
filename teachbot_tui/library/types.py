"""Plain data passed out of the library: progress events, reports and search hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class LibraryError(Exception):
    """A library operation cannot be done; one line saying what to do."""


class LibraryBusy(LibraryError):
    """Another process is writing to the library."""


@dataclass
class ImportProgress:
    phase: str  # "scan" | "import" | "done"
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    moved: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks_added: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Hit:
    chunk_id: int
    document_id: int
    path: str
    collection: str
    page: int | None
    heading: str
    text: str
    score: float  # cosine similarity to the query (0..1 for normalized vectors)
    start: int
    end: int
    topic: str | None = None
    fused: float = 0.0  # reciprocal-rank fusion score (hybrid) used for ordering

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DocumentHit:
    """A document found by a search, with its best passages (best first)."""

    document_id: int
    path: str
    collection: str
    title: str | None
    topic: str | None
    score: float  # its best passage's cosine similarity to the query
    fused: float  # its best passage's fused score, by which documents are ordered
    hits: list[Hit] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DocumentInfo:
    id: int
    path: str
    collection: str
    title: str | None
    topic: str | None
    format: str
    size: int
    chunks: int
    imported_at: str


@dataclass
class CollectionInfo:
    name: str
    documents: int
    chunks: int
    roots: list[str] = field(default_factory=list)


@dataclass
class Passage:
    """A hit's full context: the whole document text and where the chunk sits in it."""

    path: str
    page: int | None
    heading: str
    text: str  # the document's full extracted text
    start: int
    end: int
