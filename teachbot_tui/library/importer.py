"""Importing files into the library: walk, parse, chunk, embed, commit.

An :class:`ImportRun` is one ``import`` or ``sync``. Its steps, in order:

1. :meth:`~ImportRun.scan` walks the roots for files with a supported suffix;
2. :meth:`~ImportRun.find_stored` and :meth:`~ImportRun.sort_out` compare them with the
   documents already stored: files whose size and mtime match are unchanged, stored documents
   no longer found are gone;
3. for each remaining file, :meth:`~ImportRun.import_file` reads it once (a file over the size
   limit is refused unread), hashes those bytes and either touches an
   unchanged document, records a move (same hash as a gone document) or a duplicate, or
   parses and chunks it into the embedding queue;
4. :meth:`~ImportRun.embed_queue` embeds the queued chunks in one batch and commits each
   document with its chunks and its document vector in its own transaction
   (:mod:`.documents`; a crash loses at most the documents in flight);
5. :meth:`~ImportRun.remove_gone` deletes the gone documents (not after a cancel).

SQLite is the truth; the vector indexes (passages, documents) follow it and are saved every
``SAVE_EVERY_S`` and at the end (the library repairs them from SQLite on open if a crash came
in between).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from . import documents, store
from .documents import EMBEDDING_RECIPE, DocumentTarget, context_title, embedding_text
from .documents import delete as delete_document
from .store import transaction
from .types import Failure, ImportProgress, ImportReport
from .walk import category_of, os_reason, walk

if TYPE_CHECKING:
    from ..engine.base import Cancel
    from .chunking import Chunk
    from .formats import ParsedDocument

Progress = Callable[[ImportProgress], None]

EMBED_BATCH_CHUNKS = 256  # chunks gathered across files before one encode call
SAVE_EVERY_S = 10.0  # save the vector indexes at least this often during an import
DEFAULT_COLLECTION = "library"

__all__ = ["EMBEDDING_RECIPE", "ImportRun", "Progress", "context_title", "delete_document",
           "embedding_text"]


class ImportTarget(DocumentTarget, Protocol):
    """What an import writes to: the library's SQLite store and its vector indexes."""

    @property
    def index_loaded(self) -> bool: ...

    def compact_index(self) -> None: ...

    def save_indexes(self) -> None: ...


@dataclass
class _File:
    """A file found by the scan, with the collection and category it goes into."""

    path: Path
    collection: str
    category: str


@dataclass
class _Queued:
    """A parsed and chunked document waiting for its vectors."""

    file: _File
    info: os.stat_result
    sha256: str
    existing_id: int | None
    parsed: ParsedDocument
    chunks: list[Chunk] = field(default_factory=list)


