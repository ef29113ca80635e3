"""Embedding a whole library again (``teachbot library reembed``), and the stamp that says
which embedder and recipe made its vectors."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import documents, store
from .documents import EMBEDDING_RECIPE, embedding_text
from .importer import EMBED_BATCH_CHUNKS, Progress
from .store import transaction
from .types import ImportProgress

if TYPE_CHECKING:
    from ..engine.base import Cancel


class _Library(Protocol):
    """What this module uses of ``library.Library`` (which calls it)."""

    con: sqlite3.Connection
    embedder: Any

    def rebuild_indexes(self, passages: int) -> None: ...


def set_stamp(lib: _Library, recipe: int) -> None:
    stamp = json.dumps({"model": lib.embedder.model_id, "recipe": recipe})
    with transaction(lib.con):
        lib.con.execute("INSERT INTO meta(key, value) VALUES ('embedding', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (stamp,))


def reembed(lib: _Library, progress: Progress | None, cancel: Cancel | None) -> int:
    """Embed every passage again, make every document vector from the new vectors, rebuild
    both indexes, then stamp; the caller holds the writer lock. Returns the number of
    passages, or how many were done when cancelled (the old stamp stays: run again)."""
    emit = progress or (lambda _p: None)
    t0 = time.perf_counter()
    con = lib.con
    rows = con.execute("SELECT c.id, c.text, d.title FROM chunks c JOIN documents d "
                       "ON d.id = c.document_id ORDER BY c.id").fetchall()
    total = len(rows)
    for start in range(0, total, EMBED_BATCH_CHUNKS):
        if cancel is not None and cancel.is_set:
            return start
        part = rows[start:start + EMBED_BATCH_CHUNKS]
        vectors = lib.embedder.encode([embedding_text(r[2], r[1]) for r in part])
        with transaction(con):
            con.executemany("UPDATE chunks SET vector=? WHERE id=?",
                            [(v.astype(np.float32).tobytes(), r[0])
                             for r, v in zip(part, vectors, strict=True)])
        done = start + len(part)
        rate = done / max(time.perf_counter() - t0, 1e-9)
        emit(ImportProgress("reembed", done, total, done, round(rate, 1),
                            (total - done) / rate if rate else None))
    documents.refresh_vectors(con, lib.embedder)
    # the indexes are rebuilt from the new vectors and saved before the stamp says they are
    # new: killed in between, the old stamp asks for another run
    with transaction(con):
        store.bump_seq(con)
    lib.rebuild_indexes(total)
    set_stamp(lib, EMBEDDING_RECIPE)
    emit(ImportProgress("done", total, total, total))
    return total
