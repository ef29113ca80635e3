"""The library's SQLite database and its single-writer lock.

Tables: ``roots`` (imported folders/files), ``documents``, ``chunks`` (text, offsets,
page, heading, vector), ``chunks_fts`` (FTS5, porter stemming) and ``document_vectors`` (one
vector per document). ``meta.seq`` grows with
every committed change; the hnswlib index records the seq it was saved at.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path

from ..db import open_database, transaction
from .types import LibraryBusy

__all__ = ["SCHEMA", "WriterLock", "bump_seq", "connect", "current_seq", "transaction"]

SCHEMA = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('seq', '0');
    CREATE TABLE roots (
        path TEXT PRIMARY KEY,
        collection TEXT NOT NULL,
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        collection TEXT NOT NULL,
        category TEXT,
        title TEXT,
        topic TEXT,
        format TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'ok',
        duplicate_of INTEGER,
        text TEXT NOT NULL DEFAULT '',
        imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX documents_by_hash ON documents(sha256);
    CREATE INDEX documents_by_collection ON documents(collection);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        text TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        page INTEGER,
        heading TEXT NOT NULL DEFAULT '',
        vector BLOB NOT NULL
    );
    CREATE INDEX chunks_by_document ON chunks(document_id, ord);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
        VALUES ('delete', old.id, old.text, old.heading);
    END;
    CREATE TABLE failures (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    """,
    # 2: a vector per document (library/documents.py); existing documents get theirs from
    # their passages' vectors when the document index is first repaired
    """
    CREATE TABLE document_vectors (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the library database, in autocommit mode:
    every write is an explicit :func:`transaction`."""
    return open_database(path, SCHEMA, timeout=30, autocommit=True)


def bump_seq(con: sqlite3.Connection) -> int:
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='seq'")
    return current_seq(con)


def current_seq(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])


class WriterLock:
    """An exclusive, non-blocking lock on the library (fcntl.flock, released by the kernel
    when the process dies, so a kill -9 never leaves a stale lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise LibraryBusy(
                    f"library busy (pid {holder}): another teachbot is importing; "
                    "wait for it to finish"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
