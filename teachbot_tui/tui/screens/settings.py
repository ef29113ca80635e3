"""Models & settings: pick, add or download a model, tune answers and retrieval, pick a theme.

Everything is saved to config.toml through ``config.save`` (only what changed, so an
environment override is never written to the file) and applied at once: a new model or
context size reloads the model in the background.

The catalog (``teachbot_tui/catalog.py``) is listed with a verdict for this machine; the
selected entry downloads with a progress bar (Esc cancels and keeps the partial file for next
time) and becomes the model in use when done.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, ProgressBar, Select, Static, TextArea

from ...config import RETRIEVAL_MODES, ConfigError, Settings
from ..keys import bindings
from ..text import safe_line, safe_text
from ..widgets.footer import Footer
from ..widgets.nav import NavBar
from ..widgets.path_input import PathInput
from ..widgets.status import StatusBar
from ..widgets.tables import Col, FitTable, wrapping

if TYPE_CHECKING:
    from ..host import Host

# field -> (label, hint)
FIELDS: dict[str, tuple[str, str]] = {
    "gpu_layers": ("GPU layers", '"auto" offloads every layer when a GPU is available; 0 = CPU'),
    "n_ctx": ("Context size", "tokens the model sees at once (question, passages, history)"),
    "threads": ("CPU threads", "0 = automatic: the cores other programs leave free"),
    "temperature": ("Temperature", "0 = the same answer every time; higher = more varied"),
    "max_tokens": ("Longest answer", "tokens; this much of the context is kept for the answer"),
    "retrieval_k": ("Passages per answer", "how many passages from your documents are used"),
    "retrieval_threshold": ("Relevance threshold", "0..1; passages less similar are left out"),
}


class PullCancelled(Exception):
    """Raised from the download's progress callback when the person cancels."""


def model_label(entry: Any) -> Text:
    bits = [entry.architecture, f"{entry.context_length} ctx"]
    if getattr(entry, "builtin", False):
        bits.append("bundled")
    if not entry.exists:
        bits.append("MISSING FILE")
    return Text(f"{safe_line(entry.name)}  ({', '.join(bits)})")


# the catalog: what a teacher needs to choose first stays longest on a narrow terminal
CATALOG_COLUMNS = (
    Col("model", "Model", 14, weight=3, priority=100),
    Col("verdict", "Verdict", 9, weight=1, priority=90),
    Col("speed", "Est. writing", 12, priority=80),
    Col("ram", "RAM 4k", 7, priority=70),
    Col("file", "File", 7, priority=50),
    Col("params", "Params", 6, priority=40),
    Col("licence", "Licence", 10, weight=2, priority=20),
)


class SettingsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings("settings")

    def __init__(self) -> None:
        super().__init__(id="settings-screen")

    @property
    def tapp(self) -> Host:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        s: Settings = self.tapp.settings
        yield NavBar("settings")
        with VerticalScroll(id="settings-form"):
            yield Static(Content.styled("Chat model", "bold $accent"), classes="section")
            with Horizontal(classes="field"):
                yield Static(Content("Model"), classes="label")
                yield Select[str]([(Text(s.chat_model), s.chat_model)], value=s.chat_model,
                                  allow_blank=False, id="chat_model")
            with Horizontal(classes="field"):
                yield Static(Content("Add a GGUF"), classes="label")
                yield PathInput(id="model-path", suffixes=(".gguf",),
                                placeholder="path to a .gguf file (Tab completes)")
                yield Input(id="model-name", placeholder="name (optional)", classes="short")
                yield Button("Add model", id="add-model", compact=True)
            for key in ("gpu_layers", "n_ctx", "threads", "temperature", "max_tokens"):
                yield from self._field(key, str(getattr(s, key)))
            with Horizontal(classes="field tall"):
                yield Static(Content("System prompt"), classes="label")
                yield TextArea(s.system_prompt, id="system_prompt", soft_wrap=True)
            yield Static(Content.styled("Retrieval", "bold $accent"), classes="section")
            for key in ("retrieval_k", "retrieval_threshold"):
                yield from self._field(key, str(getattr(s, key)))
            with Horizontal(classes="field"):
                yield Static(Content("Search mode"), classes="label")
                yield Select[str]([(Text(m), m) for m in RETRIEVAL_MODES],
                                  value=s.retrieval_mode, allow_blank=False, id="retrieval_mode")
                yield Static(Content("hybrid = meaning + keywords"), classes="hint")
            yield Static(Content.styled("Appearance", "bold $accent"), classes="section")
            with Horizontal(classes="field"):
                yield Static(Content("Theme"), classes="label")
                themes = sorted(self.app.available_themes)
                value = s.theme if s.theme in themes else self.app.theme
                yield Select[str]([(Text(t), t) for t in themes], value=value,
                                  allow_blank=False, id="theme")
            yield Static(Content.styled("Download a model", "bold $accent"), classes="section")
            yield Static(Content(
                "Recommended models, with a verdict for this machine (its memory and the "
                "default model's speed, scaled by size). Select one and press Ctrl+D to "
                "download it and switch to it (Esc cancels; a later download resumes). This is "
                "the only time teachbot uses the network."), id="catalog-hint")
            yield FitTable(CATALOG_COLUMNS, id="catalog-table")
            with Horizontal(id="pull-progress"):
                yield ProgressBar(total=None, show_eta=True, id="pull-bar")
                yield Static("", id="pull-status")
                yield Button("Cancel", id="cancel-pull", variant="error", compact=True)
            with Horizontal(classes="field"):
                yield Button("Download selected", id="pull-model", compact=True)
            with Horizontal(id="settings-actions"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Static("", id="settings-message")
        yield StatusBar()
        yield Footer()

    def _field(self, key: str, value: str) -> ComposeResult:
        label, hint = FIELDS[key]
        with Horizontal(classes="field"):
            yield Static(Content(label), classes="label")
            yield Input(value, id=key, classes="short")
            yield Static(Content(hint), classes="hint")

    def on_mount(self) -> None:
        self.pull_cancel: threading.Event | None = None
        self.query_one("#pull-progress").display = False
        self.load_models()
        self.load_catalog()

    def on_screen_resume(self) -> None:
        self.tapp.refresh_status()

    # -- models ----------------------------------------------------------------------------
    @work(thread=True, group="models", exclusive=True, exit_on_error=False)
    def load_models(self, select: str | None = None) -> None:
        from ...registry import ModelRegistry

        try:
            entries = ModelRegistry(self.tapp.paths).list()
        except Exception as exc:  # noqa: BLE001
            from ..backend import one_line

            self.app.call_from_thread(self.show_message, f"Models: {one_line(exc)}", True)
            return
        self.app.call_from_thread(self._fill_models, entries, select)

    def _fill_models(self, entries: list[Any], select: str | None) -> None:
        box = self.query_one("#chat_model", Select)
        current = select or self.tapp.settings.chat_model
        options = [(model_label(e), e.name) for e in entries]
        if current not in [e.name for e in entries]:
            options.append((Text(f"{safe_line(current)}  (not registered)"), current))
        box.set_options(options)
        box.value = current
        label = next((text for text, name in options if name == current), None)
        if label is not None:  # Select does not redraw its label when the value is unchanged
            with contextlib.suppress(Exception):
                from textual.widgets._select import SelectCurrent

                box.query_one(SelectCurrent).update(label)

    @on(Button.Pressed, "#add-model")
    @on(Input.Submitted, "#model-path")
    @on(Input.Submitted, "#model-name")
    def _on_add(self, event: Any) -> None:
        event.stop()
        self.action_add_model()

    def action_add_model(self) -> None:
        path = self.query_one("#model-path", Input).value.strip()
        if not path:
            self.query_one("#model-path", Input).focus()
            self.show_message("Type the path of a .gguf file to add (Tab completes).")
            return
        name = self.query_one("#model-name", Input).value.strip() or None
        self.add_model(path, name)

    @work(thread=True, group="models", exclusive=True, exit_on_error=False)
    def add_model(self, path: str, name: str | None) -> None:
        from pathlib import Path

        from ...registry import ModelRegistry, RegistryError

        try:
            entry = ModelRegistry(self.tapp.paths).add(Path(path).expanduser(), name=name)
        except RegistryError as exc:
            self.app.call_from_thread(self.show_message, str(exc), True)
            return
        except OSError as exc:
            self.app.call_from_thread(self.show_message, f"{path}: {exc.strerror or exc}", True)
            return
        self.app.call_from_thread(self._added, entry.name)

    def _added(self, name: str) -> None:
        self.query_one("#model-path", Input).value = ""
        self.query_one("#model-name", Input).value = ""
        self.show_message(f"Added model {name}. Save to use it.")
        self.load_models(select=name)

    # -- catalog and downloads ---------------------------------------------------------------
    @work(thread=True, group="catalog", exclusive=True, exit_on_error=False)
    def load_catalog(self) -> None:
        from ... import catalog

        try:
            # the speed measured by `teachbot models catalog` (cached); never measured here,
            # where it would compete with the model loading
            machine = catalog.this_machine(self.tapp.paths, self.tapp.settings.threads,
                                           measure=False)
            results = catalog.fits(machine)
        except Exception as exc:  # noqa: BLE001 - shown as one line
            from ..backend import one_line

            self.app.call_from_thread(self.show_message, f"Catalog: {one_line(exc)}", True)
            return
        self.app.call_from_thread(self._fill_catalog, results, catalog.best_fit(results),
                                  machine.measured)

    def _fill_catalog(self, results: list[Any], best: Any, measured: bool) -> None:
        if not measured:
            self.query_one("#catalog-hint", Static).update(Content(
                "Recommended models. Speeds are the documented figures for a 2-core laptop: run "
                "`teachbot models catalog` once to measure this machine. Select one and press "
                "Ctrl+D to download it and switch to it (Esc cancels). This is the only time "
                "teachbot uses the network."))
        table = self.query_one("#catalog-table", FitTable)
        rows = []
        for f in results:
            e = f.entry
            verdict = f.verdict + (" (best)" if best is not None and f is best else "")
            rows.append((e.name, {
                "model": wrapping(e.title), "params": wrapping(f"{e.parameters_b:.1f}B"),
                "file": wrapping(f"{e.file_size_bytes / 1e9:.1f} GB"),
                "ram": wrapping(f"{e.ram_4k_gb} GB"),
                "speed": wrapping(f"{f.decode_tps:.1f} tok/s"), "verdict": wrapping(verdict),
                "licence": wrapping(e.licence)}))
        table.set_rows(rows)
        if best is not None:
            with contextlib.suppress(Exception):
                table.move_cursor(row=table.get_row_index(best.entry.name))

    def selected_catalog_name(self) -> str | None:
        table = self.query_one("#catalog-table", FitTable)
        if not table.row_count:
            return None
        with contextlib.suppress(Exception):
            key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            return str(key.value)
        return None

    @on(Button.Pressed, "#pull-model")
    def _on_pull(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_pull_model()

    @on(Button.Pressed, "#cancel-pull")
    def _on_cancel_pull(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel_pull()

    def action_pull_model(self) -> None:
        if self.pull_cancel is not None:
            self.show_message("A download is already running (Esc cancels it).")
            return
        name = self.selected_catalog_name()
        if name is None:
            self.show_message("Select a model in the catalog first.")
            return
        self.pull_cancel = threading.Event()
        self.query_one("#pull-progress").display = True
        self.query_one("#pull-bar", ProgressBar).update(total=None, progress=0)
        self.query_one("#pull-status", Static).update(Content(f"{name}: asking the Hub…"))
        self.pull(name, self.pull_cancel)

    def action_cancel_pull(self) -> None:
        if self.pull_cancel is not None:
            self.pull_cancel.set()
            self.query_one("#pull-status", Static).update(Content("cancelling…"))

    @work(thread=True, group="pull", exclusive=True, exit_on_error=False)
    def pull(self, name: str, cancel: threading.Event) -> None:
        from ...models_cli import pull_model

        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            if cancel.is_set():
                raise PullCancelled
            now = time.monotonic()
            if now - last[0] >= 0.1 or (total and done >= total):
                last[0] = now
                self.app.call_from_thread(self._pull_progress, name, done, total)

        try:
            entry = pull_model(name, use=True, progress=progress, paths=self.tapp.paths)
        except PullCancelled:
            self.app.call_from_thread(self._pull_done, None,
                                      f"Download of {name} cancelled; pulling it again "
                                      "resumes where it stopped.", False)
            return
        except Exception as exc:  # noqa: BLE001 - every failure is one line here
            from ..backend import one_line

            self.app.call_from_thread(self._pull_done, None, one_line(exc), True)
            return
        self.app.call_from_thread(self._pull_done, entry.name, "", False)

    def _pull_progress(self, name: str, done: int, total: int | None) -> None:
        self.query_one("#pull-bar", ProgressBar).update(total=total, progress=done)
        size = f" of {total / 1e9:.2f} GB" if total else ""
        self.query_one("#pull-status", Static).update(
            Content(safe_line(f"{name}: {done / 1e9:.2f} GB{size}")))

    def _pull_done(self, name: str | None, text: str, error: bool) -> None:
        from ... import config

        self.pull_cancel = None
        self.query_one("#pull-progress").display = False
        if name is None:
            self.show_message(text, error)
            return
        new = config.load(self.tapp.paths)
        self.tapp.apply_settings(new)
        self.load_models(select=name)
        self.show_message(f"Downloaded {name}; now using it (the model is loading).")

    # -- saving ----------------------------------------------------------------------------
    def form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in FIELDS:
            values[key] = self.query_one(f"#{key}", Input).value.strip()
        values["system_prompt"] = self.query_one("#system_prompt", TextArea).text
        for key in ("chat_model", "retrieval_mode", "theme"):
            value = self.query_one(f"#{key}", Select).value
            if isinstance(value, str):
                values[key] = value
        return values

    def changes(self) -> dict[str, Any]:
        current = self.tapp.settings
        out: dict[str, Any] = {}
        for key, raw in self.form_values().items():
            old = getattr(current, key)
            if isinstance(old, (int, float)) and not isinstance(old, bool):
                try:
                    value: Any = type(old)(raw)
                except ValueError:
                    raise ConfigError(f"{FIELDS.get(key, (key,))[0]}: {raw!r} is not a number"
                                      ) from None
            else:
                value = raw
            if value != old:
                out[key] = value
        return out

    def action_save(self) -> None:
        from ... import config

        try:
            changes = self.changes()
            if not changes:
                self.show_message("Nothing changed.")
                return
            new = config.save(changes, self.tapp.paths)
        except ConfigError as exc:
            self.show_message(f"Not saved: {exc}", True)
            return
        except OSError as exc:
            self.show_message(f"Not saved: {exc.strerror or exc} ({self.tapp.paths.config_file})",
                              True)
            return
        reloaded = self.tapp.apply_settings(new)
        note = f"; reloading the {' and '.join(reloaded)}" if reloaded else ""
        self.show_message(f"Saved {', '.join(sorted(changes))} to "
                          f"{self.tapp.paths.config_file}{note}.")

    @on(Button.Pressed, "#save")
    def _on_save(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    def show_message(self, text: str, error: bool = False) -> None:
        self.query_one("#settings-message", Static).update(
            Content.styled(safe_text(text), "$error" if error else "$success"))
