"""``teachbot practice ...``: scenarios, practice sessions, progress and export.

A thin layer over :mod:`.scenarios`, :mod:`.session`, :mod:`.coach`, :mod:`.draft`,
:mod:`.results` and :mod:`.export`; every command that lists something has ``--json``.
User errors (:class:`~teachbot_tui.practice.session.PracticeError`,
:class:`~teachbot_tui.practice.scenarios.ScenarioError`, ...) are shown as one line by the
root command (:mod:`teachbot_tui.errors`), never with a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..cli_common import (
    JsonOpt,
    err,
    home_paths,
    load_engine,
    load_settings,
    out,
    print_json,
)
from .session import DONE_COMMANDS, PracticeError

practice_app = typer.Typer(
    help=(
        "Practise classroom scenarios: the model plays the student, you answer as the "
        "teacher, and the coach scores your response against an expert one and a rubric.\n\n"
        "Start with `teachbot practice list`, then `teachbot practice run ID`. Your own "
        "scenario folder (the scenario_dir setting) is merged with the starter bank."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _out(text: str = "") -> None:
    """One line of document or model text on stdout (terminal-safe, see cli_common.out)."""
    out(text + "\n")
    sys.stdout.flush()


def _scenarios(warn: bool = True) -> list[Any]:
    from .scenarios import load_all

    settings = load_settings()
    user_dir = Path(settings.scenario_dir) if settings.scenario_dir else None
    scenarios, problems = load_all(user_dir)
    if warn:
        for p in problems:
            err(f"warning: {p}")
    return scenarios


def _scenario(scenario_id: str) -> Any:
    scenarios = _scenarios()
    for s in scenarios:
        if s.id == scenario_id:
            return s
    from difflib import get_close_matches

    close = get_close_matches(scenario_id, [s.id for s in scenarios], n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "; see `teachbot practice list`"
    raise PracticeError(f"no scenario with id {scenario_id!r}{hint}")


def _engine(model: str | None) -> Any:
    return load_engine(model, load_settings())


def _embedder() -> Any:
    """The embedder for the similarity signal (the one the library uses)."""
    from .. import defaults
    from ..library.embedder import Embedder

    settings = load_settings()
    path = Path(settings.embedder).expanduser() if settings.embedder else defaults.embedder_path()
    return Embedder(path, home_paths().embedding_cache)


def _library(embedder: Any = None) -> Any:
    """The teacher's library for citations, or None when it cannot be opened."""
    try:
        from ..library import Library

        return Library(home_paths(), load_settings(), embedder)
    except Exception:  # noqa: BLE001 - no library, no citations
        return None


def _store() -> Any:
    from .results import PracticeStore

    return PracticeStore(home_paths())


# --------------------------------------------------------------------------- scenarios


