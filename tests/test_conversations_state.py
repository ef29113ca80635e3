"""What a conversation sent to the model is kept per question, survives a restart, and
survives kill -9 while a reply streams."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from teachbot_tui import config
from teachbot_tui.answers import FENCE_OPEN, Assistant
from teachbot_tui.conversations import ConversationStore
from teachbot_tui.library import Library
from teachbot_tui.paths import Paths
from teachbot_tui.testing import corpus

ROOT = Path(__file__).resolve().parents[1]


def _history(store: ConversationStore, conversation_id: int) -> list[dict[str, object]]:
    return [m.history_entry() for m in store.get(conversation_id).messages]


def test_resumed_conversation_rebuilds_the_same_prefix(home: Path, tmp_path: Path,
                                                       embedder: object,
                                                       engine: object) -> None:
    corpus.make_good_corpus(tmp_path / "docs")
    settings = replace(config.load(), max_tokens=32, temperature=0.0, answer_wait_s=0.0)
    lib = Library(Paths.from_env(), settings, embedder=embedder)  # type: ignore[arg-type]
    lib.import_paths([tmp_path / "docs"])
    store = ConversationStore()
    conv = store.create("disruption")
    q1 = "How should I handle a student who keeps disrupting the lesson?"
    asked = store.add_message(conv.id, "user", q1)
    first = Assistant(engine, lib, settings).answer(q1)  # type: ignore[arg-type]
    store.record_sent(asked, **first.record)
    reply = store.add_message(conv.id, "assistant", "", status="streaming")
    store.update_message(reply, "".join(first), status="complete", sent=first.said)
    store.close()

    # the app restarts: a new store and a new assistant over the same files
    store = ConversationStore()
    history = _history(store, conv.id)
    assert history[0]["sent"] == first.messages[-1]["content"]
    assert history[1] == {"role": "assistant", "content": first.text, "sent": first.said}
    second = Assistant(engine, lib, settings).answer(  # type: ignore[arg-type]
        "What should I do if it happens again?", history)
    list(second)
    assert second.messages[:3] == [*first.messages, {"role": "assistant",
                                                     "content": first.said}]
    assert any(s.reused for s in second.sources)
    # an identical question in another conversation replays nothing
    other = store.create("again")
    fresh = Assistant(engine, lib, settings).answer(q1, _history(store, other.id))  # type: ignore[arg-type]
    list(fresh)
    assert fresh.messages == first.messages and not any(s.reused for s in fresh.sources)
    assert fresh.messages[-1]["content"].count(FENCE_OPEN) == len(first.sources)
    store.close()
    lib.close()


WRITER = textwrap.dedent("""
    import sys, time
    from teachbot_tui.conversations import ConversationStore
    store = ConversationStore()
    conv = store.create("streaming")
    q = store.add_message(conv.id, "user", "How do I start a lesson calmly?")
    store.record_sent(q, "PASSAGES ... My question: How do I start a lesson calmly?",
                      [{"n": 1, "chunk_id": 7, "digest": "abc", "path": "/d/a.md"}])
    reply = store.add_message(conv.id, "assistant", "", status="streaming")
    text = ""
    for i in range(100000):
        text += f"word{i} "
        store.update_message(reply, text)
        if i == 20:
            print("ready", flush=True)
        time.sleep(0.002)
""")


@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_while_a_reply_streams_keeps_the_conversation(home: Path,
                                                             attempt: int) -> None:
    seed = int(os.environ.get("TEACHBOT_TEST_SEED", random.randrange(1 << 30)))
    print(f"TEACHBOT_TEST_SEED={seed}")  # rerun with this to repeat the kill point
    rng = random.Random(seed + attempt)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE, env=env,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        assert proc.poll() is None, "the writer must still be streaming when killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    db = Paths.from_env().app_db
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = ConversationStore()  # marks the cut-off reply interrupted
    conv = store.list()[0]
    user, reply = store.get(conv.id).messages
    assert user.sent == "PASSAGES ... My question: How do I start a lesson calmly?"
    assert user.passages == [{"n": 1, "chunk_id": 7, "digest": "abc", "path": "/d/a.md"}]
    assert reply.status == "interrupted"
    words = reply.content.split()
    assert len(words) >= 21 and words == [f"word{i}" for i in range(len(words))]
    store.close()
