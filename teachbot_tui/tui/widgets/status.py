"""The line above the Footer: model and library state, with the model's load progress."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar

from ..text import short_line
from .fit import FitLabel


@dataclass
class StatusState:
    model_text: str = "Model: starting…"
    model_state: str = "loading"  # loading | ready | error
    progress: float | None = None  # 0..1, None for indeterminate
    library_text: str = ""  # what the library holds
    library_activity: str = ""  # an import or sync under way; shown instead while set


class StatusBar(Horizontal):
    """Shows what the app is doing in the background (one per screen, fed by the app)."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    StatusBar > #status-model { width: auto; max-width: 55%; }
    StatusBar > ProgressBar { width: auto; margin: 0 1; }
    StatusBar > ProgressBar > Bar { width: 16; }
    StatusBar > #status-library { width: 1fr; padding-left: 2; }
    """

    def compose(self) -> ComposeResult:
        yield FitLabel(id="status-model")
        yield ProgressBar(total=100, show_eta=False, show_percentage=True)
        yield FitLabel(id="status-library")

    def on_mount(self) -> None:
        state = getattr(self.app, "status", None)
        if isinstance(state, StatusState):
            self.show(state)

    @property
    def text(self) -> str:
        """The whole text (for tests; a narrow bar shows it shortened)."""
        model = self.query_one("#status-model", FitLabel).full_text
        library = self.query_one("#status-library", FitLabel).full_text
        return f"{model} {library}"

    def show(self, state: StatusState) -> None:
        style = {"ready": "$success", "error": "$error"}.get(state.model_state, "$warning")
        self.query_one("#status-model", FitLabel).update(
            Content.styled(short_line(state.model_text, 160), style))
        bar = self.query_one(ProgressBar)
        bar.display = state.model_state == "loading"
        if state.progress is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(state.progress * 100))
        lib = short_line(state.library_activity or state.library_text, 120)
        self.query_one("#status-library", FitLabel).update(
            Content.styled(lib, "$text-muted") if lib else Content(""))
