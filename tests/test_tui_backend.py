"""The app's backend: chat replies and practice turns take turns on the one model."""

from __future__ import annotations

import threading

from teachbot_tui.config import Settings
from teachbot_tui.engine.base import Cancel
from teachbot_tui.paths import Paths
from teachbot_tui.tui.backend import Backend


def test_model_turns_are_exclusive_and_a_waiting_turn_can_be_cancelled(tmp_path):
    backend = Backend(Paths(tmp_path / "c", tmp_path / "d", tmp_path / "k"), Settings())
    inside, release, asked, order = threading.Event(), threading.Event(), threading.Event(), []

    def generation(name: str, cancel: Cancel | None = None) -> None:
        if name == "practice":
            asked.set()
        with backend.model_turn(cancel) as held:
            order.append((name, held))
            if held and name == "chat":
                inside.set()
                release.wait(5)

    chat = threading.Thread(target=generation, args=("chat",))
    chat.start()
    assert inside.wait(5)
    assert backend.model_busy
    cancel = Cancel()
    practice = threading.Thread(target=generation, args=("practice", cancel))
    practice.start()
    assert asked.wait(5)  # the practice turn has asked for the model...
    practice.join(0.3)
    assert practice.is_alive()  # ...and waits for it: a turn that got it would be done
    assert order == [("chat", True)]
    cancel.set()
    practice.join(2)
    assert not practice.is_alive() and order[-1] == ("practice", False)
    release.set()
    chat.join(2)
    assert not backend.model_busy
    generation("practice again")
    assert order[-1] == ("practice again", True)
