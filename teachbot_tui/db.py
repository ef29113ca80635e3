"""The app's SQLite store: model registry, conversations and practice results.

WAL mode, a versioned schema (``PRAGMA user_version``) migrated forward on open. Each
migration is one SQL script; append new ones, never edit old ones. (The document library
has its own database under ``data/library``; it has a single writer and a lock of its own.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS: list[str] = [
    # 1: model registry
    """
    CREATE TABLE models (
        name TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        architecture TEXT NOT NULL,
        context_length INTEGER NOT NULL,
        has_chat_template INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    """,
    # 2: conversations
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        model TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system','user','assistant')),
        content TEXT NOT NULL,
        sources TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'complete',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 3: practice mode (teachbot_tui/practice/results.py)
    """
    CREATE TABLE practice_sessions (
        id INTEGER PRIMARY KEY,
        scenario_id TEXT NOT NULL,
        scenario_title TEXT NOT NULL,
        category TEXT NOT NULL,
        grade_band TEXT NOT NULL,
        subject TEXT NOT NULL,
        scenario_json TEXT NOT NULL,
        model TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        ideal_response TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX practice_sessions_by_scenario ON practice_sessions(scenario_id, id);
    CREATE TABLE practice_turns (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES practice_sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('student','teacher')),
        speaker TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX practice_turns_by_session ON practice_turns(session_id, id);
    CREATE TABLE practice_evaluations (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES practice_sessions(id) ON DELETE CASCADE,
        overall REAL NOT NULL,
        similarity REAL,
        model TEXT,
        details TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX practice_evaluations_by_session ON practice_evaluations(session_id, id);
    CREATE TABLE practice_scores (
        id INTEGER PRIMARY KEY,
        evaluation_id INTEGER NOT NULL REFERENCES practice_evaluations(id) ON DELETE CASCADE,
        criterion TEXT NOT NULL,
        score INTEGER NOT NULL,
        min_score INTEGER NOT NULL,
        max_score INTEGER NOT NULL,
        weight REAL NOT NULL,
        model_score INTEGER,
        signal REAL NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
    );
    CREATE INDEX practice_scores_by_evaluation ON practice_scores(evaluation_id);
    """,
    # 4: what a question sent to the model (teachbot_tui/answers.py, Answer.record): the user
    # message exactly as sent, and the passages it added, so a resumed conversation rebuilds
    # the same prompt prefix (a reply's ``sent``: its text as the model wrote it)
    """
    ALTER TABLE messages ADD COLUMN sent TEXT;
    ALTER TABLE messages ADD COLUMN passages TEXT NOT NULL DEFAULT '[]';
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the app database."""
    return open_database(path, MIGRATIONS, timeout=10)


# -- shared with the library's database (library/store.py) ---------------------------------


def open_database(
    path: Path, migrations: Sequence[str], *, timeout: float, autocommit: bool = False
) -> sqlite3.Connection:
    """Open an SQLite database in WAL mode with foreign keys on, and migrate it forward.

    ``migrations[n]`` is the script that takes the schema from version n to n + 1
    (``PRAGMA user_version``). ``autocommit`` opens the connection without Python's implicit
    transactions: the caller writes with :func:`transaction`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(
        path,
        timeout=timeout,
        check_same_thread=False,
        **({"isolation_level": None} if autocommit else {}),
    )
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    migrate(con, migrations)
    return con


def migrate(con: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Run the migrations past the database's ``user_version``, each in its own write
    transaction; one another process already ran is skipped."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(migrations[version:], start=version + 1):
        with transaction(con):
            if con.execute("PRAGMA user_version").fetchone()[0] >= number:
                continue  # another process migrated meanwhile
            for statement in statements(script):
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, split where :func:`sqlite3.complete_statement` says
    one ends (a ';' inside a string or a trigger body does not end one)."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\n;"):
                yield buffer.strip()
            buffer = ""
    if buffer.strip(" \t\n;"):
        yield buffer.strip()


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception: the write lock is
    taken at the start, so a transaction never fails half-way on a lock another writer holds."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
