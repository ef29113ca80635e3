"""The practice screen's parts that need no screen: the feedback and progress views as
content and table rows, the progress chart, and the messages its workers post.

Every text from a scenario, a model or the trainee is shown literally (``literal``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.content import Content
from textual.message import Message

from ...engine.base import Cancel
from ..text import literal, short_line
from ..widgets.tables import Col, wrapping

if TYPE_CHECKING:
    from ...practice.coach import Evaluation
    from ...practice.session import PracticeSession, Turn

CHART_HEIGHT = 8
WAITING = "Loading the model… the student will answer when it's ready."
BLOCKS = " ▁▂▃▄▅▆▇█"
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




def feedback_summary(evaluation: Evaluation) -> Content:
    sim = ("" if evaluation.similarity is None else
           f" · similarity to the expert response {evaluation.similarity:.2f}")
    return Content.assemble(
        (f"Overall {round(evaluation.overall * 100)}%", "bold"), sim,
        f" · key principles covered {len(evaluation.principles_covered)}/"
        f"{len(evaluation.principles_covered) + len(evaluation.principles_missed)}")


def feedback_rows(evaluation: Evaluation) -> Iterator[tuple[None, dict[str, Any]]]:
    """One table row per criterion: the shown (snapped) score and its level."""
    for c in evaluation.scores:
        yield None, {"criterion": wrapping(c.criterion),
                     "score": wrapping(f"{c.score}/{c.max_score}"),
                     "level": wrapping(c.descriptor),
                     "coach": wrapping(("…" if evaluation.pending else "-")
                                       if c.model_score is None else c.model_score),
                     "signal": wrapping(f"{round(c.signal * 100)}%")}


def feedback_body(evaluation: Evaluation, ideal: str | None) -> Content:
    """Signals found (with the trainee's sentence behind each), strengths, improvements,
    the model response, citations and the marked ideal response."""
    parts: list[str | tuple[str, str]] = []
    if evaluation.signals:
        tone = f" (tone: {evaluation.tone})" if evaluation.tone else ""
        parts += [(f"Signals found{tone}", "bold"), "\n"]
        from ...practice.pedagogy import SIGNAL_LABELS

        for s in evaluation.signals:
            parts += ["  * ", SIGNAL_LABELS.get(s["signal"], s["signal"])]
            if s.get("evidence"):
                parts += [": ", (f"\u201c{s['evidence']}\u201d", "italic")]
            parts.append("\n")
        parts.append("\n")
    parts += [("Strengths", "bold"), "\n"]
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
    if ideal:
        parts += ["\n", ("Ideal response (marked)", "bold"), "\n", ideal, "\n"]
    return Content.assemble(*[
        (literal(p[0]).plain, p[1]) if isinstance(p, tuple) else literal(p).plain
        for p in parts])


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{round(v * 100)}%"


def progress_rows(data: dict[str, Any]) -> Iterator[tuple[None, dict[str, Any]]]:
    for prefix, items in (("", [data["overall"]]), ("", data["criteria"]),
                          ("category: ", data["categories"])):
        for it in items:
            yield None, {"name": wrapping(prefix + it["name"]), "n": wrapping(it["count"]),
                         "best": wrapping(_pct(it["best"])),
                         "average": wrapping(_pct(it["average"])),
                         "latest": wrapping(_pct(it["latest"]))}


def revisit_content(data: dict[str, Any]) -> Content:
    parts: list[Any] = []
    if data["revisit"]:
        parts.append(("Scenarios to revisit\n", "bold"))
        for r in data["revisit"]:
            parts.append(f"  {short_line(r['title'], 70)}: {r['reason']}\n")
    return Content.assemble(*parts)


PRACTICE_CSS = """
#practice-main { height: 1fr; }
/* the tabs fill the height they have (Textual's are as tall as their content), so the
   role-play and the feedback share exactly that */
#practice-tabs, #practice-tabs > ContentSwitcher, #practice-tabs TabPane { height: 1fr; }
#practice-left { width: 44; border-right: solid $panel; }
#practice-filters { height: auto; }
/* one filter a line: side by side, "All categories" or "parent communication" did not fit
   half the pane and wrapped onto a second line */
#practice-filters Select { width: 100%; }
#practice-filters SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
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
/* the tables are as tall as their rows: the tab scrolls them with the rest (a table that
   scrolled inside the scrolling tab left the text under it out of reach of PageDown) */
#feedback-table, #progress-table { height: auto; margin: 1 0; }
.fb-heading { text-style: bold; margin-top: 1; }
#progress-series { width: 40; }
"""


def run_job(host: Any, job: PracticeJob, post: Callable[..., None]) -> None:
    """The model work of a practice job, in a worker thread: the student's reply or the
    coach's evaluation. It only posts events (``post(kind, **fields)``)."""
    from ..backend import one_line

    backend = host.backend
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
            evaluation = Coach(engine, embedder, library, host.settings).evaluate(
                snapshot, job.cancel,
                on_update=lambda ev: post("partial", evaluation=ev)) if held else None
        if job.cancel.is_set:
            post("stopped")
            return
        post("evaluation", evaluation=evaluation)
    except Exception as exc:  # noqa: BLE001 - one line for the user
        post("error", text=f"{'The reply' if job.kind == 'reply' else 'The evaluation'} "
                           f"failed: {one_line(exc)}")
