"""The library's two vector indexes (hnswlib): of passages (``vectors.hnsw``) and of whole
documents (``documents.hnsw``), each a cache of vectors stored in SQLite (see :mod:`.index`).

:class:`VectorIndexes` is a part of :class:`~.library.Library`: it loads the indexes lazily,
reloads them when another process saved newer ones, repairs them from SQLite, saves, rebuilds
and compacts them, under the library's lock.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import documents, store
from .types import LibraryBusy

if TYPE_CHECKING:
    from .embedder import Embedder
    from .index import VectorIndex

COMPACT_WASTE = 0.3  # rebuild an index when this share of its labels is deleted


class VectorIndexes:
    """The vector-index half of :class:`~.library.Library` (its lock, connection, embedder
    and writer state are the library's)."""

    dir: Path
    _state: threading.RLock
    _writing: bool
    _index: VectorIndex | None = None
    _document_index: VectorIndex | None = None
    _index_stamp: int | None = None
    _documents_in_memory = False  # document vectors made here but not stored (lock was held)

    if TYPE_CHECKING:  # the library's

        @property
        def con(self) -> sqlite3.Connection: ...

        @property
        def embedder(self) -> Embedder: ...

        def _writer(self) -> AbstractContextManager[None]: ...

    @property
    def index(self) -> VectorIndex:
        """The vector index, loaded on first use and reloaded when another process saved a
        newer one; either way repaired from SQLite if it is behind."""
        from .index import VectorIndex

        with self._state:
            if self._index is None or (not self._writing
                                       and self._meta_stamp() != self._index_stamp):
                # first use, or another process saved newer indexes: (re)load them
                self._index = VectorIndex(self.dir / "vectors.hnsw", self.embedder.dim)
                self._document_index = None
                self._index_stamp = self._meta_stamp()
                self._repair_index()
            return self._index

    @property
    def document_index(self) -> VectorIndex:
        """The index of document vectors, loaded (and reloaded) with the passage index."""
        from .index import VectorIndex

        with self._state:
            _ = self.index
            if self._document_index is None:
                self._document_index = VectorIndex(self.dir / "documents.hnsw",
                                                   self.embedder.dim)
                self._repair_document_index()
            return self._document_index

    def _meta_stamp(self) -> int | None:
        try:
            return (self.dir / "vectors.json").stat().st_mtime_ns
        except OSError:
            return None

    def _repair_index(self) -> None:
        idx = self._index
        assert idx is not None
        seq = store.current_seq(self.con)
        if idx.seq == seq:
            return
        idx.repair_from(self.con, "SELECT id FROM chunks",
                        "SELECT id, vector FROM chunks WHERE id IN ({marks})")
        if self._writing:
            idx.save(seq)

    def _repair_document_index(self) -> None:
        """As :meth:`_repair_index`; documents of a library from before document vectors get
        theirs from their passages, stored when this process may write (held or free)."""
        idx = self._document_index
        assert idx is not None
        seq = store.current_seq(self.con)
        if idx.seq == seq:
            return
        missing = documents.missing_vectors(self.con)
        if missing and not self._writing:
            try:
                with self._writer():
                    return self._repair_document_index()
            except LibraryBusy:  # another process writes: keep them in memory this time
                pass
        if missing and self._writing:
            with store.transaction(self.con) as con:
                for doc_id, vec in missing:
                    documents.save_vector(con, doc_id, vec)
        idx.repair_from(self.con, "SELECT document_id FROM document_vectors",
                        "SELECT document_id, vector FROM document_vectors "
                        "WHERE document_id IN ({marks})")
        if missing and not self._writing:
            idx.add([d for d, _v in missing], np.stack([v for _d, v in missing]))
            self._documents_in_memory = True
        if self._writing:
            idx.save(seq)

    def _store_document_vectors(self) -> None:
        """Called as this process starts writing: document vectors made in memory only are
        made again, and stored, by a fresh load of the document index."""
        with self._state:
            if self._documents_in_memory:
                self._document_index = None
                self._documents_in_memory = False
                _ = self.document_index

    def save_indexes(self) -> None:
        """Save both vector indexes at the database's sequence number (the passage index
        last: its file's time tells other processes to reload)."""
        seq = store.current_seq(self.con)
        with self._state:
            if self._document_index is not None:
                self._document_index.save(seq)
            self.index.save(seq)

    def rebuild_indexes(self, passages: int) -> None:
        """Build both indexes afresh from SQLite and save them (after a re-embed)."""
        from .index import VectorIndex

        with self._state:
            self._index = VectorIndex(self.dir / "vectors.hnsw", self.embedder.dim)
            self._index.reset(int(passages * 1.5))
            self._document_index = VectorIndex(self.dir / "documents.hnsw", self.embedder.dim)
            self._document_index.reset(1024)
            self._repair_index()  # every vector from SQLite, saved at the current seq
            self._repair_document_index()
            self._index_stamp = self._meta_stamp()

    @property
    def index_loaded(self) -> bool:
        return self._index is not None

    def compact_index(self) -> None:
        """Rebuild the vector index from SQLite once too many of its labels are deleted."""
        with self._state:
            if self._index is None:
                return
            idx = self._index
            if idx.count >= 2048 and idx.deleted > COMPACT_WASTE * idx.count:
                live = self.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                idx.reset(int(live * 1.5))
                self._repair_index()
            docs = self._document_index
            if docs is not None and docs.count >= 2048 and docs.deleted > COMPACT_WASTE * docs.count:
                docs.reset(int(docs.live * 1.5))
                self._repair_document_index()

