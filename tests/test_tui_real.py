"""The app with the real engine and the default model (slow), and one end-to-end run in a
real terminal through tmux: launch, ask, see the streamed answer and its sources, quit,
relaunch, see the conversation listed and resume it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from teachbot_tui.config import Settings
from teachbot_tui.paths import Paths

from .tui_helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]

@pytest.mark.slow
async def test_real_engine_answers_in_the_app(tmp_path: Path) -> None:
    from teachbot_tui.tui.app import make_app
    from teachbot_tui.tui.screens.chat import ChatScreen

    paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache")
    app = make_app(paths, Settings(max_tokens=24, temperature=0.0, n_ctx=2048))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await screen.ask("How do I calm a noisy class?")
        await wait_for(pilot, lambda: screen.job is None and len(screen.views()) == 2,
                       timeout=240)
        reply = screen.views()[1]
        assert reply.status == "complete", str(reply.query_one(".notice").visual)
        assert reply.text.strip()
        assert app.status.model_state == "ready"
        assert reply.markdown.source.strip()


SOCKET = f"teachbot-e2e-{os.getpid()}"


def _tmux(*args: str) -> str:
    """tmux on a private server (its own socket, no user config)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args],
                          capture_output=True, text=True, check=False, env=env).stdout


def _reply_status(home: Path) -> str | None:
    """The last reply's status, read-only (opening a ConversationStore would mark a reply
    being written as interrupted)."""
    import sqlite3

    db = home / "data" / "teachbot.db"
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT status FROM messages WHERE role='assistant' "
                          "ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return row[0] if row else None


def _wait_pane(session: str, predicate, timeout: float) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _tmux("capture-pane", "-p", "-t", session)
        if predicate(text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"timed out; the screen was:\n{text}")


def _start(session: str, command: str) -> None:
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    _tmux("set-option", "-t", session, "window-size", "manual")
    _tmux("resize-window", "-t", session, "-x", "120", "-y", "40")


def _launch_command(home: Path) -> str:
    teachbot = ROOT / ".venv" / "bin" / "teachbot"
    wired = teachbot.exists() and (ROOT / "teachbot_tui" / "cli.py").exists()
    cmd = (str(teachbot) if wired else
           f"{sys.executable} -c 'from teachbot_tui.tui.app import make_app; make_app().run()'")
    return f"cd {ROOT} && env -u COLUMNS -u LINES TEACHBOT_HOME={home} TEACHBOT_MAX_TOKENS=48 TEACHBOT_TEMPERATURE=0 {cmd}"


@pytest.mark.slow
def test_end_to_end_in_tmux(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "behaviour-plan.md").write_text(
        "# Behaviour plan\n\nWhen a student consistently disrupts class, speak to them "
        "privately, name the behaviour and agree on a quiet signal. Praise the first "
        "improvement in the same lesson.\n", encoding="utf-8")
    env = {**os.environ, "TEACHBOT_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from teachbot_tui.library import Library; "
         "r = Library().import_paths([sys.argv[1]]); assert r.added == 1, r", str(docs)],
        env=env, check=True, timeout=300)
    session = f"teachbot-e2e-{os.getpid()}"
    _tmux("kill-session", "-t", session)
    try:
        _start(session, _launch_command(home))
        # a generous limit that only catches a hang (start-up time is measured by
        # scripts/bench_startup.py, not asserted here)
        _wait_pane(session, lambda t: "Ask about your classroom" in t, 60)
        _tmux("send-keys", "-t", session, "How do I handle a student who disrupts class?")
        _tmux("send-keys", "-t", session, "Enter")
        # streamed: the reply shows while being written, then its sources
        _wait_pane(session, lambda t: "writing…" in t, 120)
        deadline = time.monotonic() + 300
        while _reply_status(home) in (None, "streaming") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _reply_status(home) == "complete"
        screen = _wait_pane(session, lambda t: "writing…" not in t and "[1]" in t
                            and "behaviour-plan.md" in t, 30)
        assert "teachbot" in screen
        _tmux("send-keys", "-t", session, "C-q")
        _wait_pane(session, lambda t: "Ask about" not in t, 30)
        _tmux("kill-session", "-t", session)
        # relaunch: the conversation is listed and can be resumed
        _start(session, _launch_command(home))
        # the list shows the title shortened at a word ("How do I handle a…")
        _wait_pane(session, lambda t: "How do I handle a" in t, 30)
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "C-l")
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "Enter")
        resumed = _wait_pane(session, lambda t: "behaviour-plan.md" in t and "You" in t, 30)
        assert "How do I handle a student who disrupts class?" in resumed
        assert "stopped" not in resumed and "interrupted" not in resumed
    finally:
        _tmux("send-keys", "-t", session, "C-q")
        time.sleep(0.5)
        _tmux("kill-server")
