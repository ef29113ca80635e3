"""Writing and deleting one document's rows: the document, its chunks with their vectors,
and its document vector, each in one transaction; then the vector indexes follow.

A document's vector stands for the document as a whole: the normalized mean of its passages'
vectors (each passage embedded with the document's title). It is stored in
``document_vectors`` in the transaction that stores the chunks, so SQLite never holds a
document whose vector is of other text; the document index (hnswlib, labels are document ids)
is repaired from that table like the chunk index (see :mod:`.index`). Libraries made before
document vectors get theirs from their stored chunk vectors (:func:`missing_vectors`), no
embedding needed. Measured against embedding the title and the opening text instead, the
mean ranked whole documents far better on the whole-document set (nDCG@10 0.558 against
0.379, docs/retrieval.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from . import store
from .store import transaction

if TYPE_CHECKING:
    from .embedder import Embedder
    from .index import VectorIndex

TITLE_CHARS = 120  # at most this much of a document's title is embedded with each passage
EMBEDDING_RECIPE = 2  # what a passage's vector is of: 1 the passage alone, 2 title + passage
# what a document's vector is of: "mean" of its passage vectors, or "opening": the title and
# the opening text embedded together (up to the embedder's limit); measured in
# docs/retrieval.md (scripts/eval_retrieval.py --doc-vector)
DOCUMENT_VECTOR = "mean"


class DocumentTarget(Protocol):
    """Where a document's rows go: the library's SQLite store and its two vector indexes."""

    con: sqlite3.Connection

    @property
    def embedder(self) -> Embedder: ...

    @property
    def index(self) -> VectorIndex: ...

    @property
    def document_index(self) -> VectorIndex: ...


def context_title(title: str | None) -> str:
    """The part of a document's title that is embedded with each of its passages."""
    return " ".join((title or "").split())[:TITLE_CHARS]


def embedding_text(title: str | None, text: str) -> str:
    """What is embedded for a passage: the document's title on a line before the passage,
    unless the passage already holds it. A passage under "Exit tickets" in a book called
    "Formative Assessment in Practice" is about checking understanding, and only the title
    says so. The stored, searched and quoted text is the passage alone; chunks are sized
    to leave room for the title within the embedder's sequence length."""
    title = context_title(title)
    return f"{title}\n{text}" if title and title.lower() not in text.lower() else text


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The normalized mean of (normalized) passage vectors."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)


def document_vectors(embedder: Embedder, docs: Sequence[tuple[str | None, str, np.ndarray]],
                     kind: str | None = None) -> list[np.ndarray]:
    """The document vector of each (title, text, passage vectors)."""
    if (kind or DOCUMENT_VECTOR) == "mean":
        return [mean_vector(vecs) for _title, _text, vecs in docs]
    # the opening: the embedder truncates at its limit; only the start of the text matters
    texts = [embedding_text(title, text[:4000]) for title, text, _vecs in docs]
    return list(embedder.encode(texts).astype(np.float32)) if texts else []


def save_vector(con: sqlite3.Connection, doc_id: int, vector: np.ndarray) -> None:
    """Store a document's vector (inside the caller's transaction)."""
    con.execute("INSERT INTO document_vectors(document_id, vector) VALUES (?, ?) "
                "ON CONFLICT(document_id) DO UPDATE SET vector=excluded.vector",
                (doc_id, vector.astype(np.float32).tobytes()))


def missing_vectors(con: sqlite3.Connection) -> list[tuple[int, np.ndarray]]:
    """Documents with passages but no stored vector (a library from before document vectors),
    with their vectors made from their stored passage vectors."""
    ids = [r[0] for r in con.execute(
        "SELECT d.id FROM documents d WHERE d.status='ok' AND NOT EXISTS "
        "(SELECT 1 FROM document_vectors v WHERE v.document_id=d.id)")]
    out = []
    for doc_id in ids:
        rows = con.execute("SELECT vector FROM chunks WHERE document_id=?", (doc_id,)).fetchall()
        if rows:
            out.append((doc_id, mean_vector(np.stack(
                [np.frombuffer(r[0], dtype=np.float32) for r in rows]))))
    return out