@practice_app.command("list")
def list_(
    grade: Annotated[str | None, typer.Option("--grade", help="Only this grade band.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """List the scenarios: the starter bank and your own folder (scenario_dir)."""
    scenarios = [s for s in _scenarios()
                 if (grade is None or s.grade_band == grade)
                 and (category is None or s.category.lower() == category.lower())]
    if as_json:
        print_json([{"id": s.id, "title": s.title, "grade_band": s.grade_band,
                      "subject": s.subject, "category": s.category,
                      "students": [st.name for st in s.students], "tags": list(s.tags),
                      "source": s.source} for s in scenarios])
        return
    for s in scenarios:
        _out(f"{s.id:40} {s.grade_band:5} {s.category:21} {s.title}{_from(s.source)}")
    err(f"{len(scenarios)} scenarios")


def _from(source: str) -> str:
    """Where a scenario comes from, for the list: nothing for the starter bank."""
    from .scenarios.loading import BANK_SOURCE, PACK_SOURCE

    if source == BANK_SOURCE:
        return ""
    if source.startswith(PACK_SOURCE):
        return f"  (model pack {source[len(PACK_SOURCE):]})"
    return f"  ({Path(source).name})"


@practice_app.command("show")
def show(scenario_id: Annotated[str, typer.Argument(help="A scenario id (see `list`).")],
         as_json: JsonOpt = False) -> None:
    """Show a scenario: the card, the students, the expert response and the rubric."""
    s = _scenario(scenario_id)
    if as_json:
        print_json(s.to_dict())
        return
    from .session import scenario_card

    _out(scenario_card(s))
    _out("")
    for st in s.students:
        _out(f"{st.name}: learns best: {st.learning_style}")
        _out(f"  voice: {st.voice}")
    er = s.expert_response
    _out("\nExpert response:")
    _out(f"  Now: {er.immediate_action}")
    _out(f"  Follow-up: {er.follow_up}")
    _out(f"  Prevention: {er.prevention}")
    _out(f"  Key principles: {'; '.join(er.key_principles)}")
    _out("\nCommon mistakes:")
    for m in s.common_mistakes:
        _out(f"  - {m.mistake} {m.why} Better: {m.better}")
    _out("\nRubric:")
    for c in s.rubric:
        _out(f"  {c.criterion} ({c.weight:g}): {c.description}")
    _out(f"\nSource: {s.source}")


@practice_app.command("validate")
def validate(paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")],
             as_json: JsonOpt = False) -> None:
    """Check scenario files: every problem on its own line, as file:line: field: message.

    Exits 1 when there is any problem.
    """
    from .scenarios import check_files, load_files

    problems = check_files(paths)
    if as_json:
        good = load_files(paths)[0] if not problems else []
        print_json({"ok": not problems, "scenarios": len(good),
                     "errors": [{"path": p.path, "line": p.line, "field": p.field,
                                 "message": p.message, "text": str(p)} for p in problems]})
    else:
        for p in problems:
            _out(str(p))
        if not problems:
            n = len(load_files(paths)[0])
            _out(f"ok: {n} scenario{'s' if n != 1 else ''}")
    if problems:
        raise typer.Exit(1)


@practice_app.command("draft")
def draft(
    description: Annotated[str, typer.Argument(help='One line, e.g. "A shy student who has '
                                                    'difficulties speaking up in class".')],
    grade: Annotated[str | None, typer.Option("--grade", help="Grade band: K-2, 3-5, 6-8 or "
                                                              "9-12.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="The lesson's subject.")]
    = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the scenario as YAML "
                                                             "into this folder.")] = None,
    model: Annotated[str | None, typer.Option(help="A registered model name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a full scenario from a one-line description with the model.

    The output is decoded under the scenario schema's grammar, repaired, and validated; an
    invalid draft is retried and never saved.
    """
    import yaml

    from .draft import draft_scenario, save_scenario

    engine = _engine(model)
    result = draft_scenario(engine, description, grade, subject,
                            progress=None if as_json else lambda m: err(m))
    path = save_scenario(result.obj, save) if save is not None else None
    if as_json:
        print_json(result.obj if path is None else {**result.obj, "saved_to": str(path)})
        return
    _out(yaml.safe_dump(result.obj, sort_keys=False, allow_unicode=True, width=96).rstrip())
    if path is not None:
        err(f"saved to {path}")


# --------------------------------------------------------------------------- sessions




def _print_evaluation(ev: Any) -> None:
    _out("\n=== Feedback ===")
    _out(f"Overall: {round(ev.overall * 100)}%"
         + (f"   similarity to the expert response: {ev.similarity:.2f}"
            if ev.similarity is not None else ""))
    for c in ev.scores:
        exact = f" ({c.value:.2f})" if c.value is not None else ""
        _out(f"  {c.criterion:24} {c.score}/{c.max_score}{exact}  {c.descriptor}")
    if ev.signals:
        _out("Signals found" + (f" (tone: {ev.tone})" if ev.tone else "") + ":")
        from .pedagogy import SIGNAL_LABELS

        for s in ev.signals:
            label = SIGNAL_LABELS.get(s["signal"], s["signal"])
            _out(f"  * {label}" + (f': "{s["evidence"]}"' if s.get("evidence") else ""))
    _out("Strengths:")
    for s in ev.strengths:
        _out(f"  + {s}")
    _out("To improve:")
    for s in ev.improvements:
        _out(f"  - {s}")
    who = "the coach" if ev.model_response_source == "model" else "the expert response"
    _out(f"Model response ({who}):")
    for line in ev.model_response.splitlines():
        _out(f"  {line}")
    if ev.citations:
        _out("From your library:")
        for c in ev.citations:
            where = f", p. {c['page']}" if c.get("page") else ""
            _out(f"  [{c['n']}] {c['path']}{where}: {c['snippet'][:160]}")


@practice_app.command("run")
def run(
    scenario_id: Annotated[str, typer.Argument(help="A scenario id (see `list`).")],
    model: Annotated[str | None, typer.Option(help="A registered model name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Practise a scenario in the terminal.

    The card opens the session and the student speaks first. Type your reply as the teacher
    (one line per turn); the student answers. Type /done to finish and get feedback, /quit
    to stop without it. Works with piped input too: one reply per line, /done at the end (or
    end of input).
    """
    from .coach import Coach
    from .session import StudentSimulator, opening_line, scenario_card

    scenario = _scenario(scenario_id)
    interactive = sys.stdin.isatty()
    say = err if as_json else _out
    say(scenario_card(scenario))
    say("")
    if not as_json:
        err("Loading the model…")
    engine = _engine(model)
    store = _store()
    simulator = StudentSimulator(engine)
    embedder = _embedder()
    library = _library(embedder)
    coach = Coach(engine, embedder, library, load_settings())
    coach.prepare(scenario)  # the embedder loads while the trainee answers
    try:
        session = store.start(scenario, model=getattr(engine, "name", None))
        first = opening_line(scenario)
        store.add_turn(session, first)
        say(f"{first.speaker}: {first.text}")
        finished = False
        while True:
            if interactive:
                sys.stderr.write("You (teacher)> ")
                sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:  # end of input
                finished = True
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in DONE_COMMANDS:
                finished = True
                break
            if text.lower() in ("/quit", "/exit"):
                break
            from .session import Turn

            store.add_turn(session, Turn("teacher", "Teacher", text))
            if not interactive:
                say(f"Teacher: {text}")
            reply = simulator.reply(scenario, session.turns)
            store.add_turn(session, reply)
            say(f"{reply.speaker}: {reply.text}")
        if not finished or not session.teacher_turns:
            say(f"Session {session.id} saved without feedback"
                + ("" if session.teacher_turns else " (you did not answer)") + ".")
            if as_json:
                print_json(store.get(session.id).as_dict())
            return
        say("\nThe coach is reading your responses…")
        evaluation = coach.evaluate(session)
        store.save_evaluation(session, evaluation)
        if as_json:
            print_json(store.get(session.id or 0).as_dict())
        else:
            _print_evaluation(evaluation)
            _out(f"\nSession {session.id} saved. Mark a better ideal response with "
                 f"`teachbot practice ideal {session.id} --text \"...\"`.")
    finally:
        if library is not None:
            library.close()
        store.close()


@practice_app.command("sessions")
def sessions(
    scenario_id: Annotated[str | None, typer.Option("--scenario", help="Only this scenario.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored practice sessions, newest first."""
    store = _store()
    try:
        items = store.list(scenario_id)
    finally:
        store.close()
    if as_json:
        print_json([i.as_dict() for i in items])
        return
    if not items:
        _out("No practice sessions yet: run one with `teachbot practice run ID`.")
    for i in items:
        score = "-" if i.overall is None else f"{round(i.overall * 100)}%"
        ideal = " ideal" if i.has_ideal else ""
        _out(f"{i.id:5} {i.created_at}  {score:>5}  {i.scenario_id}{ideal}")


@practice_app.command("session")
def session_show(session_id: Annotated[int, typer.Argument(help="A session id.")],
                 as_json: JsonOpt = False) -> None:
    """Show one stored session: the transcript and its feedback."""
    store = _store()
    try:
        stored = store.get(session_id)
    finally:
        store.close()
    if as_json:
        print_json(stored.as_dict())
        return
    _out(f"Session {session_id}: {stored.info.title} ({stored.info.created_at})")
    _out(stored.session.transcript())
    if stored.evaluation is not None:
        _print_evaluation(stored.evaluation)
    if stored.session.ideal_response:
        _out(f"\nIdeal response (marked):\n  {stored.session.ideal_response}")


@practice_app.command("ideal")
def ideal(
    session_id: Annotated[int, typer.Argument(help="A session id (see `sessions`).")],
    text: Annotated[str | None, typer.Option("--text", help="The corrected ideal response.")]
    = None,
    from_model: Annotated[bool, typer.Option(
        "--use-model-response", help="Use the coach's model response as the ideal.")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the marked ideal "
                                                        "response.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Mark or edit a session's ideal response: export uses it as the training target
    instead of the scenario's expert response."""
    store = _store()
    try:
        if clear:
            store.set_ideal(session_id, None)
            if as_json:
                print_json({"session": session_id, "ideal": None})
            else:
                _out(f"session {session_id}: ideal response cleared (export uses the expert "
                     "response)")
            return
        if from_model:
            stored = store.get(session_id)
            if stored.evaluation is None:
                raise PracticeError(f"session {session_id} has no evaluation yet")
            text = stored.evaluation.model_response
        if not text or not text.strip():
            raise PracticeError("give the ideal response with --text \"...\" (or "
                                "--use-model-response, or --clear)")
        store.set_ideal(session_id, text)
        if as_json:
            print_json({"session": session_id, "ideal": text})
        else:
            _out(f"session {session_id}: ideal response saved")
    finally:
        store.close()


@practice_app.command("progress")
def progress(as_json: JsonOpt = False) -> None:
    """Progress over time per rubric criterion and per category: best, average, latest,
    and the scenarios to revisit."""
    from .results import progress_text

    store = _store()
    try:
        data = store.progress()
    finally:
        store.close()
    if as_json:
        print_json(data)
        return
    sys.stdout.write(progress_text(data))


@practice_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSONL file to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Write practice sessions as training JSONL for `teachbot-train prepare`: chat records
    (target: the marked ideal response, else the expert response) and preference pairs."""
    from .export import export_sessions

    store = _store()
    try:
        report = export_sessions(store, out, load_settings().system_prompt)
    finally:
        store.close()
    if as_json:
        print_json(report.as_dict())
        return
    _out(f"wrote {report.chats} chat records and {report.pairs} preference pairs from "
         f"{report.sessions} sessions to {out}")
    for s in report.skipped:
        err(f"skipped: {s}")
    _out(f"next: teachbot-train prepare {out} --out prepared/")
