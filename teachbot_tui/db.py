"""The app's SQLite store: model registry, conversations and practice results.

WAL mode, a versioned schema (``PRAGMA user_version``) migrated forward on open. Each
migration is one SQL script; append new ones, never edit old ones. (The document library
has its own database under ``data/library``; it has a single writer and a lock of its own.)
"""

from __future__ import annotations

import sqlite3
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
    # the same prompt prefix
    """
    ALTER TABLE messages ADD COLUMN sent TEXT;
    ALTER TABLE messages ADD COLUMN passages TEXT NOT NULL DEFAULT '[]';
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the app database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    migrate(con)
    return con


def migrate(con: sqlite3.Connection) -> None:
    version = con.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with con:
            con.execute("BEGIN IMMEDIATE")
            current = con.execute("PRAGMA user_version").fetchone()[0]
            if current >= number:  # another process migrated meanwhile
                continue
            for statement in script.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")