def commit(target: DocumentTarget, existing_id: int | None, values: dict[str, object],
           chunks: Sequence[object], vectors: np.ndarray, doc_vector: np.ndarray) -> int:
    """Store one document (new, or replacing ``existing_id``'s text), its chunks and its
    vector in one transaction, then update both indexes; returns the document id."""
    old_ids: list[int] = []
    with transaction(target.con) as con:
        if existing_id is not None:
            old_ids = [r[0] for r in con.execute(
                "SELECT id FROM chunks WHERE document_id=?", (existing_id,))]
            con.execute("DELETE FROM chunks WHERE document_id=?", (existing_id,))
            con.execute(
                "UPDATE documents SET collection=:collection, category=:category, title=:title,"
                " topic=:topic, format=:format, size=:size, mtime_ns=:mtime_ns, sha256=:sha256,"
                " status='ok', duplicate_of=NULL, text=:text,"
                " imported_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=:id",
                {**values, "id": existing_id})
            doc_id = existing_id
        else:
            cur = con.execute(
                "INSERT INTO documents(path, collection, category, title, topic, format, size,"
                " mtime_ns, sha256, text) VALUES (:path, :collection, :category, :title, :topic,"
                " :format, :size, :mtime_ns, :sha256, :text)", values)
            doc_id = int(cur.lastrowid or 0)
        new_ids = []
        for ordinal, (chunk, vec) in enumerate(zip(chunks, vectors, strict=True)):
            cur = con.execute(
                "INSERT INTO chunks(document_id, ord, text, start, end, page, heading, vector)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (doc_id, ordinal, chunk.text, chunk.start, chunk.end,  # type: ignore[attr-defined]
                 chunk.page, chunk.heading or "",  # type: ignore[attr-defined]
                 vec.astype(np.float32).tobytes()))
            new_ids.append(int(cur.lastrowid or 0))
        save_vector(con, doc_id, doc_vector)
        con.execute("DELETE FROM failures WHERE path=?", (values["path"],))
        store.bump_seq(con)
    index = target.index
    index.add(new_ids, vectors)
    index.delete(old_ids)
    target.document_index.add([doc_id], doc_vector.reshape(1, -1))
    return doc_id


def delete(target: DocumentTarget, doc_id: int) -> None:
    """Delete a document, its chunks and its vector; a duplicate of it takes its place on the
    next sync."""
    with transaction(target.con) as con:
        ids = [r[0] for r in con.execute("SELECT id FROM chunks WHERE document_id=?", (doc_id,))]
        con.execute("DELETE FROM chunks WHERE document_id=?", (doc_id,))
        con.execute("DELETE FROM document_vectors WHERE document_id=?", (doc_id,))
        con.execute(
            "UPDATE documents SET status='failed', mtime_ns=0 WHERE duplicate_of=?", (doc_id,)
        )
        con.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        store.bump_seq(con)
    if ids:
        target.index.delete(ids)
    target.document_index.delete([doc_id])


def refresh_vectors(con: sqlite3.Connection, embedder: Embedder, kind: str | None = None,
                    batch: int = 256) -> int:
    """Make every document's vector again from its stored passages (after a re-embed);
    returns the number of documents."""
    ids = [r[0] for r in con.execute(
        "SELECT DISTINCT document_id FROM chunks ORDER BY document_id")]
    columns = "title, ''" if (kind or DOCUMENT_VECTOR) == "mean" else "title, text"
    for start in range(0, len(ids), batch):
        part = ids[start:start + batch]
        docs = []
        for doc_id in part:
            row = con.execute(f"SELECT {columns} FROM documents WHERE id=?",
                              (doc_id,)).fetchone()
            vecs = np.stack([np.frombuffer(r[0], dtype=np.float32) for r in con.execute(
                "SELECT vector FROM chunks WHERE document_id=? ORDER BY ord", (doc_id,))])
            docs.append((row[0], row[1], vecs))
        vectors = document_vectors(embedder, docs, kind)
        with transaction(con):
            for doc_id, vec in zip(part, vectors, strict=True):
                save_vector(con, doc_id, vec)
    return len(ids)
