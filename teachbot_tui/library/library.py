"""The document library: import folders, keep them in sync, and search them.

Data flows one way: files -> parse -> chunk -> embed -> SQLite (+FTS5) -> hnswlib. SQLite
is committed one document at a time, so a crash loses at most the documents in flight; the
vector index is repaired from SQLite on open (see :mod:`.index`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import defaults
from ..config import Settings
from ..config import load as load_settings
from ..engine.base import Cancel
from ..paths import Paths
from . import store
from .embedder import Embedder
from .keywords import KeywordPlanner
from .types import (
    CollectionInfo,
    DocumentInfo,
    Failure,
    Hit,
    ImportProgress,
    ImportReport,
    LibraryError,
    Passage,
)

Progress = Callable[[ImportProgress], None]

EMBED_BATCH_CHUNKS = 256  # chunks gathered across files before one encode call
SAVE_EVERY_S = 10.0  # save the vector index at least this often during an import
RRF_K = 10  # tuned on scripts/data/beir-* with eval_retrieval.py --tune (docs/retrieval.md)
KEYWORD_WEIGHT = 1.0  # a BM25 rank counts like a vector rank, times coverage ** COVERAGE_POWER
COVERAGE_POWER = 2  # share of the question's words in the passage, squared (see .keywords)
COMPACT_WASTE = 0.3  # rebuild the index when this share of its labels is deleted
DEFAULT_COLLECTION = "library"
TITLE_CHARS = 120  # at most this much of a document's title is embedded with each passage
EMBEDDING_RECIPE = 2  # what a passage's vector is of: 1 the passage alone, 2 title + passage


@dataclass
class _Pending:
    path: Path
    collection: str
    category: str
    size: int
    mtime_ns: int
    sha256: str
    existing_id: int | None
    parsed: object
    chunks: list = field(default_factory=list)
    is_update: bool = False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fused_score(vector_rank: int | None, keyword_rank: int | None, coverage: float,
                rrf_k: int = RRF_K, weight: float = KEYWORD_WEIGHT,
                power: float = COVERAGE_POWER) -> float:
    """A passage's hybrid score from its ranks (0-based; None: not in that list) and the
    share of the question's words it contains: reciprocal-rank fusion in which the keyword
    rank counts ``weight * coverage ** power`` (docs/retrieval.md)."""
    score = 0.0 if vector_rank is None else 1.0 / (rrf_k + vector_rank + 1)
    if keyword_rank is not None:
        score += weight * coverage ** power / (rrf_k + keyword_rank + 1)
    return score


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


class Library:
    def __init__(
        self,
        paths: Paths | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.paths = paths or Paths.from_env()
        self.settings = settings or load_settings(self.paths)
        self.dir = self.paths.library_dir
        self.con = store.connect(self.dir / "library.db")
        self._embedder = embedder
        self._index = None
        self._index_stamp: int | None = None
        # made now, before any transaction: its temp table must not be created inside one
        self.keywords = KeywordPlanner(self.con)
        self._lock = store.WriterLock(self.dir / "write.lock")
        self._embedder_checked = False
        self._writing = False

    # -- components ----------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
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

    @property
    def index(self):  # type: ignore[no-untyped-def]
        from .index import VectorIndex

        if self._index is None:
            self._index = VectorIndex(self.dir / "vectors.hnsw", self.embedder.dim)
            self._index_stamp = self._meta_stamp()
            self._repair_index()
        elif not self._writing and self._meta_stamp() != self._index_stamp:
            # another process saved a newer index: reload it
            self._index = VectorIndex(self.dir / "vectors.hnsw", self.embedder.dim)
            self._index_stamp = self._meta_stamp()
            self._repair_index()
        return self._index

    def _meta_stamp(self) -> int | None:
        try:
            return (self.dir / "vectors.json").stat().st_mtime_ns
        except OSError:
            return None

    def _repair_index(self) -> None:
        idx = self._index
        seq = store.current_seq(self.con)
        if idx.seq == seq:
            return
        db_ids = {r[0] for r in self.con.execute("SELECT id FROM chunks")}
        labels = idx.labels()
        idx.delete(labels - db_ids)
        missing = sorted(db_ids - labels)
        for i in range(0, len(missing), 5000):
            part = missing[i : i + 5000]
            rows = self.con.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            ).fetchall()
            idx.add([r[0] for r in rows],
                    np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))
        if self._writing:
            idx.save(seq)

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
        self.keywords.close()
        self.con.close()

    # -- import --------------------------------------------------------------------------
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

    def sync(self, progress: Progress | None = None, cancel: Cancel | None = None) -> ImportReport:
        """Re-scan every imported root: pick up new, changed, moved and deleted files."""
        roots = [(Path(r["path"]), r["collection"])
                 for r in self.con.execute("SELECT path, collection FROM roots")]
        return self._import(roots, progress, cancel)

    def _import(self, roots: list[tuple[Path, str | None]], progress: Progress | None,
                cancel: Cancel | None) -> ImportReport:
        from .parsers import SUPPORTED_SUFFIXES

        t0 = time.perf_counter()
        report = ImportReport()
        emit = progress or (lambda _p: None)
        with self._lock:
            self._writing = True
            try:
                self._check_embedder(writing=True)
                emit(ImportProgress("scan"))
                files: list[tuple[Path, str, str]] = []  # (path, collection, category)
                scanned_roots: list[Path] = []
                for root, coll in roots:
                    if not os.path.lexists(root):
                        report.failed.append(Failure(str(root), "vanished: no such file or folder"))
                        continue
                    coll = coll or self._root_collection(root) or DEFAULT_COLLECTION
                    self.con.execute(
                        "INSERT INTO roots(path, collection) VALUES (?, ?) ON CONFLICT(path) "
                        "DO UPDATE SET collection=excluded.collection", (str(root), coll))
                    scanned_roots.append(root)
                    for path, failure in _walk(root, SUPPORTED_SUFFIXES):
                        if failure:
                            report.failed.append(Failure(str(path), failure))
                        else:
                            files.append((path, coll, _category(root, path, coll)))
                self._process(files, scanned_roots, report, emit, cancel, t0)
            finally:
                self._writing = False
        report.seconds = round(time.perf_counter() - t0, 3)
        emit(ImportProgress("done", report.added + report.updated + report.unchanged,
                            len(report.failed), report.chunks_added))
        return report

    def _root_collection(self, root: Path) -> str | None:
        row = self.con.execute("SELECT collection FROM roots WHERE path=?", (str(root),)).fetchone()
        return row[0] if row else None

    def _process(self, files: list[tuple[Path, str, str]], roots: list[Path],
                 report: ImportReport, emit: Callable[[ImportProgress], None],
                 cancel: Cancel | None, t0: float) -> None:
        from .chunking import chunk_document
        from .parsers import ParseError, parse_file

        con = self.con
        current = {str(p) for p, _, _ in files}
        by_path = {}
        for root in roots:
            prefix = str(root) + os.sep
            for row in con.execute(
                "SELECT id, path, size, mtime_ns, sha256, status FROM documents "
                "WHERE path = ? OR substr(path, 1, ?) = ?", (str(root), len(prefix), prefix)
            ):
                by_path[row["path"]] = row
        gone = {path: row for path, row in by_path.items() if path not in current}
        gone_by_hash = {row["sha256"]: row for row in gone.values()}

        work: list[tuple[Path, str, str, os.stat_result]] = []
        for path, coll, cat in files:
            try:
                st = path.stat()
            except OSError as exc:
                report.failed.append(Failure(str(path), _os_reason(exc)))
                continue
            row = by_path.get(str(path))
            if row and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns \
                    and row["status"] != "failed":
                report.unchanged += 1
                continue
            work.append((path, coll, cat, st))

        total = len(files)
        done = report.unchanged
        pending: list[_Pending] = []
        pending_chunks = 0
        chunks_done = 0
        last_save = time.perf_counter()
        embed_started: float | None = None
        count_tokens = None
        max_tokens = 0

        def flush() -> None:
            nonlocal pending, pending_chunks, chunks_done, last_save, done, embed_started
            if not pending:
                return
            if embed_started is None:
                embed_started = time.perf_counter()
            texts = [embedding_text(p.parsed.title, c.text) for p in pending for c in p.chunks]
            vectors = self.embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
            offset = 0
            for p in pending:
                n = len(p.chunks)
                self._commit_document(p, vectors[offset : offset + n], report)
                offset += n
                chunks_done += n
                done += 1
            pending, pending_chunks = [], 0
            elapsed = time.perf_counter() - embed_started
            rate = chunks_done / elapsed if elapsed > 0 else 0.0
            left = total - done
            eta = (left * (chunks_done / max(done, 1)) / rate) if rate > 0 else None
            emit(ImportProgress("import", done, total, chunks_done, round(rate, 1),
                                round(eta, 1) if eta is not None else None, ""))
            if time.perf_counter() - last_save > SAVE_EVERY_S:
                self.index.save(store.current_seq(con))
                last_save = time.perf_counter()

        emit(ImportProgress("import", done, total, 0, 0.0, None, ""))
        for path, coll, cat, st in work:
            if cancel is not None and cancel.is_set:
                break
            row = by_path.get(str(path))
            try:
                sha = _sha256(path)
            except OSError as exc:
                report.failed.append(Failure(str(path), _os_reason(exc)))
                continue
            if row and row["sha256"] == sha and row["status"] != "failed":
                con.execute("UPDATE documents SET size=?, mtime_ns=? WHERE id=?",
                            (st.st_size, st.st_mtime_ns, row["id"]))
                report.unchanged += 1
                done += 1
                continue
            if row is None and sha in gone_by_hash:
                old = gone_by_hash.pop(sha)
                gone.pop(old["path"], None)
                with _tx(con):
                    con.execute(
                        "UPDATE documents SET path=?, collection=?, category=?, size=?, "
                        "mtime_ns=? WHERE id=?",
                        (str(path), coll, cat, st.st_size, st.st_mtime_ns, old["id"]))
                    con.execute("DELETE FROM failures WHERE path=?", (str(path),))
                    store.bump_seq(con)
                report.moved += 1
                done += 1
                continue
            if row is None:
                dup = con.execute(
                    "SELECT id FROM documents WHERE sha256=? AND status='ok' LIMIT 1", (sha,)
                ).fetchone()
                if dup is not None:
                    with _tx(con):
                        con.execute(
                            "INSERT INTO documents(path, collection, category, format, size,"
                            " mtime_ns, sha256, status, duplicate_of) VALUES (?,?,?,?,?,?,?,?,?)",
                            (str(path), coll, cat, path.suffix.lower().lstrip("."),
                             st.st_size, st.st_mtime_ns, sha, "duplicate", dup[0]))
                        store.bump_seq(con)
                    report.added += 1
                    done += 1
                    continue
            emit(ImportProgress("import", done, total, chunks_done, 0.0, None, str(path)))
            try:
                parsed = parse_file(path)
            except ParseError as exc:
                self._record_failure(path, row, str(exc), report)
                done += 1
                continue
            if count_tokens is None:
                count_tokens = self.embedder.count_tokens
                max_tokens = min(256, self.embedder.max_seq_length)
            title = context_title(parsed.title)
            room = max_tokens - (count_tokens(title) + 1 if title else 0)  # title + newline
            chunks = chunk_document(parsed, count_tokens, max_tokens=room)
            if not chunks:
                self._record_failure(path, row, "empty: no text to index", report)
                done += 1
                continue
            pending.append(_Pending(path, coll, cat, st.st_size, st.st_mtime_ns, sha,
                                    row["id"] if row else None, parsed, chunks,
                                    is_update=row is not None))
            pending_chunks += len(chunks)
            if pending_chunks >= EMBED_BATCH_CHUNKS:
                flush()
        flush()
        if cancel is None or not cancel.is_set:
            for row in gone.values():
                self._delete_document(row["id"])
                report.removed += 1
        self._maybe_compact()
        if self._index is not None or report.chunks_added or report.removed:
            self.index.save(store.current_seq(con))

    def _record_failure(self, path: Path, row: sqlite3.Row | None, reason: str,
                        report: ImportReport) -> None:
        report.failed.append(Failure(str(path), reason))
        with _tx(self.con):
            self.con.execute("INSERT OR REPLACE INTO failures(path, reason) VALUES (?,?)",
                             (str(path), reason))
        if row is not None:  # the file changed and no longer parses: its old text is stale
            self._delete_document(row["id"])

    def _commit_document(self, p: _Pending, vectors: np.ndarray, report: ImportReport) -> None:
        con = self.con
        doc = p.parsed
        old_ids: list[int] = []
        with _tx(con):
            if p.existing_id is not None:
                old_ids = [r[0] for r in con.execute(
                    "SELECT id FROM chunks WHERE document_id=?", (p.existing_id,))]
                con.execute("DELETE FROM chunks WHERE document_id=?", (p.existing_id,))
                con.execute(
                    "UPDATE documents SET collection=?, category=?, title=?, topic=?, format=?,"
                    " size=?, mtime_ns=?, sha256=?, status='ok', duplicate_of=NULL, text=?,"
                    " imported_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
                    (p.collection, p.category, doc.title, doc.topic, doc.meta.get("format", ""),
                     p.size, p.mtime_ns, p.sha256, doc.text, p.existing_id))
                doc_id = p.existing_id
            else:
                cur = con.execute(
                    "INSERT INTO documents(path, collection, category, title, topic, format, size,"
                    " mtime_ns, sha256, text) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (str(p.path), p.collection, p.category, doc.title, doc.topic,
                     doc.meta.get("format", p.path.suffix.lstrip(".")), p.size, p.mtime_ns,
                     p.sha256, doc.text))
                doc_id = int(cur.lastrowid or 0)
            new_ids = []
            for ordinal, (chunk, vec) in enumerate(zip(p.chunks, vectors, strict=True)):
                cur = con.execute(
                    "INSERT INTO chunks(document_id, ord, text, start, end, page, heading, vector)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (doc_id, ordinal, chunk.text, chunk.start, chunk.end, chunk.page,
                     chunk.heading or "", vec.astype(np.float32).tobytes()))
                new_ids.append(int(cur.lastrowid or 0))
            con.execute("DELETE FROM failures WHERE path=?", (str(p.path),))
            store.bump_seq(con)
        index = self.index
        index.add(new_ids, vectors)
        index.delete(old_ids)
        if p.is_update:
            report.updated += 1
        else:
            report.added += 1
        report.chunks_added += len(new_ids)

    def _delete_document(self, doc_id: int) -> None:
        con = self.con
        with _tx(con):
            ids = [r[0] for r in con.execute("SELECT id FROM chunks WHERE document_id=?",
                                             (doc_id,))]
            con.execute("DELETE FROM chunks WHERE document_id=?", (doc_id,))
            # a duplicate pointing at this document takes its place on the next sync
            con.execute("UPDATE documents SET status='failed', mtime_ns=0 WHERE duplicate_of=?",
                        (doc_id,))
            con.execute("DELETE FROM documents WHERE id=?", (doc_id,))
            store.bump_seq(con)
        if ids:
            self.index.delete(ids)

    def _maybe_compact(self) -> None:
        if self._index is None:
            return
        idx = self._index
        if idx.count >= 2048 and idx.deleted > COMPACT_WASTE * idx.count:
            live = self.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            idx.reset(int(live * 1.5))
            self._repair_index()

    # -- the embedder the vectors came from --------------------------------------------
    def embedding_stamp(self) -> dict[str, object] | None:
        """Which embedder (``model``: its fingerprint) and recipe made the stored vectors."""
        row = self.con.execute("SELECT value FROM meta WHERE key='embedding'").fetchone()
        return json.loads(row[0]) if row else None

    def _set_embedding_stamp(self, recipe: int) -> None:
        stamp = json.dumps({"model": self.embedder.model_id, "recipe": recipe})
        with _tx(self.con):
            self.con.execute("INSERT INTO meta(key, value) VALUES ('embedding', ?) "
                             "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (stamp,))

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
                self._set_embedding_stamp(1 if has_chunks else EMBEDDING_RECIPE)
        elif stamp.get("model") != self.embedder.model_id:
            raise LibraryError(
                f"the library's passages were embedded with {stamp.get('model')}, not with the "
                f"configured embedder ({self.embedder.model_id}); run `teachbot library "
                "reembed` to embed them again, or set `embedder` back in config.toml")
        self._embedder_checked = True

    def needs_reembed(self) -> bool:
        """True when the stored vectors come from another embedder or an older recipe."""
        if self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None:
            return False
        # no stamp: a library from before stamps, made with this embedder and recipe 1
        stamp = self.embedding_stamp() or {"model": self.embedder.model_id, "recipe": 1}
        return stamp.get("model") != self.embedder.model_id or stamp.get("recipe") != EMBEDDING_RECIPE

    def reembed(self, progress: Progress | None = None, cancel: Cancel | None = None) -> int:
        """Embed every passage again with the configured embedder and the current recipe,
        then rebuild the vector index; returns the number of passages. Interrupted, the old
        stamp stays and the next run starts over."""
        from .index import VectorIndex

        emit = progress or (lambda _p: None)
        t0 = time.perf_counter()
        with self._lock:
            self._writing = True
            try:
                con = self.con
                rows = con.execute("SELECT c.id, c.text, d.title FROM chunks c JOIN documents d "
                                   "ON d.id = c.document_id ORDER BY c.id").fetchall()
                total = len(rows)
                for start in range(0, total, EMBED_BATCH_CHUNKS):
                    if cancel is not None and cancel.is_set:
                        return start
                    part = rows[start:start + EMBED_BATCH_CHUNKS]
                    vectors = self.embedder.encode([embedding_text(r[2], r[1]) for r in part])
                    with _tx(con):
                        con.executemany("UPDATE chunks SET vector=? WHERE id=?",
                                        [(v.astype(np.float32).tobytes(), r[0])
                                         for r, v in zip(part, vectors, strict=True)])
                    done = start + len(part)
                    rate = done / max(time.perf_counter() - t0, 1e-9)
                    emit(ImportProgress("reembed", done, total, done, round(rate, 1),
                                        (total - done) / rate if rate else None))
                # the index is rebuilt from the new vectors and saved before the stamp says
                # they are new: killed in between, the old stamp asks for another run
                with _tx(con):
                    store.bump_seq(con)
                self._index = VectorIndex(self.dir / "vectors.hnsw", self.embedder.dim)
                self._index.reset(int(total * 1.5))
                self._repair_index()  # adds every vector from SQLite, saves at the new seq
                self._index_stamp = self._meta_stamp()
                self._set_embedding_stamp(EMBEDDING_RECIPE)
                self._embedder_checked = False
                emit(ImportProgress("done", total, total, total))
                return total
            finally:
                self._writing = False

    # -- removal -------------------------------------------------------------------------
    def remove_document(self, path: str | Path) -> int:
        with self._lock:
            self._writing = True
            try:
                p = str(Path(path).expanduser().absolute())
                rows = self.con.execute(
                    "SELECT id FROM documents WHERE path=? OR substr(path,1,?)=?",
                    (p, len(p) + 1, p + os.sep)).fetchall()
                for r in rows:
                    self._delete_document(r[0])
                self.con.execute("DELETE FROM roots WHERE path=?", (p,))
                if rows:
                    self.index.save(store.current_seq(self.con))
                return len(rows)
            finally:
                self._writing = False

    def remove_collection(self, name: str) -> int:
        with self._lock:
            self._writing = True
            try:
                rows = self.con.execute("SELECT id FROM documents WHERE collection=?",
                                        (name,)).fetchall()
                for r in rows:
                    self._delete_document(r[0])
                self.con.execute("DELETE FROM roots WHERE collection=?", (name,))
                if rows:
                    self.index.save(store.current_seq(self.con))
                return len(rows)
            finally:
                self._writing = False

    # -- reading -------------------------------------------------------------------------
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

    def failures(self) -> list[Failure]:
        return [Failure(r[0], r[1]) for r in
                self.con.execute("SELECT path, reason FROM failures ORDER BY path")]

    def warm(self) -> None:
        """Load the embedder now (ONNX Runtime: a fraction of a second) if there is
        anything to search, so the first search is as fast as the next."""
        if self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None:
            _ = self.embedder.model

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

    def passage(self, chunk_id: int) -> Passage:
        r = self.con.execute(
            "SELECT c.start, c.end, c.page, c.heading, d.path, d.text FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE c.id=?", (chunk_id,)).fetchone()
        if r is None:
            raise LibraryError(f"passage {chunk_id} is no longer in the library; search again")
        return Passage(r["path"], r["page"], r["heading"], r["text"], r["start"], r["end"])

    # -- search --------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        collection: str | None = None,
        mode: str | None = None,
        threshold: float | None = None,
        per_document: int | None = None,
    ) -> list[Hit]:
        """Top ``k`` passages for ``query``: hybrid (vectors + BM25, reciprocal-rank fused),
        vector-only or keyword-only. ``threshold`` drops passages whose cosine similarity
        to the query is lower. No document contributes more than ``per_document`` hits."""
        k = k or self.settings.retrieval_k
        mode = mode or self.settings.retrieval_mode
        if mode not in ("hybrid", "vector", "keyword"):
            raise LibraryError(f"unknown search mode {mode!r}: use hybrid, vector or keyword")
        query = query.strip()
        if not query or self.con.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None:
            return []
        if mode != "keyword":
            self._check_embedder(writing=False)
        fetch = max(50, k * 5)
        per_document = per_document or max(2, (k + 2) // 3)
        qv = self.embedder.encode_query(query) if mode in ("hybrid", "vector") else None
        while True:
            out, exhausted, lowest = self._search_round(query, qv, mode, k, fetch, collection,
                                                        threshold, per_document)
            # one long document can fill every candidate slot: widen until k or exhausted,
            # but not past the threshold (candidates come best first)
            below = threshold is not None and lowest is not None and lowest < threshold
            if len(out) >= k or exhausted or below or \
                    fetch >= self.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]:
                return out
            fetch *= 4

    def _search_round(self, query: str, qv: np.ndarray | None, mode: str, k: int, fetch: int,
                      collection: str | None, threshold: float | None,
                      per_document: int) -> tuple[list[Hit], bool, float | None]:
        widen = 4 if collection else 1
        vector: list[int] = []
        keyword: list[int] = []
        lowest: float | None = None
        plan = None
        if qv is not None:
            found = self.index.query(qv, fetch * widen)
            vector = [cid for cid, _score in found]
            lowest = found[-1][1] if found else None
        if mode in ("hybrid", "keyword"):
            plan = self.keywords.plan(query)
            if plan.match:
                sql = ("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                       "ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?")
                try:
                    keyword = [cid for (cid,) in self.con.execute(sql, (plan.match, fetch * widen))]
                except sqlite3.OperationalError:
                    keyword = []
        exhausted = max(len(vector), len(keyword)) < fetch * widen
        if not vector and not keyword:
            return [], True, lowest
        hits = self._fetch_hits(dict.fromkeys(vector + keyword), qv, collection)
        vector_rank = {cid: rank for rank, cid in enumerate(vector)}
        keyword_rank = {cid: rank for rank, cid in enumerate(keyword)}
        for h in hits:
            kw = keyword_rank.get(h.chunk_id)
            if qv is None:  # keyword only: BM25 order
                h.fused = fused_score(None, kw, 1.0, weight=1.0)
                h.score = round(h.fused * RRF_K, 4)
            else:  # hybrid (or vector): a keyword rank weighted by the question's coverage
                cover = plan.coverage(self.keywords.text_terms(h.text)) if plan and kw is not None else 0.0
                h.fused = fused_score(vector_rank.get(h.chunk_id), kw, cover)
        if threshold is not None and qv is not None:
            hits = [h for h in hits if h.score >= threshold]
        hits.sort(key=lambda h: (-h.fused, -h.score))
        out: list[Hit] = []
        per_doc: dict[int, int] = {}
        seen_text: set[str] = set()
        for h in hits:
            key = " ".join(h.text.split())
            if key in seen_text or per_doc.get(h.document_id, 0) >= per_document:
                continue
            seen_text.add(key)
            per_doc[h.document_id] = per_doc.get(h.document_id, 0) + 1
            out.append(h)
            if len(out) == k:
                break
        return out, exhausted, lowest

    def _fetch_hits(self, ids: dict[int, None], qv: np.ndarray | None,
                    collection: str | None) -> list[Hit]:
        """The rows of ``ids`` (in the collection, if given), scored by cosine similarity to
        ``qv``; ``fused`` is left at 0 for the caller."""
        sql = ("SELECT c.id, c.document_id, c.text, c.start, c.end, c.page, c.heading, c.vector,"
               " d.path, d.collection, d.topic FROM chunks c JOIN documents d ON d.id=c.document_id"
               f" WHERE c.id IN ({','.join('?' * len(ids))})")
        args: list[object] = list(ids)
        if collection:
            sql += " AND d.collection=?"
            args.append(collection)
        hits = []
        for r in self.con.execute(sql, args):
            score = float(np.frombuffer(r["vector"], dtype=np.float32) @ qv) if qv is not None else 0.0
            hits.append(Hit(r["id"], r["document_id"], r["path"], r["collection"], r["page"],
                            r["heading"], r["text"], round(score, 4), r["start"], r["end"],
                            r["topic"]))
        return hits


class _tx:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK) on an autocommit connection."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")


def _category(root: Path, path: Path, collection: str) -> str:
    try:
        rel = path.relative_to(root)
    except ValueError:
        return collection
    return rel.parts[0] if len(rel.parts) > 1 else collection


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "vanished: the file disappeared during the import"
    if exc.errno == errno.ELOOP:
        return "symlink-loop: the path is a symbolic link loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "unreadable: permission denied; check the file's permissions"
    return f"unreadable: {exc.strerror}"


def _walk(root: Path, suffixes: frozenset[str]) -> Iterator[tuple[Path, str | None]]:
    """Files under root with a supported suffix (hidden files and folders skipped), plus
    (path, reason) for what cannot be walked."""
    try:
        st = root.stat()
    except OSError as exc:
        yield root, _os_reason(exc)
        return
    if not os.path.isdir(root):
        if not stat.S_ISREG(st.st_mode):
            yield root, "unreadable: not a regular file (a pipe or device)"
        elif root.suffix.lower() in suffixes:
            yield root, None
        else:
            yield root, f"unsupported: {root.suffix or 'no extension'} files cannot be imported"
        return
    seen_dirs = {(st.st_dev, st.st_ino)}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield folder, _os_reason(exc)
            continue
        for entry in entries:
            if entry.name.startswith((".", "~$")):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=True):
                    info = entry.stat(follow_symlinks=True)
                    key = (info.st_dev, info.st_ino)
                    if key in seen_dirs:
                        yield path, "symlink-loop: this folder links back to one already scanned"
                        continue
                    seen_dirs.add(key)
                    stack.append(path)
                    continue
            except OSError as exc:
                yield path, _os_reason(exc)
                continue
            if path.suffix.lower() not in suffixes:
                continue
            try:
                info = path.stat()
            except OSError as exc:
                yield path, _os_reason(exc)
                continue
            if not stat.S_ISREG(info.st_mode):  # a pipe or device would block a read
                yield path, "unreadable: not a regular file (a pipe or device)"
                continue
            yield path, None
