"""What the app talks to: the chat model, the library, the assistant and the stores.

Everything here is plain, blocking Python, called from thread workers (toolong's shape).
Nothing heavy is imported at module import: the engine (llama.cpp), the library (numpy,
hnswlib) and the embedder (ONNX Runtime, tokenizers) are imported by the loaders, which
the app runs after its first paint.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..engine.base import Cancel, ChatModel, EngineError
from ..paths import Paths
from ..text import one_line

if TYPE_CHECKING:
    from ..conversations import ConversationStore

Progress = Callable[[float], None]
EngineFactory = Callable[[Settings, Progress], ChatModel]
"""``(settings, progress) -> ChatModel``; blocking; raises EngineError with one line."""
LibraryFactory = Callable[[Paths, Settings], Any]
"""``(paths, settings) -> Library`` (or an object with the same methods)."""
AssistantFactory = Callable[[ChatModel, Any, Settings], Any]
"""``(engine, library or None, settings) -> Assistant``."""


def default_engine_factory(paths: Paths) -> EngineFactory:
    def load(settings: Settings, progress: Progress) -> ChatModel:
        from ..registry import ModelRegistry, RegistryError

        try:
            entry = ModelRegistry(paths).get(settings.chat_model)
        except RegistryError as exc:
            raise EngineError(str(exc)) from None
        if not entry.exists:
            if entry.builtin:
                from .. import defaults

                raise EngineError(
                    f"the default chat model is not installed: run `{defaults.CHAT_INSTALL}`"
                )
            raise EngineError(
                f"{entry.path}: model file not found; pick another model in Models (F4)"
            )
        from ..engine.llama import LlamaEngine

        return LlamaEngine.load(entry, settings, progress=progress)

    return load


def default_library_factory(paths: Paths, settings: Settings) -> Any:
    from ..library import Library

    return Library(paths, settings)


def default_assistant_factory(engine: ChatModel, library: Any, settings: Settings) -> Any:
    from ..answers import Assistant

    return Assistant(engine, library, settings)


class Loadable:
    """A slow thing loaded once in a thread; others wait on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value: Any = None
        self.error: str | None = None
        self.progress: float = 0.0
        self.started = False
        self._done = threading.Event()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self.error is None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def reset(self) -> None:
        self.value, self.error, self.progress, self.started = None, None, 0.0, False
        self._done.clear()

    def finish(self, value: Any = None, error: str | None = None) -> None:
        self.value, self.error = value, error
        self.progress = 1.0 if error is None else self.progress
        self._done.set()

    def wait(self, cancel: Cancel | None = None, timeout: float | None = None) -> bool:
        """Block until loaded or failed; False if cancelled or timed out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.wait(0.05):
            if cancel is not None and cancel.is_set:
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
        return True


class Backend:
    """The app's services. Loading happens in :meth:`load_engine` / :meth:`load_library`."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        engine_factory: EngineFactory | None = None,
        library_factory: LibraryFactory | None = None,
        assistant_factory: AssistantFactory | None = None,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.engine_factory = engine_factory or default_engine_factory(paths)
        self.library_factory = library_factory or default_library_factory
        self.assistant_factory = assistant_factory or default_assistant_factory
        self.engine = Loadable("model")
        self.library = Loadable("library")
        self.embedder = Loadable("embedder")
        self._store: ConversationStore | None = None
        self._engine_lock = threading.Lock()  # one load at a time
        self._model_lock = threading.Lock()  # one generation at a time (see model_turn)
        self._assistant: Any = None
        self._assistant_key: tuple[int, int, int] | None = None

    # -- conversations (main thread) -------------------------------------------------------
    @property
    def store(self) -> ConversationStore:
        if self._store is None:
            from ..conversations import ConversationStore

            self._store = ConversationStore(self.paths)
        return self._store

    # -- loaders (thread workers) ----------------------------------------------------------
    def load_engine(self, progress: Progress) -> None:
        """Load the chat model named in the settings (blocking)."""
        with self._engine_lock:
            self.engine.started = True
            old = self.engine.value
            try:
                engine = self.engine_factory(self.settings, progress)
            except EngineError as exc:
                self.engine.finish(error=one_line(exc))
                return
            except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback
                self.engine.finish(error=f"the model could not be loaded: {one_line(exc)}")
                return
            if old is not None and old is not engine and hasattr(old, "close"):
                with contextlib.suppress(Exception):
                    old.close()
            self.engine.finish(engine)

    def reload_engine(self, progress: Progress) -> None:
        self.engine.reset()
        with self._model_lock:  # the old model is closed only after its last generation
            self.load_engine(progress)

    @contextlib.contextmanager
    def model_turn(self, cancel: Cancel | None = None) -> Iterator[bool]:
        """Hold the chat model for one generation. A llama.cpp context must not be used
        from two threads at once, so chat replies and practice turns take turns. Yields
        False (without the model) if ``cancel`` is set while waiting."""
        while not self._model_lock.acquire(timeout=0.05):
            if cancel is not None and cancel.is_set:
                yield False
                return
        try:
            yield True
        finally:
            self._model_lock.release()

    @property
    def model_busy(self) -> bool:
        return self._model_lock.locked()

    def load_library(self) -> None:
        """Open the library (cheap) and note any error as one line."""
        self.library.started = True
        try:
            lib = self.library_factory(self.paths, self.settings)
        except Exception as exc:  # noqa: BLE001
            self.library.finish(error=f"the library could not be opened: {one_line(exc)}")
            return
        self.library.finish(lib)

    def warm_embedder(self) -> None:
        """Load the embedder (ONNX Runtime: a fraction of a second; the first run after
        set-up may export the model first) so the first question does not pay for it."""
        self.embedder.started = True
        lib = self.library.value
        if lib is None:
            self.embedder.finish(error=self.library.error or "no library")
            return
        try:
            emb = getattr(lib, "embedder", None)
            if emb is not None and hasattr(emb, "model"):
                _ = emb.model
        except Exception as exc:  # noqa: BLE001
            self.embedder.finish(error=one_line(exc))
            return
        self.embedder.finish(True)

    def reopen_library(self) -> None:
        old = self.library.value
        self.library.reset()
        self.embedder.reset()
        if old is not None and hasattr(old, "close"):
            with contextlib.suppress(Exception):
                old.close()
        self.load_library()

    def assistant(self) -> Any:
        """One assistant per (engine, library, settings); what each turn sent is kept with the
        conversation (teachbot_tui/conversations.py), so a follow-up re-reads nothing."""
        key = (id(self.engine.value), id(self.library.value), id(self.settings))
        if self._assistant is None or self._assistant_key != key:
            from ..packs import settings_for

            engine = self.engine.value
            # a model pack brings its own system prompt (unless the teacher set one)
            settings = settings_for(self.settings, getattr(engine, "name", ""), self.paths)
            self._assistant = self.assistant_factory(engine, self.library.value, settings)
            self._assistant_key = key
        return self._assistant

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        lib = self.library.value
        if lib is not None and hasattr(lib, "close"):
            with contextlib.suppress(Exception):
                lib.close()

