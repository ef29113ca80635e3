"""The practice screen: pick a scenario, role-play it, get feedback, follow your progress.

Left: the scenarios (filter by grade band and category). Right, in tabs: the session (the
scenario card, the role-play, the reply box), the coach's feedback (a table per criterion,
strengths, improvements, the model response, citations from your library, the similarity to
the expert response) and progress (a chart over time per criterion or category, best and
average scores, scenarios to revisit).

Model work (the student's replies, the evaluation) runs in thread workers that only post
events; this screen stores results and updates widgets on the UI thread. Every text from a
scenario file or a model is shown literally (``Content`` / ``Text``, never markup).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import (
    Button,
    Input,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option

from ...engine.base import Cancel
from ..keys import bindings
from ..text import literal, literal_line, safe_line, storable
from ..widgets.footer import Footer
from ..widgets.nav import NavBar
from ..widgets.path_input import HintInput
from ..widgets.status import StatusBar
from ..widgets.tables import Col, FitTable, wrapping
from .panes import SidePaneScreen

if TYPE_CHECKING:
    from ...practice.coach import Evaluation
    from ...practice.results import PracticeStore
    from ...practice.scenarios import Scenario
    from ...practice.session import PracticeSession, Turn
    from ..host import Host

ALL = "\x00all"
CHART_HEIGHT = 8
BLOCKS = " ▁▂▃▄▅▆▇█"
WAITING = "Loading the model… the student will answer when it's ready."
REPLY_HINTS = (
    "Answer as the teacher…  (Enter sends · Ctrl+E evaluates)",
    "Answer as the teacher…  (Enter sends)",
    "Answer as the teacher…",
)
FEEDBACK_COLUMNS = (
    Col("criterion", "criterion", 12, weight=2, max_width=28, priority=100),
    Col("score", "score", 5, priority=90),
    Col("level", "level", 16, weight=5, priority=80),
    Col("coach", "coach", 5, priority=20),
    Col("signal", "signal", 6, priority=30),
)
PROGRESS_COLUMNS = (
    Col("name", "criterion / category", 20, weight=1, max_width=40, priority=100),
    Col("n", "n", 3, priority=50),
    Col("best", "best", 4, priority=40),
    Col("average", "average", 7, priority=60),
    Col("latest", "latest", 6, priority=70),
)


def column_chart(values: list[float], height: int = CHART_HEIGHT, width: int = 60) -> list[str]:
    """Values in [0, 1] as a column chart (newest on the right), with a percent axis."""
    values = values[-max(1, (width - 6) // 2):]
    rows = []
    for r in range(height, 0, -1):
        line = []
        for v in values:
            level = max(0.0, min(1.0, v)) * height
            full = level - (r - 1)
            if full >= 1:
                ch = BLOCKS[-1]
            elif full > 0:
                ch = BLOCKS[max(1, round(full * (len(BLOCKS) - 1)))]
            else:
                ch = " "
            line.append(ch * 2)
        label = "100%" if r == height else (" 50%" if r == (height + 1) // 2 else "    ")
        rows.append(f"{label} │{''.join(line)}")
    rows.append("   0% └" + "─" * (2 * len(values)))
    return rows


@dataclass
class PracticeJob:
    kind: str  # "reply" | "evaluate"
    session: PracticeSession
    cancel: Cancel = field(default_factory=Cancel)
    finished: bool = False


class PracticeEvent(Message):
    """Posted by the practice workers (any thread); handled on the UI thread."""

    def __init__(self, job: PracticeJob, kind: str, text: str = "", turn: Turn | None = None,
                 evaluation: Evaluation | None = None) -> None:
        super().__init__()
        self.job = job
        self.kind = kind
        self.text = text
        self.turn = turn
        self.evaluation = evaluation


class PracticeScreen(SidePaneScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("practice")
    SIDE_PANE = "#practice-left"
    DEFAULT_CSS = """
    #practice-main { height: 1fr; }
    #practice-left { width: 44; border-right: solid $panel; }
    #practice-filters { height: auto; }
    #practice-filters Select { width: 1fr; }
    #scenario-list { height: 1fr; }
    #practice-card { height: auto; padding: 0 1; }
    #practice-chat { height: 1fr; padding: 0 1; }
    .turn-student { color: $accent; margin-top: 1; }
    .turn-teacher { margin-top: 1; }
    #practice-notice { height: auto; color: $text-muted; padding: 0 1; }
    #practice-actions { height: auto; }
    #practice-actions Button { margin-right: 1; }
    #practice-reply { margin: 0 0; }
    #feedback-scroll, #progress-scroll { padding: 0 1; }
    #feedback-table, #progress-table { height: auto; max-height: 14; margin: 1 0; }
    .fb-heading { text-style: bold; margin-top: 1; }
    #progress-series { width: 40; }
    """

    def __init__(self) -> None:
        super().__init__(id="practice-screen")
        self.scenarios: list[Scenario] = []
        self.problems: list[str] = []
        self.selected: Scenario | None = None
        self.session: PracticeSession | None = None
        self.evaluation: Evaluation | None = None
        self.job: PracticeJob | None = None
        self._store: PracticeStore | None = None
        self.progress_data: dict[str, Any] | None = None

    @property
    def tapp(self) -> Host:
        return self.app  # type: ignore[return-value]

    @property
    def store(self) -> PracticeStore:
        if self._store is None:
            from ...practice.results import PracticeStore

            self._store = PracticeStore(self.tapp.paths)
        return self._store

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from ...practice.scenarios import CATEGORIES, GRADE_BANDS

        yield NavBar("practice")
        with Horizontal(id="practice-main"):
            with Vertical(id="practice-left"):
                with Horizontal(id="practice-filters"):
                    yield Select([(g, g) for g in GRADE_BANDS], prompt="All grades",
                                 id="filter-grade", compact=True)
                    yield Select([(c, c) for c in CATEGORIES], prompt="All categories",
                                 id="filter-category", compact=True)
                yield OptionList(id="scenario-list")
            with TabbedContent(id="practice-tabs", initial="tab-session"):
                with TabPane("Session", id="tab-session"):
                    with VerticalScroll(id="practice-card-scroll"):
                        yield Static(Content("Pick a scenario on the left and press Ctrl+N "
                                             "(or Start) to begin."), id="practice-card")
                    yield VerticalScroll(id="practice-chat")
                    yield Static(Content(""), id="practice-notice")
                    yield HintInput(placeholders=REPLY_HINTS, id="practice-reply")
                    with Horizontal(id="practice-actions"):
                        yield Button("Start", id="practice-start", compact=True)
                        yield Button("Evaluate", id="practice-evaluate", compact=True,
                                     variant="primary")
                        yield Button("Ideal response…", id="practice-ideal", compact=True)
                with TabPane("Feedback", id="tab-feedback"), \
                        VerticalScroll(id="feedback-scroll"):
                    yield Static(Content("No feedback yet: finish a session with Ctrl+E."),
                                 id="feedback-summary")
                    yield FitTable(FEEDBACK_COLUMNS, id="feedback-table")
                    yield Static(Content(""), id="feedback-body")
                with TabPane("Progress", id="tab-progress"), \
                        VerticalScroll(id="progress-scroll"):
                    yield Select([("overall", "overall")], value="overall",
                                 allow_blank=False, id="progress-series", compact=True)
                    yield Static(Content(""), id="progress-chart")
                    yield FitTable(PROGRESS_COLUMNS, id="progress-table")
                    yield Static(Content(""), id="progress-revisit")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.load_scenarios()
        self.refresh_progress()
        self.call_after_refresh(self._focus_first)

    def _focus_first(self) -> None:
        """The scenario list, or the reply box when the list has made way (narrow)."""
        if self.side_pane_shown:
            self.query_one("#scenario-list", OptionList).focus()
        else:
            self.query_one("#practice-reply", Input).focus()
            if self.session is None:
                self._notice("Ctrl+B shows the list of scenarios; Ctrl+N starts this one.")

    def show_tab(self, tab_id: str) -> None:
        """Switch to a tab. Focus is let go first: a focused widget in the tab being hidden
        would hand focus to its neighbour there, and that would switch the tab back."""
        self.set_focus(None)
        self.query_one(TabbedContent).active = tab_id

    @on(TabbedContent.TabActivated, "#practice-tabs")
    def _on_tab(self, event: TabbedContent.TabActivated) -> None:
        """Focus goes into the tab shown: a focused widget left in a hidden tab (the reply
        box, or the role-play when it scrolls on a small terminal) would switch back to
        its own tab."""
        pane = event.pane
        focused = self.focused
        if focused is not None and pane in focused.ancestors_with_self:
            return
        target = {"tab-session": "#practice-reply", "tab-feedback": "#feedback-table",
                  "tab-progress": "#progress-series"}.get(pane.id or "")
        if target is not None:
            self.query_one(target).focus()

    def action_toggle_scenarios(self) -> None:
        if self.toggle_side_pane():
            self.query_one("#scenario-list", OptionList).focus()
            if self.session is None:
                self._notice("")
        else:
            self.query_one("#practice-reply", Input).focus()

    def on_screen_resume(self) -> None:
        self.tapp.refresh_status()

    def on_unmount(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- scenarios -------------------------------------------------------------------------
    def load_scenarios(self) -> None:
        from pathlib import Path

        from ...practice.scenarios import load_all

        settings = self.tapp.settings
        user_dir = Path(settings.scenario_dir) if settings.scenario_dir else None
        self.scenarios, problems = load_all(user_dir)
        self.problems = [str(p) for p in problems]
        if problems:
            self.notify(f"{len(problems)} problem(s) in your scenario folder, e.g. "
                        f"{safe_line(problems[0], limit=160)}", severity="warning",
                        markup=False, timeout=8)
        self.refresh_list()

    def filtered(self) -> list[Scenario]:
        grade = self.query_one("#filter-grade", Select).value
        category = self.query_one("#filter-category", Select).value
        return [s for s in self.scenarios
                if (grade == Select.NULL or s.grade_band == grade)
                and (category == Select.NULL or s.category == category)]

    def refresh_list(self) -> None:
        options = self.query_one("#scenario-list", OptionList)
        options.clear_options()
        items = self.filtered()
        options.add_options([
            Option(Content.assemble((safe_line(s.title, limit=80), "bold"), "\n",
                                    (safe_line(f"{s.grade_band} · {s.subject} · {s.category}",
                                               limit=60), "dim")), id=s.id)
            for s in items
        ])
        if items:
            options.highlighted = 0
            if self.session is None:
                self.show_card(items[0])

    @on(Select.Changed, "#filter-grade")
    @on(Select.Changed, "#filter-category")
    def _on_filter(self, event: Select.Changed) -> None:
        event.stop()
        self.refresh_list()

    def scenario_by_id(self, scenario_id: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.id == scenario_id), None)

    @on(OptionList.OptionHighlighted, "#scenario-list")
    def _on_highlight(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        scenario = self.scenario_by_id(event.option.id or "")
        if scenario is not None:
            self.selected = scenario
            if self.session is None or self.evaluation is not None:
                self.show_card(scenario)

    @on(OptionList.OptionSelected, "#scenario-list")
    async def _on_select(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        scenario = self.scenario_by_id(event.option.id or "")
        if scenario is not None:
            self.selected = scenario
            await self.start_session(scenario)

    def show_card(self, scenario: Scenario) -> None:
        from ...practice.session import scenario_card

        self.selected = scenario
        self.query_one("#practice-card", Static).update(literal(scenario_card(scenario)))

    # -- the session -----------------------------------------------------------------------
    @property
    def chat(self) -> VerticalScroll:
        return self.query_one("#practice-chat", VerticalScroll)

    def _notice(self, text: str) -> None:
        self.query_one("#practice-notice", Static).update(literal_line(text))

    def _turn_widget(self, turn: Turn) -> Static:
        who = turn.speaker if turn.role == "student" else "You (teacher)"
        body = Content.assemble((safe_line(who), "bold"), ": ", literal(turn.text))
        return Static(body, classes=f"turn-{turn.role}")

    async def action_start_session(self) -> None:
        scenario = self.selected
        if scenario is None:
            self.notify("Pick a scenario first.", markup=False)
            return
        await self.start_session(scenario)

    async def start_session(self, scenario: Scenario) -> None:
        """Open the card, store a new session, and show the student's first line."""
        from ...practice.session import opening_line

        if self.job is not None:
            self.job.cancel.set()
            self.job = None
        self.show_card(scenario)
        self.session = self.store.start(scenario, model=self.tapp.settings.chat_model)
        self.evaluation = None
        await self.chat.remove_children()
        first = opening_line(scenario)
        self.store.add_turn(self.session, first)
        await self.chat.mount(self._turn_widget(first))
        self._notice("Answer as the teacher. Ctrl+E when you are done, for feedback.")
        self.show_tab("tab-session")
        self.query_one("#practice-reply", Input).focus()

    @on(Input.Submitted, "#practice-reply")
    async def _on_reply(self, event: Input.Submitted) -> None:
        event.stop()
        await self.send(event.value)

    async def send(self, text: str) -> None:
        """The trainee's reply (what Enter does); the student answers in a worker."""
        from ...practice.session import DONE_COMMANDS, Turn

        text = storable(text.strip())
        if not text:
            return
        if text.lower() in DONE_COMMANDS:
            self.query_one("#practice-reply", Input).clear()
            self.action_evaluate()
            return
        if self.session is None:
            if self.selected is None:
                self.notify("Pick a scenario first.", markup=False)
                return
            await self.start_session(self.selected)
        if self.job is not None:
            self.notify("Wait for the student's reply, or press Esc to stop it.", markup=False)
            return
        assert self.session is not None
        turn = Turn("teacher", "Teacher", text)
        self.store.add_turn(self.session, turn)
        self.query_one("#practice-reply", Input).clear()
        await self.chat.mount(self._turn_widget(turn))
        self.chat.scroll_end(animate=False)
        self.job = PracticeJob("reply", self.session)
        self._notice("The student is thinking…" if self.tapp.backend.engine.done else WAITING)
        self._run_job(self.job)

    def action_evaluate(self) -> None:
        if self.session is None or not self.session.teacher_turns:
            self.notify("Answer the student first: the coach evaluates your responses.",
                        markup=False)
            return
        if self.job is not None:
            self.notify("Wait for the current reply, or press Esc to stop it.", markup=False)
            return
        self.job = PracticeJob("evaluate", self.session)
        self._notice("The coach is reading your responses…")
        self._run_job(self.job)

    def action_stop(self) -> None:
        if self.job is not None and not self.job.finished:
            self.job.cancel.set()
            self._notice("Stopping…")

    @work(thread=True, group="practice")
    def _run_job(self, job: PracticeJob) -> None:
        from ..backend import one_line

        def post(kind: str, **kw: Any) -> None:
            self.post_message(PracticeEvent(job, kind, **kw))

        backend = self.tapp.backend
        if not backend.engine.done:
            post("notice", text=WAITING)
            if not backend.engine.wait(job.cancel):
                post("stopped")
                return
        if backend.engine.error:
            post("error", text=f"The model could not be loaded: {backend.engine.error}. "
                               "Pick a model in Models & settings (F4).")
            return
        engine = backend.engine.value
        try:
            if job.kind == "reply":
                from ...practice.session import StudentSimulator

                with backend.model_turn(job.cancel) as held:
                    turn = StudentSimulator(engine).reply(job.session.scenario,
                                                          list(job.session.turns),
                                                          job.cancel) if held else None
                post("stopped" if job.cancel.is_set else "turn", turn=turn)
                return
            from ...practice.coach import Coach
            from ...practice.session import PracticeSession

            library = backend.library.value if backend.library.done else None
            embedder = None
            if library is not None:
                if not backend.embedder.done:
                    post("notice", text="Preparing the similarity model (first time only)…")
                    backend.embedder.wait(job.cancel, timeout=180)
                try:
                    embedder = getattr(library, "embedder", None)
                    if embedder is not None and not hasattr(embedder, "encode"):
                        embedder = None
                except Exception:  # noqa: BLE001 - scored without the similarity signal
                    embedder = None
            snapshot = PracticeSession(job.session.scenario, list(job.session.turns),
                                       job.session.id, job.session.ideal_response)
            with backend.model_turn(job.cancel) as held:
                evaluation = Coach(engine, embedder, library, self.tapp.settings).evaluate(
                    snapshot, job.cancel,
                    on_update=lambda ev: post("partial", evaluation=ev)) if held else None
            if job.cancel.is_set:
                post("stopped")
                return
            post("evaluation", evaluation=evaluation)
        except Exception as exc:  # noqa: BLE001 - one line for the user
            post("error", text=f"{'The reply' if job.kind == 'reply' else 'The evaluation'} "
                               f"failed: {one_line(exc)}")

    @on(PracticeEvent)
    async def _on_event(self, event: PracticeEvent) -> None:
        event.stop()
        job = event.job
        if job.finished or job is not self.job:
            return
        if event.kind == "notice":
            self._notice(event.text)
            return
        if event.kind == "partial":  # the signals at once, then the coach's part as it streams
            if event.evaluation is not None:
                self.show_feedback(event.evaluation)
            return
        job.finished = True
        self.job = None
        if event.kind == "turn" and event.turn is not None:
            if self.session is job.session:
                self.store.add_turn(job.session, event.turn)
                await self.chat.mount(self._turn_widget(event.turn))
                self.chat.scroll_end(animate=False)
            self._notice("")
        elif event.kind == "evaluation" and event.evaluation is not None:
            self.store.save_evaluation(job.session, event.evaluation)
            self.show_feedback(event.evaluation)
            self._notice(f"Evaluated: {event.evaluation.summary()}. See the Feedback tab.")
            self.refresh_progress()
        elif event.kind == "error":
            self._notice(event.text)
            self.notify(safe_line(event.text), severity="error", markup=False)
        else:
            self._notice("Stopped.")

    # -- feedback --------------------------------------------------------------------------
    def show_feedback(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        sim = ("" if evaluation.similarity is None else
               f" · similarity to the expert response {evaluation.similarity:.2f}")
        self.query_one("#feedback-summary", Static).update(Content.assemble(
            (f"Overall {round(evaluation.overall * 100)}%", "bold"), sim,
            f" · key principles covered {len(evaluation.principles_covered)}/"
            f"{len(evaluation.principles_covered) + len(evaluation.principles_missed)}"))
        self.query_one("#feedback-table", FitTable).set_rows(
            (None, {"criterion": wrapping(c.criterion),
                    "score": wrapping(f"{c.score}/{c.max_score}"),
                    "level": wrapping(c.descriptor),
                    "coach": wrapping(("…" if evaluation.pending else "-")
                                      if c.model_score is None else c.model_score),
                    "signal": wrapping(f"{round(c.signal * 100)}%")})
            for c in evaluation.scores)
        parts: list[str | tuple[str, str]] = [("Strengths", "bold"), "\n"]
        for s in evaluation.strengths:
            parts += ["  + ", s, "\n"]
        parts += ["\n", ("What to improve", "bold"), "\n"]
        for s in evaluation.improvements:
            parts += ["  - ", s, "\n"]
        who = "the coach" if evaluation.model_response_source == "model" else \
            "the expert response"
        parts += ["\n", (f"Model response ({who})", "bold"), "\n", evaluation.model_response,
                  "\n"]
        if evaluation.citations:
            parts += ["\n", ("From your library", "bold"), "\n"]
            for c in evaluation.citations:
                where = f", p. {c['page']}" if c.get("page") else ""
                parts += [f"  [{c['n']}] ", (f"{c['path']}{where}", "italic"), ": ",
                          c.get("snippet", ""), "\n"]
        if self.session is not None and self.session.ideal_response:
            parts += ["\n", ("Ideal response (marked)", "bold"), "\n",
                      self.session.ideal_response, "\n"]
        self.query_one("#feedback-body", Static).update(Content.assemble(*[
            (literal(p[0]).plain, p[1]) if isinstance(p, tuple) else literal(p).plain
            for p in parts]))
        self.show_tab("tab-feedback")

    def action_edit_ideal(self) -> None:
        if self.session is None or self.session.id is None:
            self.notify("Start a session first.", markup=False)
            return
        from .dialogs import InputDialog

        session = self.session
        current = session.ideal_response or (
            self.evaluation.model_response if self.evaluation is not None
            else session.scenario.expert_response.as_text())

        def done(text: str | None) -> None:
            if text is None:
                return
            value = storable(text.strip()) or None
            self.store.set_ideal(session.id or 0, value)
            session.ideal_response = value
            self.notify("Ideal response saved: export uses it as the training target."
                        if value else "Ideal response cleared: export uses the expert "
                        "response.", markup=False)
            if self.evaluation is not None:
                self.show_feedback(self.evaluation)

        self.app.push_screen(InputDialog("The ideal response for this session (used as the "
                                         "training target by export; empty clears it)",
                                         " ".join(current.split()), confirm="Save"), done)

    @on(Button.Pressed, "#practice-start")
    async def _start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_start_session()

    @on(Button.Pressed, "#practice-evaluate")
    def _evaluate_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_evaluate()

    @on(Button.Pressed, "#practice-ideal")
    def _ideal_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_edit_ideal()

    # -- progress --------------------------------------------------------------------------
    def action_show_progress(self) -> None:
        self.refresh_progress()
        self.show_tab("tab-progress")

    def refresh_progress(self) -> None:
        data = self.store.progress()
        self.progress_data = data
        select = self.query_one("#progress-series", Select)
        names = ["overall"] + [f"criterion: {c['name']}" for c in data["criteria"]] + \
            [f"category: {c['name']}" for c in data["categories"]]
        current = select.value if select.value in names else "overall"
        with self.prevent(Select.Changed):
            select.set_options([(safe_line(n, limit=60), n) for n in names])
            select.value = current

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{round(v * 100)}%"

        self.query_one("#progress-table", FitTable).set_rows(
            (None, {"name": wrapping(prefix + it["name"]), "n": wrapping(it["count"]),
                    "best": wrapping(pct(it["best"])), "average": wrapping(pct(it["average"])),
                    "latest": wrapping(pct(it["latest"]))})
            for prefix, items in (("", [data["overall"]]), ("", data["criteria"]),
                                  ("category: ", data["categories"]))
            for it in items)
        revisit = data["revisit"]
        parts: list[Any] = []
        if revisit:
            parts.append(("Scenarios to revisit\n", "bold"))
            for r in revisit:
                parts.append(f"  {safe_line(r['title'], limit=70)}: {r['reason']}\n")
        self.query_one("#progress-revisit", Static).update(Content.assemble(*parts))
        self.draw_chart(str(current))

    @on(Select.Changed, "#progress-series")
    def _on_series(self, event: Select.Changed) -> None:
        event.stop()
        self.draw_chart(str(event.value))

    def series_values(self, name: str) -> list[float]:
        data = self.progress_data or {}
        if not data:
            return []
        if name == "overall":
            item = data["overall"]
        else:
            kind, _, label = name.partition(": ")
            pool = data["criteria"] if kind == "criterion" else data["categories"]
            item = next((i for i in pool if i["name"] == label), {"series": []})
        return [p["value"] for p in item["series"]]

    def draw_chart(self, name: str) -> None:
        values = self.series_values(name)
        chart = self.query_one("#progress-chart", Static)
        if not values:
            chart.update(Content("No evaluated sessions yet: the chart of your scores over "
                                 "time appears here after your first evaluation."))
            return
        lines = [f"{name}: scores over time (oldest left, newest right)", "",
                 *column_chart(values)]
        chart.update(literal("\n".join(lines)))
