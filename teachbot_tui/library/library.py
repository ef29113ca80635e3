"""The document library: import folders, keep them in sync, and search them.

Data flows one way: files -> parse -> chunk -> embed -> SQLite (+FTS5) -> hnswlib. SQLite
is committed one document at a time, so a crash loses at most the documents in flight; the
vector indexes (passages, and one vector per document) are repaired from SQLite on open (see
:mod:`.index`).

:class:`Library` is the face the CLI and the app use. It owns the SQLite store, the embedder
and the vector index; the import pipeline is :mod:`.importer`, search is :mod:`.search`.

Threads. One ``Library`` is used from several threads at once (the app searches while an
import runs, and opens passages and lists documents meanwhile). Every thread gets its own
SQLite connection (WAL: readers never wait for a writer and see only committed documents;
writers queue on SQLite's write lock for one transaction at a time). The vector index is one
object with its own lock (so is the document index); they are made, reloaded and repaired under the library's lock. Writing
(import, sync, reembed, removal) holds the cross-process writer lock while any writer of this
process runs; one import runs at a time. :meth:`close` waits for the calls in progress.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .. import defaults
from ..config import Settings
from ..config import load as load_settings
from ..engine.base import Cancel
from ..paths import Paths
from . import search as searching
from . import store
from .documents import EMBEDDING_RECIPE, embedding_text
from .embedder import Embedder
from .importer import ImportRun, Progress, delete_document
from .indexes import VectorIndexes
from .keywords import KeywordPlanner
from .types import (
    CollectionInfo,
    DocumentHit,
    DocumentInfo,
    Failure,
    Hit,
    ImportProgress,
    ImportReport,
    LibraryBusy,
    LibraryError,
    Passage,
)

__all__ = ["Library", "embedding_text"]

if TYPE_CHECKING:
    pass

P = ParamSpec("P")
R = TypeVar("R")


def _call(method: Callable[P, R]) -> Callable[P, R]:
    """Count the call as in progress, so that :meth:`Library.close` waits for it."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        lib = args[0]
        assert isinstance(lib, Library)
        with lib._in_call():
            return method(*args, **kwargs)

    return wrapper


