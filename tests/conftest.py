"""Shared fixtures. Every test runs offline (a socket guard, in-process and in subprocesses)
with its own TEACHBOT_HOME."""

from __future__ import annotations

import _socket
import contextlib
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from teachbot_tui import offline

offline.enforce()

ROOT = Path(__file__).resolve().parent.parent
GUARD = Path(__file__).resolve().parent / "guard"
VENV_BIN = Path(sys.executable).parent


class NetworkAttempt(OSError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkAttempt(f"network connection to {address!r} attempted in a test")
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def loopback_only(no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Allow connections to 127.0.0.1 (the stand-in Hub) and still refuse everything else."""

    def loopback(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if host not in ("127.0.0.1", "::1"):
                raise NetworkAttempt(f"network connection to {address!r} attempted in a test")
        return _socket.socket.connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", loopback)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TEACHBOT_HOME for this test."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("TEACHBOT_HOME", str(h))
    for key in list(os.environ):
        if key.startswith("TEACHBOT_") and key != "TEACHBOT_HOME":
            monkeypatch.delenv(key)
    return h


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEACHBOT_")}
    env["TEACHBOT_HOME"] = str(home)
    env["PYTHONPATH"] = str(GUARD) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(home: Path, *args: str, check: bool = False, timeout: float = 300,
            prog: str = "teachbot", input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script in a subprocess, under the network guard."""
    proc = subprocess.run(
        [str(VENV_BIN / prog), *args], capture_output=True, text=True, env=cli_env(home),
        timeout=timeout, input=input,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{prog} {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


def run_main(*args: str) -> CommandResult:
    """Run ``teachbot ARGS`` in this process through the real entry point (so errors are
    reported as the command reports them), capturing what it prints."""
    from teachbot_tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(sys, "argv", ["teachbot", *args]):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CommandResult(code, out.getvalue(), err.getvalue())


def can_unshare_net() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.fixture(scope="session")
def embedder() -> Iterator[object]:
    """The real default embedder (all-MiniLM-L6-v2), loaded once per test session."""
    from teachbot_tui import defaults
    from teachbot_tui.library.embedder import Embedder

    emb = Embedder(defaults.embedder_path())
    _ = emb.model
    yield emb
    emb.close()


@pytest.fixture(scope="session")
def engine() -> Iterator[object]:
    """The real default chat model (SmolLM2-135M Q4_1 with its shipped adapter, as the app
    loads ``default``) through the engine, loaded once."""
    from teachbot_tui import defaults
    from teachbot_tui.engine.llama import LlamaEngine

    eng = LlamaEngine(defaults.chat_model_path(), n_ctx=2048, n_threads=2, name="default",
                      lora_path=defaults.chat_adapter())
    yield eng
    eng.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real chat model (the ``engine`` fixture, directly or through
    another fixture) is ``slow``, as the README says, wherever it is written."""
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()) and "slow" not in item.keywords:
            item.add_marker(pytest.mark.slow)
