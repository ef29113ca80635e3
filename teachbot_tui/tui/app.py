"""The Textual app teachers live in: ``teachbot`` with no arguments opens it.

Start-up is instant because nothing heavy is imported here: the first screen paints, then
thread workers load the chat model (llama.cpp), open the library and warm the embedder
(sentence-transformers, torch), reporting progress in the status bar. A question typed
before the model is ready waits politely and is sent when it is.

Build the app with :func:`make_app` (tests pass fake engines and libraries through it).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from ..config import ConfigError, Settings
from ..paths import Paths
from .backend import AssistantFactory, Backend, EngineFactory, LibraryFactory
from .host import (
    HORIZONTAL_BREAKPOINTS,
    VERTICAL_BREAKPOINTS,
    EngineState,
    LibraryActivity,
    LibraryState,
    breakpoint_classes,
)
from .keys import KEYS, SCOPE_TITLES, KeyAction, bindings, unknown_ids
from .screens import SCREENS
from .text import safe_line
from .widgets.status import StatusBar, StatusState

MODES = {spec.mode for spec in SCREENS}
LOAD_DELAY_S = 0.3
"""Pause between the first paint and the start of background loading."""


class TeachbotApp(App[None]):
    """teachbot's terminal app."""

    CSS_PATH = "app.tcss"
    TITLE = "teachbot"
    DEFAULT_MODE = "chat"
    """The app starts in the chat mode: its screen is built with the app, and the app never
    shows (nor styles) a default screen first, then switches: that switch would restyle
    everything twice before the first paint."""
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")
    HORIZONTAL_BREAKPOINTS = HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = VERTICAL_BREAKPOINTS

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        engine_factory: EngineFactory | None = None,
        library_factory: LibraryFactory | None = None,
        assistant_factory: AssistantFactory | None = None,
        autoload: bool = True,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.backend = Backend(paths, settings, engine_factory, library_factory,
                               assistant_factory)
        self.status = StatusState()
        self.keymap_settings: dict[str, str] = dict(settings.keys)
        self.autoload = autoload
        for spec in SCREENS:
            self.add_mode(spec.mode, self._styled_now(spec.factory()))

    def _styled_now(self, factory: Callable[[], Screen]) -> Callable[[], Screen]:
        """Make a mode's screen as "up to date with the CSS" as it is.

        A new screen is styled from the current stylesheet as it mounts, but Textual counts
        it as behind every CSS update made so far and catches it up on its first switch:
        re-parsing every stylesheet twice and restyling every widget, before the first paint
        (and on each first F3/F4). Mark it current instead (a later theme change still
        reaches it).
        """

        def make() -> Screen:
            screen = factory()
            if hasattr(screen, "_css_update_count"):
                screen._css_update_count = self._css_update_count
            return screen

        return make

    # -- start-up --------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self._apply_theme(self.settings.theme)
        self._apply_keymap(self.keymap_settings)
        # the chat screen (DEFAULT_MODE) is already composed with the app
        if self.autoload:
            # after the first paint (and a breath, so the first keys are taken at once):
            # the heavy things load while the teacher types
            self.call_after_refresh(self.set_timer, LOAD_DELAY_S, self.start_loading)

    def on_resize(self, event: events.Resize) -> None:
        """Textual sets the breakpoint classes on the screen shown; screens of the other
        modes get them too, so a screen opened later is already laid out for this size."""
        from .screens.panes import SidePaneScreen

        classes = breakpoint_classes(*event.size)
        for stack in self._screen_stacks.values():
            for screen in stack:
                screen.update_classes(classes, animate=False)
                if isinstance(screen, SidePaneScreen):
                    screen.width_changed(event.size.width)

    def start_loading(self) -> None:
        self.load_engine()
        self.load_library()

    def _apply_theme(self, theme: str) -> None:
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(safe_line(f"Unknown theme {theme!r} in config.toml; using {self.theme}."),
                        severity="warning", markup=False)

    def _apply_keymap(self, keymap: dict[str, str]) -> None:
        bad = unknown_ids(keymap)
        if bad:
            self.notify(safe_line(f"Unknown key ids in config.toml [keys]: {', '.join(bad)}. "
                                  "F1 lists the ids."), severity="warning", markup=False,
                        timeout=8)
        good = {k: v for k, v in keymap.items() if k not in bad}
        self.keymap_settings = good
        self.set_keymap(good)

    # -- background loading ----------------------------------------------------------------
    @work(thread=True, group="engine", exclusive=True, exit_on_error=False)
    def load_engine(self, reload: bool = False) -> None:
        name = self.settings.chat_model
        self.post_message(EngineState("loading", f"Model {name}: loading", 0.0))
        last = [0.0]

        def progress(fraction: float) -> None:
            if fraction - last[0] >= 0.02 or fraction >= 1.0:
                last[0] = fraction
                self.post_message(EngineState("loading", f"Model {name}: loading", fraction))

        if reload:
            self.backend.reload_engine(progress)
        else:
            self.backend.load_engine(progress)
        loaded = self.backend.engine
        if loaded.error:
            self.post_message(EngineState("error", f"Model {name}: {loaded.error}"))
        else:
            ctx = getattr(loaded.value, "n_ctx", None)
            extra = f" · {ctx} tokens of context" if ctx else ""
            self.post_message(EngineState("ready", f"Model {name}: ready{extra}"))

    @work(thread=True, group="library-load", exclusive=True, exit_on_error=False)
    def load_library(self, reopen: bool = False) -> None:
        self.post_message(LibraryState("Library: opening…"))
        if reopen:
            self.backend.reopen_library()
        else:
            self.backend.load_library()
        lib = self.backend.library
        if lib.error:
            self.post_message(LibraryState(f"Library: {lib.error}"))
            return
        # the embedder (ONNX Runtime: a fraction of a second) loads beside the chat model
        self.post_message(LibraryState(f"{self.library_summary()} · loading document search…"))
        self.backend.warm_embedder()
        summary = self.library_summary()  # again: an import may have begun meanwhile
        if self.backend.embedder.error:
            self.post_message(LibraryState(
                f"{summary} · document search unavailable: {self.backend.embedder.error}"))
        else:
            self.post_message(LibraryState(f"{summary} · search ready"))
        _preload_screens()

    def library_summary(self) -> str:
        """One line about the library (call from a worker: it reads the library)."""
        lib = self.backend.library.value
        try:
            cols = lib.collections()
        except Exception:  # noqa: BLE001
            return "Library"
        docs = sum(c.documents for c in cols)
        if not docs:
            return "Library: empty (import documents with F3)"
        return (f"Library: {docs} document{'s' if docs != 1 else ''} in {len(cols)} "
                f"collection{'s' if len(cols) != 1 else ''}")

    def on_engine_state(self, message: EngineState) -> None:
        self.status.model_state = message.state
        self.status.model_text = message.text
        self.status.progress = message.progress if message.state == "loading" else 1.0
        self.refresh_status()

    def on_library_state(self, message: LibraryState) -> None:
        self.status.library_text = message.text
        self.refresh_status()

    def on_library_activity(self, message: LibraryActivity) -> None:
        self.status.library_activity = message.text
        self.refresh_status()

    def refresh_status(self) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.show(self.status)

    # -- settings --------------------------------------------------------------------------
    def apply_settings(self, new: Settings) -> list[str]:
        """Use saved settings now; reload what they change. Returns what was reloaded."""
        old = self.settings
        self.settings = new
        self.backend.settings = new
        done: list[str] = []
        if new.theme != old.theme:
            self._apply_theme(new.theme)
        if new.keys != old.keys:
            self._apply_keymap(dict(new.keys))
        engine_keys = ("chat_model", "n_ctx", "threads", "gpu_layers")
        if any(getattr(new, k) != getattr(old, k) for k in engine_keys):
            self.load_engine(reload=True)
            done.append("model")
        library_keys = ("embedder", "retrieval_k", "retrieval_threshold", "retrieval_mode")
        if any(getattr(new, k) != getattr(old, k) for k in library_keys):
            self.load_library(reopen=True)
            done.append("library")
        return done

    # -- keys, help and the command palette ------------------------------------------------
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap_settings))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in KEYS:
            if not key.palette:
                continue
            title = key.title if key.scope == "app" else f"{SCOPE_TITLES[key.scope]}: {key.title}"
            if key.id in ("chat", "library", "settings", "practice"):
                title = f"Go to {key.title}"
            yield SystemCommand(title, key.help, partial(self.run_palette_action, key))

    async def run_palette_action(self, key: KeyAction) -> None:
        """Run an action from the palette, switching to its screen first if needed."""
        if key.scope == "app":
            await self.run_action(key.action)
            return
        mode = key.scope if key.scope in MODES else "chat"
        if self.current_mode != mode:
            await self.switch_mode(mode)
        await self.run_action(key.action, self.screen)

    # -- running ---------------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run, drawing on a private copy of the terminal's file descriptor.

        Textual draws on fd 2 (stderr). Native libraries loading in workers may silence
        fd 2 for a moment (llama.cpp's logging is quietened that way); drawing on a dup of
        it keeps every frame on screen whatever happens to fd 2.
        """
        with _private_terminal_fd():
            return super().run(*args, **kwargs)

    # -- shutdown --------------------------------------------------------------------------
    async def action_quit(self) -> None:
        chat = self._chat_screen()
        if chat is not None:
            chat._stop_job()
        self.exit()

    def _chat_screen(self) -> Screen | None:
        from .screens.chat import ChatScreen

        for stack in self._screen_stacks.values():
            for screen in stack:
                if isinstance(screen, ChatScreen):
                    return screen
        return None

    def on_unmount(self) -> None:
        chat = self._chat_screen()
        if chat is not None:
            chat._stop_job()
        self.backend.close()


def _preload_screens() -> None:
    """Import the other screens' modules in the background, so F3/F4 open at once."""
    import importlib

    for spec in SCREENS:
        with contextlib.suppress(Exception):
            importlib.import_module(spec.module)
    for name in ("help", "passage", "dialogs"):
        with contextlib.suppress(Exception):
            importlib.import_module(f"{__package__}.screens.{name}")
    # the replies' Markdown widget (markdown-it) is left out of the first paint: import it
    # here, so the first reply doesn't wait for it
    with contextlib.suppress(Exception):
        importlib.import_module("textual.widgets._markdown")


@contextlib.contextmanager
def _private_terminal_fd() -> Iterator[None]:
    original = sys.__stderr__
    try:
        if original is None or not original.isatty():
            yield
            return
        fd = os.dup(original.fileno())
    except (OSError, ValueError):
        yield
        return
    private = os.fdopen(fd, "w", encoding=original.encoding or "utf-8", errors="replace")
    sys.__stderr__ = private
    try:
        yield
    finally:
        sys.__stderr__ = original
        with contextlib.suppress(OSError):
            private.close()


def make_app(
    paths: Paths | None = None,
    settings: Settings | None = None,
    engine_factory: EngineFactory | None = None,
    library_factory: LibraryFactory | None = None,
    *,
    assistant_factory: AssistantFactory | None = None,
    autoload: bool = True,
) -> TeachbotApp:
    """Build the app.

    ``paths`` default to ``Paths.from_env()`` (``TEACHBOT_HOME``), ``settings`` to
    ``config.load(paths)``. ``engine_factory(settings, progress) -> ChatModel`` loads the chat
    model (default: the registry entry named by ``settings.chat_model`` through llama.cpp);
    ``library_factory(paths, settings)`` opens the library. Tests pass fakes for both.
    """
    from .. import config, offline

    offline.enforce()
    paths = (paths or Paths.from_env()).ensure()
    if settings is None:
        try:
            settings = config.load(paths)
        except ConfigError as exc:
            raise SystemExit(f"teachbot: {exc}") from None
    return TeachbotApp(paths, settings, engine_factory, library_factory,
                       assistant_factory=assistant_factory, autoload=autoload)


def run() -> None:
    """Entry point: ``teachbot`` with no arguments."""
    make_app().run()


__all__ = ["TeachbotApp", "make_app", "run"]