class ImportRun:
    """One import or sync of ``roots`` (path, collection or None) into ``target``."""

    def __init__(self, target: ImportTarget, progress: Progress, cancel: Cancel | None) -> None:
        self.target = target
        self.con = target.con
        self.emit = progress
        self.cancel = cancel
        self.report = ImportReport()
        self._total = 0
        self._done = 0
        self._chunks_done = 0
        self._embed_started: float | None = None
        self._last_save = time.perf_counter()
        self._queue: list[_Queued] = []
        self._queued_chunks = 0
        self._count_tokens: Callable[[str], int] | None = None
        self._max_tokens = 0
        self._known: dict[str, sqlite3.Row] = {}  # stored documents under the roots, by path
        self._gone: dict[str, sqlite3.Row] = {}  # those of them not found by the scan
        self._gone_by_hash: dict[str, sqlite3.Row] = {}

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set

    def run(self, roots: list[tuple[Path, str | None]]) -> ImportReport:
        self.emit(ImportProgress("scan"))
        files, scanned = self.scan(roots)
        self.find_stored(files, scanned)
        work = self.sort_out(files)
        self._total = len(files)
        self._done = self.report.unchanged
        self.emit(ImportProgress("import", self._done, self._total, 0, 0.0, None, ""))
        for file, info in work:
            if self.cancelled:
                break
            self.import_file(file, info)
        self.embed_queue()
        if not self.cancelled:
            self.remove_gone()
        self.target.compact_index()
        report = self.report
        if self.target.index_loaded or report.chunks_added or report.removed:
            self.target.save_indexes()
        return report

    # -- 1. scan -------------------------------------------------------------------------
    def scan(self, roots: list[tuple[Path, str | None]]) -> tuple[list[_File], list[Path]]:
        """The files under each root, and the roots that exist (recorded in ``roots``)."""
        from .formats import SUPPORTED_SUFFIXES

        files: list[_File] = []
        scanned: list[Path] = []
        for root, collection in roots:
            if not os.path.lexists(root):
                self.report.failed.append(Failure(str(root), "vanished: no such file or folder"))
                continue
            collection = collection or self._root_collection(root) or DEFAULT_COLLECTION
            self.con.execute(
                "INSERT INTO roots(path, collection) VALUES (?, ?) ON CONFLICT(path) "
                "DO UPDATE SET collection=excluded.collection",
                (str(root), collection),
            )
            scanned.append(root)
            for path, failure in walk(root, SUPPORTED_SUFFIXES):
                if failure:
                    self.report.failed.append(Failure(str(path), failure))
                else:
                    files.append(_File(path, collection, category_of(root, path, collection)))
        return files, scanned

    def _root_collection(self, root: Path) -> str | None:
        row = self.con.execute("SELECT collection FROM roots WHERE path=?", (str(root),)).fetchone()
        return row[0] if row else None

    # -- 2. sort out -----------------------------------------------------------------------
    def find_stored(self, files: list[_File], roots: list[Path]) -> None:
        """The stored documents under ``roots``, and those among them the scan did not find."""
        found = {str(file.path) for file in files}
        known = self._known
        for root in roots:
            prefix = str(root) + os.sep
            for row in self.con.execute(
                "SELECT id, path, size, mtime_ns, sha256, status FROM documents "
                "WHERE path = ? OR substr(path, 1, ?) = ?",
                (str(root), len(prefix), prefix),
            ):
                known[row["path"]] = row
        self._gone = {path: row for path, row in known.items() if path not in found}
        self._gone_by_hash = {row["sha256"]: row for row in self._gone.values()}

    def sort_out(self, files: list[_File]) -> list[tuple[_File, os.stat_result]]:
        """The files that may have changed; those whose size and mtime match count unchanged."""
        work = []
        for file in files:
            try:
                info = file.path.stat()
            except OSError as exc:
                self.report.failed.append(Failure(str(file.path), os_reason(exc)))
                continue
            row = self._known.get(str(file.path))
            if (
                row
                and row["size"] == info.st_size
                and row["mtime_ns"] == info.st_mtime_ns
                and row["status"] != "failed"
            ):
                self.report.unchanged += 1
                continue
            work.append((file, info))
        return work

    # -- 3. one file -----------------------------------------------------------------------
    def import_file(self, file: _File, info: os.stat_result) -> None:
        """Read the file once (a file over the size limit is refused unread), hash those
        bytes, then touch, move, mark as duplicate, or parse them and queue the result.
        A file that changes while it is read is reported, not stored half-old."""
        from .formats import MAX_FILE_BYTES, ParseError, read_file

        row = self._known.get(str(file.path))
        if info.st_size > MAX_FILE_BYTES:
            self._record_failure(
                file.path, row, f"huge: {info.st_size / 2**20:.0f} MB is over the "
                f"{MAX_FILE_BYTES // 2**20} MB limit; split the file")
            return
        try:
            data = read_file(file.path, MAX_FILE_BYTES)
            after = file.path.stat()
        except ParseError as exc:
            self._record_failure(file.path, row, str(exc))
            return
        except OSError as exc:
            self._record_failure(file.path, row, os_reason(exc))
            return
        if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns) or \
                len(data) != after.st_size:
            self._record_failure(file.path, row, "changed: the file changed while it was "
                                 "read; import again once it is saved")
            return
        sha = hashlib.sha256(data).hexdigest()
        if row and row["sha256"] == sha and row["status"] != "failed":
            self._touch(row["id"], info)
        elif row is None and sha in self._gone_by_hash:
            self._record_move(file, info, self._gone_by_hash.pop(sha))
        elif row is None and (original := self._stored_copy(sha)) is not None:
            self._record_duplicate(file, info, sha, original)
        else:
            self._parse_and_queue(file, info, sha, row, data)

    def _touch(self, doc_id: int, info: os.stat_result) -> None:
        """Same bytes, new mtime: only the stat is updated."""
        self.con.execute(
            "UPDATE documents SET size=?, mtime_ns=? WHERE id=?",
            (info.st_size, info.st_mtime_ns, doc_id),
        )
        self.report.unchanged += 1
        self._done += 1

    def _record_move(self, file: _File, info: os.stat_result, old: sqlite3.Row) -> None:
        """A gone document's bytes turned up under a new path: move it, keeping its chunks."""
        self._gone.pop(old["path"], None)
        with transaction(self.con) as con:
            con.execute(
                "UPDATE documents SET path=?, collection=?, category=?, size=?, "
                "mtime_ns=? WHERE id=?",
                (
                    str(file.path),
                    file.collection,
                    file.category,
                    info.st_size,
                    info.st_mtime_ns,
                    old["id"],
                ),
            )
            con.execute("DELETE FROM failures WHERE path=?", (str(file.path),))
            store.bump_seq(con)
        self.report.moved += 1
        self._done += 1

    def _stored_copy(self, sha: str) -> int | None:
        row = self.con.execute(
            "SELECT id FROM documents WHERE sha256=? AND status='ok' LIMIT 1", (sha,)
        ).fetchone()
        return row[0] if row else None

    def _record_duplicate(
        self, file: _File, info: os.stat_result, sha: str, original: int
    ) -> None:
        """A new path with the bytes of a stored document: recorded, not embedded twice."""
        with transaction(self.con) as con:
            con.execute(
                "INSERT INTO documents(path, collection, category, format, size,"
                " mtime_ns, sha256, status, duplicate_of) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    str(file.path),
                    file.collection,
                    file.category,
                    file.path.suffix.lower().lstrip("."),
                    info.st_size,
                    info.st_mtime_ns,
                    sha,
                    "duplicate",
                    original,
                ),
            )
            store.bump_seq(con)
        self.report.added += 1
        self._done += 1

    def _parse_and_queue(
        self, file: _File, info: os.stat_result, sha: str, row: sqlite3.Row | None, data: bytes
    ) -> None:
        from .chunking import chunk_document
        from .formats import ParseError, parse_bytes

        self.emit(
            ImportProgress(
                "import", self._done, self._total, self._chunks_done, 0.0, None, str(file.path)
            )
        )
        try:
            parsed = parse_bytes(data, file.path.suffix)
        except ParseError as exc:
            self._record_failure(file.path, row, str(exc))
            return
        count_tokens, max_tokens = self._token_budget()
        title = context_title(parsed.title)
        room = max_tokens - (count_tokens(title) + 1 if title else 0)  # title + newline
        chunks = chunk_document(parsed, count_tokens, max_tokens=room)
        if not chunks:
            self._record_failure(file.path, row, "empty: no text to index")
            return
        existing = row["id"] if row else None
        self._queue.append(_Queued(file, info, sha, existing, parsed, chunks))
        self._queued_chunks += len(chunks)
        if self._queued_chunks >= EMBED_BATCH_CHUNKS:
            self.embed_queue()

    def _token_budget(self) -> tuple[Callable[[str], int], int]:
        if self._count_tokens is None:
            embedder = self.target.embedder
            self._count_tokens = embedder.count_tokens
            self._max_tokens = min(256, embedder.max_seq_length)
        return self._count_tokens, self._max_tokens

    def _record_failure(self, path: Path, row: sqlite3.Row | None, reason: str) -> None:
        self.report.failed.append(Failure(str(path), reason))
        with transaction(self.con) as con:
            con.execute(
                "INSERT OR REPLACE INTO failures(path, reason) VALUES (?,?)", (str(path), reason)
            )
        if row is not None:  # the file changed and no longer parses: its old text is stale
            delete_document(self.target, row["id"])
        self._done += 1

    # -- 4. embed and commit -----------------------------------------------------------------
    def embed_queue(self) -> None:
        """Embed every queued chunk in one call, then commit the documents one by one."""
        if not self._queue:
            return
        if self._embed_started is None:
            self._embed_started = time.perf_counter()
        queue, self._queue, self._queued_chunks = self._queue, [], 0
        texts = [embedding_text(q.parsed.title, c.text) for q in queue for c in q.chunks]
        vectors = (
            self.target.embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
        )
        parts, offset = [], 0
        for queued in queue:
            parts.append(vectors[offset : offset + len(queued.chunks)])
            offset += len(queued.chunks)
        doc_vectors = documents.document_vectors(
            self.target.embedder, [(q.parsed.title, q.parsed.text, v)
                                   for q, v in zip(queue, parts, strict=True)])
        for queued, part, doc_vector in zip(queue, parts, doc_vectors, strict=True):
            self._commit(queued, part, doc_vector)
            self._chunks_done += len(queued.chunks)
            self._done += 1
        self._report_rate()
        if time.perf_counter() - self._last_save > SAVE_EVERY_S:
            self.target.save_indexes()
            self._last_save = time.perf_counter()

    def _report_rate(self) -> None:
        assert self._embed_started is not None
        elapsed = time.perf_counter() - self._embed_started
        rate = self._chunks_done / elapsed if elapsed > 0 else 0.0
        left = self._total - self._done
        eta = (left * (self._chunks_done / max(self._done, 1)) / rate) if rate > 0 else None
        self.emit(
            ImportProgress(
                "import",
                self._done,
                self._total,
                self._chunks_done,
                round(rate, 1),
                round(eta, 1) if eta is not None else None,
                "",
            )
        )

    def _commit(self, queued: _Queued, vectors: np.ndarray, doc_vector: np.ndarray) -> None:
        """One document, its chunks and its vector in one transaction, then into the
        vector indexes."""
        doc, file, info = queued.parsed, queued.file, queued.info
        documents.commit(self.target, queued.existing_id, {
            "path": str(file.path), "collection": file.collection, "category": file.category,
            "title": doc.title, "topic": doc.topic,
            "format": doc.meta.get("format", "" if queued.existing_id is not None
                                   else file.path.suffix.lstrip(".")),
            "size": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256": queued.sha256,
            "text": doc.text}, queued.chunks, vectors, doc_vector)
        if queued.existing_id is not None:
            self.report.updated += 1
        else:
            self.report.added += 1
        self.report.chunks_added += len(queued.chunks)

    # -- 5. remove what is gone --------------------------------------------------------------
    def remove_gone(self) -> None:
        for row in self._gone.values():
            delete_document(self.target, row["id"])
            self.report.removed += 1