class Library(VectorIndexes):
    """One library folder: its SQLite store, the embedder and the vector index, opened lazily.
    Import and removal take the single-writer lock; searching and reading never wait for it."""

    def __init__(
        self,
        paths: Paths | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.paths = paths or Paths.from_env()
        self.settings = settings or load_settings(self.paths)
        self.dir = self.paths.library_dir
        self._embedder = embedder
        self._owns_embedder = embedder is None  # one handed in is closed by its owner
        self._index = None
        self._document_index = None
        self._index_stamp = None
        self._lock = store.WriterLock(self.dir / "write.lock")
        self._embedder_checked = False
        self._writing = False
        self._state = threading.RLock()  # the lazily made parts and the bookkeeping below
        self._idle = threading.Condition(self._state)
        self._calls = 0  # calls in progress (close waits for them)
        self._writers = 0  # writers of this process holding the cross-process lock
        self._importing = threading.Lock()
        self._closed = False
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection,
                                      KeywordPlanner]] = []
        _ = self.con  # create or migrate the database now, in the opening thread

    # -- per-thread connections --------------------------------------------------------
    @property
    def con(self) -> sqlite3.Connection:
        """This thread's connection to the library database."""
        return self._connection()[0]

    @property
    def keywords(self) -> KeywordPlanner:
        """This thread's keyword planner (its temp table lives on this thread's connection)."""
        return self._connection()[1]

    def _connection(self) -> tuple[sqlite3.Connection, KeywordPlanner]:
        mine = getattr(self._local, "connection", None)
        if mine is not None:
            return mine
        with self._state:
            if self._closed:
                raise LibraryError("the library was closed; open it again")
            # connections of threads that have ended are closed, so their number stays small
            for entry in [e for e in self._connections if not e[0].is_alive()]:
                self._connections.remove(entry)
                entry[2].close()
                entry[1].close()
        con = store.connect(self.dir / "library.db")
        # made before any transaction: its temp table must not be created inside one
        planner = KeywordPlanner(con)
        with self._state:
            self._connections.append((threading.current_thread(), con, planner))
        self._local.connection = (con, planner)
        return con, planner

    @contextmanager
    def _in_call(self) -> Iterator[None]:
        with self._state:
            if self._closed:
                raise LibraryError("the library was closed; open it again")
            self._calls += 1
        try:
            yield
        finally:
            with self._state:
                self._calls -= 1
                self._idle.notify_all()

    # -- components ----------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._state:
            return self._make_embedder()

    def _make_embedder(self) -> Embedder:
        if self._embedder is None:
            path = (Path(self.settings.embedder).expanduser() if self.settings.embedder
                    else defaults.embedder_path())
            if not path.is_dir():
                raise LibraryError(
                    f"{path}: embedder folder not found; set `embedder` in config.toml "
                    "to a sentence-transformers model folder"
                )
            self._embedder = Embedder(path, self.paths.embedding_cache)
        return self._embedder

    def close(self, timeout: float | None = None) -> None:
        """Wait for the calls in progress (an import: until it ends or is cancelled), then
        close every connection and the embedder. Later calls get a LibraryError."""
        with self._state:
            if self._closed:
                return
            self._idle.wait_for(lambda: self._calls == 0, timeout)
            self._closed = True
            connections, self._connections = self._connections, []
            if self._embedder is not None and self._owns_embedder:
                self._embedder.close()
        for _thread, con, planner in connections:
            planner.close()
            con.close()

    # -- import --------------------------------------------------------------------------
    @_call
    def import_paths(
        self,
        paths: Iterable[str | Path],
        collection: str | None = None,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> ImportReport:
        """Import files and folders (recursively) into ``collection``."""
        roots = [(Path(p).expanduser().absolute(), collection) for p in paths]
        return self._import(roots, progress, cancel)

    @_call
    def sync(self, progress: Progress | None = None, cancel: Cancel | None = None) -> ImportReport:
        """Re-scan every imported root: pick up new, changed, moved and deleted files."""
        roots = [(Path(r["path"]), r["collection"])
                 for r in self.con.execute("SELECT path, collection FROM roots")]
        return self._import(roots, progress, cancel)

    def _import(self, roots: list[tuple[Path, str | None]], progress: Progress | None,
                cancel: Cancel | None) -> ImportReport:
        t0 = time.perf_counter()
        emit = progress or (lambda _p: None)
        if not self._importing.acquire(blocking=False):
            raise LibraryBusy("an import is already running; wait for it to finish")
        try:
            with self._writer():
                self._check_embedder(writing=True)
                report = ImportRun(self, emit, cancel).run(roots)
        finally:
            self._importing.release()
        report.seconds = round(time.perf_counter() - t0, 3)
        emit(ImportProgress("done", report.added + report.updated + report.unchanged,
                            len(report.failed), report.chunks_added))
        return report

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """Hold the cross-process writer lock while any writer of this process runs (SQLite
        orders their transactions); while held, the index is not reloaded from disk."""
        with self._state:
            if self._writers == 0:
                self._lock.acquire()  # LibraryBusy when another process writes
            self._writers += 1
            self._writing = True
            self._store_document_vectors()
        try:
            yield
        finally:
            with self._state:
                self._writers -= 1
                if self._writers == 0:
                    self._writing = False
                    self._lock.release()

    # -- the embedder the vectors came from --------------------------------------------
    @_call
    def embedding_stamp(self) -> dict[str, object] | None:
        """Which embedder (``model``: its fingerprint) and recipe made the stored vectors."""
        row = self.con.execute("SELECT value FROM meta WHERE key='embedding'").fetchone()
        return json.loads(row[0]) if row else None

    def _check_embedder(self, writing: bool) -> None:
        """Vectors of different models do not mix: refuse to search or add to a library
        whose vectors came from another embedder than the configured one."""
        if self._embedder_checked:
            return
        stamp = self.embedding_stamp()
        has_chunks = self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None
        if stamp is None or not has_chunks:
            # a new library, or one from before stamps (its vectors: this embedder, recipe 1)
            if writing:
                from .reembed import set_stamp

                set_stamp(self, 1 if has_chunks else EMBEDDING_RECIPE)
        elif stamp.get("model") != self.embedder.model_id:
            raise LibraryError(
                f"the library's passages were embedded with {stamp.get('model')}, not with the "
                f"configured embedder ({self.embedder.model_id}); run `teachbot library "
                "reembed` to embed them again, or set `embedder` back in config.toml")
        self._embedder_checked = True

    @_call
    def needs_reembed(self) -> bool:
        """True when the stored vectors come from another embedder or an older recipe."""
        if self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None:
            return False
        # no stamp: a library from before stamps, made with this embedder and recipe 1
        stamp = self.embedding_stamp() or {"model": self.embedder.model_id, "recipe": 1}
        return stamp.get("model") != self.embedder.model_id or stamp.get("recipe") != EMBEDDING_RECIPE

    @_call
    def reembed(self, progress: Progress | None = None, cancel: Cancel | None = None) -> int:
        """Embed every passage again with the configured embedder and the current recipe,
        remake the document vectors, then rebuild the vector indexes; returns the number of
        passages. Interrupted, the old stamp stays and the next run starts over."""
        from .reembed import reembed

        with self._writer():
            total = reembed(self, progress, cancel)
            self._embedder_checked = False
            return total

    # -- removal -------------------------------------------------------------------------
    @_call
    def remove_document(self, path: str | Path) -> int:
        """Remove a document, or every document under a folder, and forget the folder."""
        p = str(Path(path).expanduser().absolute())
        return self._remove(
            "SELECT id FROM documents WHERE path=? OR substr(path,1,?)=?",
            (p, len(p) + 1, p + os.sep), "DELETE FROM roots WHERE path=?", (p,))

    @_call
    def remove_collection(self, name: str) -> int:
        """Remove every document of a collection and forget its folders."""
        return self._remove("SELECT id FROM documents WHERE collection=?", (name,),
                            "DELETE FROM roots WHERE collection=?", (name,))

    def _remove(self, select: str, select_args: tuple[object, ...], forget: str,
                forget_args: tuple[object, ...]) -> int:
        with self._writer():
            rows = self.con.execute(select, select_args).fetchall()
            for r in rows:
                delete_document(self, r[0])
            self.con.execute(forget, forget_args)
            if rows:
                self.save_indexes()
            return len(rows)

    # -- reading -------------------------------------------------------------------------
    @_call
    def collections(self) -> list[CollectionInfo]:
        out = []
        for r in self.con.execute(
            "SELECT d.collection AS name, COUNT(DISTINCT d.id) AS docs, COUNT(c.id) AS chunks "
            "FROM documents d LEFT JOIN chunks c ON c.document_id = d.id "
            "GROUP BY d.collection ORDER BY d.collection"
        ):
            roots = [x[0] for x in self.con.execute(
                "SELECT path FROM roots WHERE collection=? ORDER BY path", (r["name"],))]
            out.append(CollectionInfo(r["name"], r["docs"], r["chunks"], roots))
        return out

    @_call
    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        sql = ("SELECT d.*, (SELECT COUNT(*) FROM chunks c WHERE c.document_id=d.id) AS n "
               "FROM documents d")
        args: tuple = ()
        if collection:
            sql += " WHERE d.collection=?"
            args = (collection,)
        return [
            DocumentInfo(r["id"], r["path"], r["collection"], r["title"], r["topic"],
                         r["format"], r["size"], r["n"], r["imported_at"])
            for r in self.con.execute(sql + " ORDER BY d.collection, d.path", args)
        ]

    @_call
    def failures(self) -> list[Failure]:
        return [Failure(r[0], r[1]) for r in
                self.con.execute("SELECT path, reason FROM failures ORDER BY path")]

    @_call
    def warm(self) -> None:
        """Load the embedder now (ONNX Runtime: a fraction of a second) if there is
        anything to search, so the first search is as fast as the next."""
        if self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None:
            _ = self.embedder.model

    @_call
    def stats(self) -> dict[str, object]:
        docs = self.con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        size = sum(f.stat().st_size for f in self.dir.glob("*") if f.is_file())
        out: dict[str, object] = {
            "documents": docs,
            "chunks": chunks,
            "collections": len(self.collections()),
            "failed": len(self.failures()),
            "bytes_on_disk": size,
            "path": str(self.dir),
        }
        meta = self.dir / "vectors.json"
        if meta.exists():
            info = json.loads(meta.read_text())
            out["index"] = {"labels": info.get("count"), "deleted": info.get("deleted")}
        out["embedding"] = self.embedding_stamp()
        try:
            out["reembed_needed"] = self.needs_reembed()
        except LibraryError:  # the configured embedder folder is missing
            out["reembed_needed"] = None
        return out

    @_call
    def passage(self, chunk_id: int) -> Passage:
        r = self.con.execute(
            "SELECT c.start, c.end, c.page, c.heading, d.path, d.text FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE c.id=?", (chunk_id,)).fetchone()
        if r is None:
            raise LibraryError(f"passage {chunk_id} is no longer in the library; search again")
        return Passage(r["path"], r["page"], r["heading"], r["text"], r["start"], r["end"])

    # -- search --------------------------------------------------------------------------
    @_call
    def search(
        self,
        query: str,
        k: int | None = None,
        collection: str | None = None,
        mode: str | None = None,
        threshold: float | None = None,
        per_document: int | None = None,
    ) -> list[Hit]:
        """Top ``k`` passages for ``query``: hybrid (vectors + BM25 + document vectors,
        reciprocal-rank fused), vector-only or keyword-only. ``threshold`` drops passages
        whose cosine similarity to the query is lower. No document contributes more than
        ``per_document`` hits."""
        k = k or self.settings.retrieval_k
        return self._search(query, k, collection, mode, threshold,
                            per_document or max(2, (k + 2) // 3), False)

    @_call
    def search_documents(
        self,
        query: str,
        k: int | None = None,
        collection: str | None = None,
        mode: str | None = None,
        threshold: float | None = None,
        passages: int = 3,
    ) -> list[DocumentHit]:
        """The ``k`` best documents for ``query``, each with up to ``passages`` of its best
        passages (ranked as :meth:`search` ranks them), best document first."""
        hits = self._search(query, k or self.settings.retrieval_k, collection, mode,
                            threshold, max(1, passages), True)
        groups: dict[int, list[Hit]] = {}
        for h in hits:
            groups.setdefault(h.document_id, []).append(h)
        titles = dict(self.con.execute(
            f"SELECT id, title FROM documents WHERE id IN ({','.join('?' * len(groups))})",
            list(groups)).fetchall()) if groups else {}
        return [DocumentHit(doc_id, g[0].path, g[0].collection, titles.get(doc_id), g[0].topic,
                            max(h.score for h in g), g[0].fused, g)
                for doc_id, g in groups.items()]

    def _search(self, query: str, k: int, collection: str | None, mode: str | None,
                threshold: float | None, per_document: int, by_document: bool) -> list[Hit]:
        mode = mode or self.settings.retrieval_mode
        if mode not in searching.MODES:
            raise LibraryError(f"unknown search mode {mode!r}: use hybrid, vector or keyword")
        query = query.strip()
        if not query or self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None:
            return []
        if mode != "keyword":
            self._check_embedder(writing=False)
        vector = self.embedder.encode_query(query) if mode in ("hybrid", "vector") else None
        request = searching.Query(query, vector, mode, k, collection, threshold, per_document,
                                  by_document, searching.DOCUMENT_WEIGHT)
        index = self.index if vector is not None else None
        documents = self.document_index if mode == "hybrid" else None
        return searching.search(self.con, self.keywords, index, request, documents)
