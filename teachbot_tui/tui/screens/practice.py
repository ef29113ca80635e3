"""The practice screen: pick a scenario, role-play it, get feedback, follow your progress.

Left: the scenarios (filter by grade band and category). Right, in tabs: the session (the
scenario card, the role-play, the reply box), the coach's feedback (a table per criterion,
strengths, improvements, the model response, citations from your library, the similarity to
the expert response) and progress (a chart over time per criterion or category, best and
average scores, scenarios to revisit).

Model work (the student's replies, the evaluation) runs in thread workers that only post
events; this screen stores results and updates widgets on the UI thread. Every text from a
scenario file or a model is shown literally (``Content`` / ``Text``, never markup). The
worker's job, the feedback and progress views and the chart are in :mod:`.practice_views`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
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

from ..keys import bindings
from ..text import literal, literal_line, safe_line, short_line, storable
from ..widgets.footer import Footer
from ..widgets.nav import NavBar
from ..widgets.path_input import HintInput
from ..widgets.status import StatusBar
from ..widgets.tables import FitTable
from .panes import SidePaneScreen
from .practice_views import (
    FEEDBACK_COLUMNS,
    PRACTICE_CSS,
    PROGRESS_COLUMNS,
    WAITING,
    PracticeEvent,
    PracticeJob,
    column_chart,
    feedback_body,
    feedback_rows,
    feedback_summary,
    progress_rows,
    revisit_content,
    run_job,
)

if TYPE_CHECKING:
    from ...practice.coach import Evaluation
    from ...practice.results import PracticeStore
    from ...practice.scenarios import Scenario
    from ...practice.session import PracticeSession, Turn
    from ..host import Host

ALL = "\x00all"
REPLY_HINTS = (
    "Answer as the teacher…  (Enter sends · Ctrl+E evaluates)",
    "Answer as the teacher…  (Enter sends)",
    "Answer as the teacher…",
)


class PracticeScreen(SidePaneScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("practice")
    SIDE_PANE = "#practice-left"
    DEFAULT_CSS = PRACTICE_CSS

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
                with Vertical(id="practice-filters"):
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
        # the feedback scrolls as a whole (arrow keys, PageDown); its table is one part
        target = {"tab-session": "#practice-reply", "tab-feedback": "#feedback-scroll",
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
                        f"{short_line(problems[0], 160)}", severity="warning",
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
            Option(Content.assemble((short_line(s.title, 80), "bold"), "\n",
                                    (short_line(f"{s.grade_band} · {s.subject} · "
                                                f"{s.category}", 60), "dim")), id=s.id)
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
        run_job(self.tapp, job, lambda kind, **kw: self.post_message(
            PracticeEvent(job, kind, **kw)))

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
        self.query_one("#feedback-summary", Static).update(feedback_summary(evaluation))
        self.query_one("#feedback-table", FitTable).set_rows(feedback_rows(evaluation))
        ideal = self.session.ideal_response if self.session is not None else None
        self.query_one("#feedback-body", Static).update(feedback_body(evaluation, ideal))
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
            select.set_options([(short_line(n, 60), n) for n in names])
            select.value = current

        self.query_one("#progress-table", FitTable).set_rows(progress_rows(data))
        self.query_one("#progress-revisit", Static).update(revisit_content(data))
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
