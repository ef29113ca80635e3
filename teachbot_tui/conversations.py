"""Conversations and their messages, persisted in the app's SQLite store (WAL).

A reply is stored as soon as it starts (status ``streaming``) and updated as it grows, so a
kill -9 mid-stream loses at most the last unsaved piece of the partial reply. On open, any
reply left ``streaming`` by a crash is marked ``interrupted``.

A question also keeps what was sent to the model for it (:meth:`ConversationStore.record_sent`,
from ``Answer.record``): later turns, also after a restart, repeat it byte for byte and refer
to its passages by number instead of sending them again. A reply keeps the text the model
wrote (``sent`` as well, given to :meth:`ConversationStore.update_message`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import db
from .paths import Paths
from .text import storable as _storable


def _json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


class ConversationError(Exception):
    """A conversation operation failed; one line saying what to do."""


@dataclass
class StoredMessage:
    id: int
    role: str
    content: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    status: str = "complete"  # complete | streaming | stopped | interrupted | error
    created_at: str = ""
    sent: str | None = None  # the message exactly as the model read (a question) or wrote it
    passages: list[dict[str, Any]] = field(default_factory=list)  # ...and the passages it added

    def history_entry(self) -> dict[str, Any]:
        """This message as the Assistant's history wants it (with what was sent)."""
        entry: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.sent is not None:
            entry["sent"] = self.sent
        if self.role == "user" and self.sent is not None:
            entry["passages"] = self.passages
        return entry


@dataclass
class Conversation:
    id: int
    title: str
    model: str | None
    created_at: str
    updated_at: str
    messages: list[StoredMessage] = field(default_factory=list)


class ConversationStore:
    def __init__(self, paths: Paths | None = None, db_path: Path | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self._con = db.connect(db_path or self.paths.app_db)
        with self._con:
            self._con.execute(
                "UPDATE messages SET status='interrupted' WHERE status='streaming'"
            )

    def close(self) -> None:
        self._con.close()

    def _touch(self, conversation_id: int) -> None:
        self._con.execute(
            "UPDATE conversations SET updated_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
            (conversation_id,),
        )

    def create(self, title: str = "New conversation", model: str | None = None) -> Conversation:
        with self._con:
            cur = self._con.execute(
                "INSERT INTO conversations(title, model) VALUES (?, ?)", (title, model)
            )
        return self.get(int(cur.lastrowid or 0))

    def list(self) -> list[Conversation]:
        rows = self._con.execute(
            "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC"
        ).fetchall()
        return [Conversation(r["id"], r["title"], r["model"], r["created_at"], r["updated_at"])
                for r in rows]

    def get(self, conversation_id: int) -> Conversation:
        row = self._con.execute(
            "SELECT * FROM conversations WHERE id=?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConversationError(f"no conversation with id {conversation_id}")
        messages = [
            StoredMessage(m["id"], m["role"], m["content"], json.loads(m["sources"]),
                          m["status"], m["created_at"], m["sent"], _json_list(m["passages"]))
            for m in self._con.execute(
                "SELECT * FROM messages WHERE conversation_id=? ORDER BY id", (conversation_id,)
            )
        ]
        return Conversation(row["id"], row["title"], row["model"], row["created_at"],
                            row["updated_at"], messages)

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ConversationError("a conversation needs a non-empty title")
        with self._con:
            cur = self._con.execute(
                "UPDATE conversations SET title=? WHERE id=?", (title[:200], conversation_id)
            )
        if cur.rowcount == 0:
            raise ConversationError(f"no conversation with id {conversation_id}")

    def delete(self, conversation_id: int) -> None:
        with self._con:
            self._con.execute("DELETE FROM conversations WHERE id=?", (conversation_id,))

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        sources: list[dict[str, Any]] | None = None,
        status: str = "complete",
    ) -> int:
        try:
            with self._con:
                cur = self._con.execute(
                    "INSERT INTO messages(conversation_id, role, content, sources, status)"
                    " VALUES (?,?,?,?,?)",
                    (conversation_id, role, _storable(content),
                     _storable(json.dumps(sources or [], ensure_ascii=False)), status),
                )
                self._touch(conversation_id)
        except sqlite3.IntegrityError:
            raise ConversationError(f"no conversation with id {conversation_id}") from None
        return int(cur.lastrowid or 0)

    def update_message(
        self,
        message_id: int,
        content: str,
        status: str | None = None,
        sources: list[dict[str, Any]] | None = None,
        sent: str | None = None,
    ) -> None:
        """Set a message's text (and its status, sources, and for a reply the text as the
        model wrote it, when given)."""
        sets, args = ["content=?"], [_storable(content)]
        if sent is not None:
            sets.append("sent=?")
            args.append(_storable(sent))
        if status is not None:
            sets.append("status=?")
            args.append(status)
        if sources is not None:
            sets.append("sources=?")
            args.append(_storable(json.dumps(sources, ensure_ascii=False)))
        with self._con:
            self._con.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id=?",
                              (*args, message_id))

    def record_sent(self, message_id: int, sent: str, passages: list[dict[str, Any]]) -> None:
        """Keep what a question sent to the model (``Answer.record``) with the question."""
        with self._con:
            self._con.execute(
                "UPDATE messages SET sent=?, passages=? WHERE id=? AND role='user'",
                (_storable(sent), _storable(json.dumps(passages, ensure_ascii=False)),
                 message_id))

    def delete_message(self, message_id: int) -> None:
        with self._con:
            self._con.execute("DELETE FROM messages WHERE id=?", (message_id,))

    def export_markdown(self, conversation_id: int) -> str:
        conv = self.get(conversation_id)
        out = [f"# {conv.title}", "", f"_Created {conv.created_at}_", ""]
        for m in conv.messages:
            if m.role == "system":
                continue
            who = "**You**" if m.role == "user" else "**teachbot**"
            note = "" if m.status == "complete" else f" _({m.status})_"
            out += [f"{who}{note}", "", m.content, ""]
            if m.sources:
                out.append("Sources:")
                for s in m.sources:
                    where = f", p. {s['page']}" if s.get("page") else ""
                    heading = f" — {s['heading']}" if s.get("heading") else ""
                    out.append(f"- [{s.get('n')}] {s.get('path')}{where}{heading}")
                out.append("")
        return "\n".join(out).rstrip() + "\n"
