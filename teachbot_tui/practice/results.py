"""Practice results in the app's SQLite store, and progress over time.

Tables (migration 3 in :mod:`teachbot_tui.db`): ``practice_sessions`` (one run of a scenario,
with a snapshot of the scenario as it was, and the ideal response once marked),
``practice_turns`` (student and teacher lines), ``practice_evaluations`` (the coach's
evaluation as JSON, its overall score and similarity) and ``practice_scores`` (one row per
rubric criterion, for progress queries).

Progress uses the latest evaluation of each session; scores are compared across rubrics as
fractions of their range (``(score - min) / (max - min)``, shown as percentages). A
criterion's score is shown snapped to its rubric levels but stored exactly: the exact value
is in the evaluation's JSON (``scores[].value``) and progress uses it (evaluations stored
before it existed fall back to the snapped ``practice_scores.score``). The overall score is
stored exactly in ``practice_evaluations.overall``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import db
from ..paths import Paths
from ..text import storable
from .coach import Evaluation
from .scenarios import Scenario, ScenarioError, validate_object
from .session import PracticeError, PracticeSession, Turn

__all__ = ["PracticeStore", "SessionInfo", "StoredSession", "sparkline", "REVISIT_BELOW"]

REVISIT_BELOW = 0.6
SPARK = "▁▂▃▄▅▆▇█"




@dataclass
class SessionInfo:
    id: int
    scenario_id: str
    title: str
    category: str
    grade_band: str
    status: str
    turns: int
    overall: float | None
    has_ideal: bool
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StoredSession:
    info: SessionInfo
    session: PracticeSession
    evaluation: Evaluation | None
    evaluated_at: str | None = None
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "model": self.model,
            "turns": [t.as_dict() for t in self.session.turns],
            "ideal_response": self.session.ideal_response,
            "evaluation": self.evaluation.as_dict() if self.evaluation else None,
            "evaluated_at": self.evaluated_at,
        }


@dataclass
class Series:
    name: str
    points: list[tuple[str, float]] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        values = [v for _, v in self.points]
        return {
            "name": self.name,
            "count": len(values),
            "best": round(max(values), 4) if values else None,
            "average": round(sum(values) / len(values), 4) if values else None,
            "latest": round(values[-1], 4) if values else None,
            "average_score": round(sum(self.raw) / len(self.raw), 3) if self.raw else None,
            "series": [{"at": at, "value": round(v, 4)} for at, v in self.points],
        }


def sparkline(values: list[float], width: int = 24) -> str:
    """Values in [0, 1] as block characters, the latest ``width`` of them."""
    values = values[-width:]
    return "".join(SPARK[min(len(SPARK) - 1, max(0, round(v * (len(SPARK) - 1))))]
                   for v in values)


class PracticeStore:
    def __init__(self, paths: Paths | None = None, db_path: Path | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self._con = db.connect(db_path or self.paths.app_db)

    def close(self) -> None:
        self._con.close()

    # -- sessions --------------------------------------------------------------------------
    def start(self, scenario: Scenario, model: str | None = None,
              turns: list[Turn] | None = None) -> PracticeSession:
        snapshot = json.dumps(scenario.to_dict(), ensure_ascii=False)
        with self._con:
            cur = self._con.execute(
                "INSERT INTO practice_sessions(scenario_id, scenario_title, category, "
                "grade_band, subject, scenario_json, model) VALUES (?,?,?,?,?,?,?)",
                (scenario.id, storable(scenario.title), scenario.category,
                 scenario.grade_band, storable(scenario.subject), storable(snapshot), model),
            )
        session = PracticeSession(scenario, [], int(cur.lastrowid or 0))
        for t in turns or []:
            self.add_turn(session, t)
        return session

    def add_turn(self, session: PracticeSession, turn: Turn) -> None:
        if session.id is None:
            raise PracticeError("the session is not saved yet")
        with self._con:
            self._con.execute(
                "INSERT INTO practice_turns(session_id, role, speaker, content) VALUES (?,?,?,?)",
                (session.id, turn.role, storable(turn.speaker), storable(turn.text)),
            )
            self._touch(session.id)
        session.turns.append(turn)

    def _touch(self, session_id: int) -> None:
        self._con.execute(
            "UPDATE practice_sessions SET updated_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') "
            "WHERE id=?", (session_id,))

    def save_evaluation(self, session: PracticeSession, evaluation: Evaluation) -> int:
        if session.id is None:
            raise PracticeError("the session is not saved yet")
        details = storable(json.dumps(evaluation.as_dict(), ensure_ascii=False))
        with self._con:
            cur = self._con.execute(
                "INSERT INTO practice_evaluations(session_id, overall, similarity, model, "
                "details) VALUES (?,?,?,?,?)",
                (session.id, evaluation.overall, evaluation.similarity, evaluation.model,
                 details),
            )
            eval_id = int(cur.lastrowid or 0)
            self._con.executemany(
                "INSERT INTO practice_scores(evaluation_id, criterion, score, min_score, "
                "max_score, weight, model_score, signal) VALUES (?,?,?,?,?,?,?,?)",
                [(eval_id, s.criterion, s.score, s.min_score, s.max_score, s.weight,
                  s.model_score, s.signal) for s in evaluation.scores],
            )
            self._con.execute("UPDATE practice_sessions SET status='evaluated' WHERE id=?",
                              (session.id,))
            self._touch(session.id)
        return eval_id

    def set_ideal(self, session_id: int, text: str | None) -> None:
        """Mark (or with None / blank text, clear) the corrected ideal response."""
        value = text.strip() if text else None
        with self._con:
            cur = self._con.execute(
                "UPDATE practice_sessions SET ideal_response=? WHERE id=?",
                (storable(value) if value else None, session_id))
            if cur.rowcount:
                self._touch(session_id)
        if cur.rowcount == 0:
            raise PracticeError(f"no practice session with id {session_id}; see "
                                "`teachbot practice sessions`")

    def delete(self, session_id: int) -> None:
        with self._con:
            self._con.execute("DELETE FROM practice_sessions WHERE id=?", (session_id,))

    def _info(self, r: sqlite3.Row) -> SessionInfo:
        return SessionInfo(r["id"], r["scenario_id"], r["scenario_title"], r["category"],
                           r["grade_band"], r["status"], r["turns"], r["overall"],
                           bool(r["ideal_response"]), r["created_at"], r["updated_at"])

    _LIST_SQL = (
        "SELECT s.*, (SELECT COUNT(*) FROM practice_turns t WHERE t.session_id=s.id) AS turns, "
        "(SELECT e.overall FROM practice_evaluations e WHERE e.session_id=s.id "
        "ORDER BY e.id DESC LIMIT 1) AS overall FROM practice_sessions s"
    )

    def list(self, scenario_id: str | None = None) -> list[SessionInfo]:
        if scenario_id:
            rows = self._con.execute(self._LIST_SQL + " WHERE s.scenario_id=? ORDER BY s.id DESC",
                                     (scenario_id,)).fetchall()
        else:
            rows = self._con.execute(self._LIST_SQL + " ORDER BY s.id DESC").fetchall()
        return [self._info(r) for r in rows]

    def get(self, session_id: int) -> StoredSession:
        row = self._con.execute(self._LIST_SQL + " WHERE s.id=?", (session_id,)).fetchone()
        if row is None:
            raise PracticeError(f"no practice session with id {session_id}; see "
                                "`teachbot practice sessions`")
        try:
            scenario = validate_object(json.loads(row["scenario_json"]),
                                       path=f"session {session_id}")
        except (ScenarioError, ValueError) as exc:
            raise PracticeError(f"session {session_id}: its scenario snapshot is damaged "
                                f"({exc})") from None
        turns = [Turn(t["role"], t["speaker"], t["content"]) for t in self._con.execute(
            "SELECT * FROM practice_turns WHERE session_id=? ORDER BY id", (session_id,))]
        session = PracticeSession(scenario, turns, session_id, row["ideal_response"])
        ev = self._con.execute(
            "SELECT * FROM practice_evaluations WHERE session_id=? ORDER BY id DESC LIMIT 1",
            (session_id,)).fetchone()
        evaluation = None
        if ev is not None:
            try:
                evaluation = Evaluation.from_dict(json.loads(ev["details"]))
            except (ValueError, TypeError):
                evaluation = None
        return StoredSession(self._info(row), session, evaluation,
                             ev["created_at"] if ev is not None else None, row["model"])

    # -- progress --------------------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        """Per criterion and per category: count, best, average and latest (fractions of
        the score range), the series over time, and the scenarios to revisit."""
        latest = (
            "SELECT e.* FROM practice_evaluations e WHERE e.id = (SELECT MAX(e2.id) FROM "
            "practice_evaluations e2 WHERE e2.session_id = e.session_id)"
        )
        evals = self._con.execute(
            f"SELECT le.id, le.session_id, le.overall, le.similarity, le.created_at, le.details, "
            f"s.scenario_id, s.scenario_title, s.category FROM ({latest}) le "
            f"JOIN practice_sessions s ON s.id = le.session_id ORDER BY le.created_at, le.id"
        ).fetchall()
        criteria: dict[str, Series] = {}
        categories: dict[str, Series] = {}
        overall = Series("overall")
        for e in evals:
            overall.points.append((e["created_at"], e["overall"]))
            cat = categories.setdefault(e["category"], Series(e["category"]))
            cat.points.append((e["created_at"], e["overall"]))
            exact = _exact_values(e["details"])
            for s in self._con.execute("SELECT * FROM practice_scores WHERE evaluation_id=?",
                                       (e["id"],)):
                span = s["max_score"] - s["min_score"]
                value = exact.get(s["criterion"], s["score"])
                frac = (value - s["min_score"]) / span if span else 1.0
                series = criteria.setdefault(s["criterion"], Series(s["criterion"]))
                series.points.append((e["created_at"], frac))
                series.raw.append(float(value))
        by_scenario: dict[str, list[Any]] = defaultdict(list)
        for e in evals:
            by_scenario[e["scenario_id"]].append(e)
        revisit = []
        for scenario_id, items in by_scenario.items():
            last = items[-1]["overall"]
            best = max(i["overall"] for i in items)
            if last < REVISIT_BELOW:
                revisit.append({
                    "scenario": scenario_id, "title": items[-1]["scenario_title"],
                    "category": items[-1]["category"], "latest": round(last, 4),
                    "best": round(best, 4), "sessions": len(items),
                    "reason": f"latest score {round(last * 100)}% is below "
                              f"{round(REVISIT_BELOW * 100)}%",
                })
        unevaluated = self._con.execute(
            "SELECT scenario_id, scenario_title, category, COUNT(*) AS n FROM practice_sessions "
            "s WHERE NOT EXISTS (SELECT 1 FROM practice_evaluations e WHERE e.session_id=s.id) "
            "AND EXISTS (SELECT 1 FROM practice_turns t WHERE t.session_id=s.id AND "
            "t.role='teacher') GROUP BY scenario_id").fetchall()
        for r in unevaluated:
            if r["scenario_id"] not in by_scenario:
                revisit.append({"scenario": r["scenario_id"], "title": r["scenario_title"],
                                "category": r["category"], "latest": None, "best": None,
                                "sessions": r["n"], "reason": "started but never evaluated"})
        revisit.sort(key=lambda r: (r["latest"] is None, r["latest"] or 0.0))
        sessions = self._con.execute("SELECT COUNT(*) FROM practice_sessions").fetchone()[0]
        return {
            "sessions": sessions,
            "evaluated": len(evals),
            "overall": overall.as_dict(),
            "criteria": [s.as_dict() for s in criteria.values()],
            "categories": [s.as_dict() for s in sorted(categories.values(),
                                                       key=lambda s: s.name)],
            "revisit": revisit,
        }


def _exact_values(details: str) -> dict[str, float]:
    """Each criterion's exact (unsnapped) score from a stored evaluation's JSON; empty for
    evaluations stored before scores were kept exactly (their snapped score is used)."""
    try:
        scores = json.loads(details).get("scores", [])
        return {s["criterion"]: float(s["value"]) for s in scores
                if isinstance(s, dict) and isinstance(s.get("value"), int | float)}
    except (ValueError, TypeError, AttributeError, KeyError):
        return {}


def progress_text(progress: dict[str, Any], width: int = 24) -> str:
    """The progress report as plain text with sparklines (the CLI; the TUI draws its own)."""
    if not progress["evaluated"]:
        return ("No evaluated practice sessions yet: run one with "
                "`teachbot practice run ID` (or F5 in the app).")
    lines = [f"{progress['evaluated']} evaluated session(s) of {progress['sessions']}.", ""]

    def rows(title: str, items: list[dict[str, Any]]) -> None:
        lines.append(f"{title:26} {'n':>3} {'best':>5} {'avg':>5} {'last':>5}  over time")
        for it in items:
            values = [p["value"] for p in it["series"]]
            lines.append(
                f"{it['name'][:26]:26} {it['count']:>3} {_pct(it['best']):>5} "
                f"{_pct(it['average']):>5} {_pct(it['latest']):>5}  {sparkline(values, width)}")
        lines.append("")

    rows("overall", [progress["overall"]])
    rows("criterion", progress["criteria"])
    rows("category", progress["categories"])
    if progress["revisit"]:
        lines.append("Scenarios to revisit:")
        for r in progress["revisit"]:
            lines.append(f"  {r['scenario']}: {r['reason']}")
    return "\n".join(lines).rstrip() + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100)}%"
