"""The coach: evaluates the trainee's responses in a practice session.

The feedback comes in two parts, so that it is there within seconds of ``/done``:

1. **Objective signals** (:mod:`.signals`, no chat model): similarity to the expert
   response, key principles covered and missed, common mistakes spotted, a signal in [0, 1]
   per rubric criterion, and the strengths and improvements they imply. The model response
   shown is the scenario's expert response; citations come from the teacher's own library
   (passages relevant to the situation and the trainee's response, above the retrieval
   threshold). This part is ready at once: ``evaluate(..., on_update=...)`` hands it over
   (``pending=True``) before the model starts.

2. **The model adds only what it is needed for**: an integer score per criterion (only the
   criterion's level scores are allowed) and two short comments (one strength, one
   improvement), decoded under a JSON-schema constraint (:mod:`..engine.structured`), so it
   always parses. ``on_update`` is called again as scores and comments stream in. The output
   is validated again after parsing, repaired where possible, and asked for once more when
   its scores cannot be used.

   The coach's prompt is the role-play's own prompt (the student's persona and the
   conversation, exactly as :class:`~.session.StudentSimulator` sends it) followed by one
   user message with the coach's request, so llama.cpp reuses the KV cache the role-play
   left and reads only the request.

The exact score of a criterion is ``MODEL_WEIGHT * model + (1 - MODEL_WEIGHT) * signal_level``
(the signal level alone when the model gave no usable score), where
``signal_level = min + signal * (max - min)``; it is stored (``CriterionScore.value``) and shown
snapped to the criterion's levels (``CriterionScore.score``). The overall score is the
weighted mean of the criteria's exact scores, each scaled to [0, 1], so it rarely ties.

An evaluation never raises for the model's output: with no usable model output at all, the
signals and the scenario alone make the evaluation (``used_model`` is False).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..engine.base import Cancel, ChatModel, EngineError, Message, Options
from . import signals
from .partial_json import parse_partial_json
from .scenarios import Criterion, Scenario, Student
from .session import PracticeError, PracticeSession, StudentSimulator, warm_structured

__all__ = ["Coach", "CriterionScore", "Evaluation", "evaluation_schema", "parse_partial_json"]

MODEL_WEIGHT = 0.5
COACH_MAX_TOKENS = 160
COMMENT_MAX_CHARS = 200
TEXT_PATTERN = "^[A-Za-z0-9 ,.;:!?'()/&%+-]+$"
"""Characters allowed in the model's strings (grammar): prose, no newlines or markup."""
MAX_ITEMS = 4
UPDATE_EVERY_WORDS = 3
"""While a comment streams, ``on_update`` is called every this many new words."""

Update = Callable[["Evaluation"], None]


# --------------------------------------------------------------------------- results


@dataclass
class CriterionScore:
    criterion: str
    score: int
    min_score: int
    max_score: int
    weight: float
    descriptor: str
    """The level descriptor of ``score``."""
    model_score: int | None
    """What the model said (None when it gave no usable score)."""
    signal: float
    """The objective signal in [0, 1]."""
    value: float | None = None
    """The exact score on the criterion's scale (``min_score`` to ``max_score``) before it
    is snapped to a level; None in evaluations stored by older versions."""

    @property
    def fraction(self) -> float:
        """The shown (snapped) score as a share of the range."""
        span = self.max_score - self.min_score
        return (self.score - self.min_score) / span if span else 1.0

    @property
    def value_fraction(self) -> float:
        """The exact score as a share of the range (the snapped one when not stored)."""
        if self.value is None:
            return self.fraction
        span = self.max_score - self.min_score
        return (self.value - self.min_score) / span if span else 1.0


@dataclass
class Evaluation:
    scores: list[CriterionScore]
    overall: float
    """Weighted mean of the criteria's exact scores, each scaled to [0, 1]."""
    similarity: float | None
    """Cosine similarity to the expert response, in [-1, 1] (None without an embedder)."""
    coverage: float
    principles_covered: list[str]
    principles_missed: list[str]
    mistakes_spotted: list[str]
    strengths: list[str]
    improvements: list[str]
    model_response: str
    model_response_source: str
    """``expert`` (the scenario's expert response); ``model`` in evaluations stored by older
    versions, whose coach also wrote a model response."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""
    used_model: bool = True
    attempts: int = 0
    notes: list[str] = field(default_factory=list)
    pending: bool = False
    """True while the model's part is still coming (an ``on_update`` snapshot)."""
    signals: list[dict[str, Any]] = field(default_factory=list)
    """The pedagogical signals found, each ``{signal, strength, evidence}`` (what the trainee
    said that triggered it); empty in evaluations stored by older versions."""
    tone: str = ""
    """``encouraging``, ``neutral`` or ``harsh`` (empty in older evaluations)."""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overall"] = round(self.overall, 4)
        if self.similarity is not None:
            d["similarity"] = round(self.similarity, 4)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        data = dict(d)
        data["scores"] = [CriterionScore(**s) for s in d.get("scores", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> str:
        return f"{round(self.overall * 100)}%"


# --------------------------------------------------------------------------- schema


def _levels(c: Criterion) -> list[int]:
    return sorted(lv.score for lv in c.levels)


def evaluation_schema(scenario: Scenario) -> dict[str, Any]:
    """The JSON schema the coach's output is decoded under: the scores first (they stream
    into the feedback first), then one strength and one improvement. A character class keeps
    newlines, braces and code fences out of the text."""
    comment = {"type": "string", "pattern": TEXT_PATTERN, "maxLength": COMMENT_MAX_CHARS}
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "object",
                "properties": {c.criterion: {"type": "integer", "enum": _levels(c)}
                               for c in scenario.rubric},
                "required": [c.criterion for c in scenario.rubric],
                "additionalProperties": False,
            },
            "strength": comment,
            "improvement": comment,
        },
        "required": ["scores", "strength", "improvement"],
        "additionalProperties": False,
    }


# --------------------------------------------------------------------------- helpers


def _clean_text(value: Any) -> str:
    """A usable comment: one line of at least three words, or ''."""
    if not isinstance(value, str):
        return ""
    s = " ".join(value.split()).strip(" -•*")
    return s if len(s.split()) >= 3 and len(s) <= 400 else ""


def _snap(value: float, allowed: list[int]) -> int:
    target = math.floor(value + 0.5)
    return min(allowed, key=lambda a: (abs(a - target), -a))


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.lower() not in (o.lower() for o in out):
            out.append(item)
    return out


def _speaker(scenario: Scenario, session: PracticeSession) -> Student:
    """The student whose persona the role-play used last (the last one who spoke)."""
    last = next((t.speaker for t in reversed(session.turns) if t.role == "student"), None)
    return next((s for s in scenario.students if s.name == last), scenario.students[0])


def _partial(obj: Any, scenario: Scenario) -> dict[str, Any]:
    """What can be shown of a still-streaming output: valid scores, comments so far."""
    if not isinstance(obj, dict):
        return {}
    raw = obj.get("scores") if isinstance(obj.get("scores"), dict) else {}
    by_key = {str(k).strip().lower(): v for k, v in raw.items()}
    scores = {c.criterion: by_key[c.criterion.lower()] for c in scenario.rubric
              if isinstance(by_key.get(c.criterion.lower()), int)
              and by_key[c.criterion.lower()] in _levels(c)}
    out: dict[str, Any] = {"scores": scores}
    for key in ("strength", "improvement"):
        if isinstance(obj.get(key), str) and obj[key].strip():
            out[key] = " ".join(obj[key].split())
    return out


def criterion_scores(scenario: Scenario, sig: signals.SignalReport,
                     model_scores: dict[str, int],
                     model_weight: float = MODEL_WEIGHT) -> list[CriterionScore]:
    """Each criterion's exact score (the signal's level, averaged with the model's score
    when there is one) and the level it is shown as."""
    scores = []
    for c in scenario.rubric:
        allowed = _levels(c)
        lo, hi = allowed[0], allowed[-1]
        signal = sig.criterion_signal(c)
        level = lo + signal * (hi - lo)
        model = model_scores.get(c.criterion)
        value = level if model is None else model_weight * model + (1 - model_weight) * level
        score = _snap(value, allowed)
        descriptor = next(lv.descriptor for lv in c.levels if lv.score == score)
        scores.append(CriterionScore(c.criterion, score, lo, hi, c.weight, descriptor,
                                     model, round(signal, 4), round(value, 4)))
    return scores


def signal_list(sig: signals.SignalReport) -> list[dict[str, Any]]:
    """The pedagogical signals found, in a fixed order, with their evidence."""
    return [{"signal": h.name, "strength": round(h.strength, 4), "evidence": h.evidence}
            for h in sig.pedagogy.found()]


# --------------------------------------------------------------------------- the coach


class Coach:
    """Evaluates a session with a chat model, an embedder and (optionally) the library."""

    def __init__(self, engine: ChatModel | None, embedder: Any = None, library: Any = None,
                 settings: Any = None, model_weight: float = MODEL_WEIGHT,
                 max_tokens: int = COACH_MAX_TOKENS) -> None:
        self.engine = engine
        self.embedder = embedder
        self.library = library
        self.settings = settings
        self.model_weight = model_weight
        self.max_tokens = max_tokens

    def prepare(self, scenario: Scenario) -> threading.Thread:
        """Get ready for ``evaluate`` in a background thread while the trainee answers: load
        the embedder and embed the scenario's own texts, and prepare the engine's JSON
        decoding. ``evaluate`` waits for nothing: what is not ready yet is done then."""

        def work() -> None:
            with contextlib.suppress(Exception):
                signals.prepare(scenario, self.embedder)
            if self.engine is not None:
                warm_structured(self.engine, background=False)

        thread = threading.Thread(target=work, name="coach-prepare", daemon=True)
        thread.start()
        return thread

    # -- the model -------------------------------------------------------------------------
    def request(self, scenario: Scenario) -> str:
        """The coach's request, sent after the role-play's own prompt."""
        names = " or ".join(s.name for s in scenario.students)
        rubric = "\n".join(f"- {c.criterion} ({_levels(c)[0]} to {_levels(c)[-1]}): "
                           f"{c.description}" for c in scenario.rubric)
        return (
            f"(Coach) Pause the role-play: you are no longer {names}. You are an experienced "
            "teacher educator. Assess the teacher's replies above (the user's turns).\n"
            f"What an expert teacher does here: "
            f"{'; '.join(scenario.expert_response.key_principles)}.\n"
            f"Rubric:\n{rubric}\n"
            "Reply with JSON only: a score for each criterion, then strength (one sentence "
            "on what the teacher did well) and improvement (one sentence on what to do "
            "better), both addressed to the teacher."
        )

    def messages(self, session: PracticeSession) -> list[Message]:
        """The role-play's prompt for this session, then the coach's request (llama.cpp
        reuses the cached role-play; older exchanges are dropped to fit, as the role-play
        does)."""
        assert self.engine is not None
        scenario = session.scenario
        request = self.request(scenario)
        room = self.max_tokens + self.engine.count_tokens(request) + 16
        msgs = StudentSimulator(self.engine, max_tokens=room).messages(
            scenario, list(session.turns), _speaker(scenario, session))
        if msgs[-1]["role"] == "user":  # the teacher spoke last: keep roles alternating
            msgs[-1] = {"role": "user", "content": msgs[-1]["content"] + "\n\n" + request}
        else:
            msgs.append({"role": "user", "content": request})
        if self.engine.count_prompt_tokens(msgs) > self.engine.n_ctx - self.max_tokens:
            raise EngineError("the session is too long for the model's context window; "
                              "raise n_ctx")
        return msgs

    def _generate(self, messages: list[Message], scenario: Scenario, temperature: float,
                  cancel: Cancel | None,
                  on_partial: Callable[[dict[str, Any]], None] | None) -> tuple[Any, str]:
        assert self.engine is not None
        opts = Options(max_tokens=self.max_tokens, temperature=temperature,
                       json_schema=evaluation_schema(scenario),
                       repeat_penalty=1.1, seed=0, adapter=False)
        parts: list[str] = []
        shown: tuple[int, int, int] = (0, 0, 0)
        for piece in self.engine.execute(messages, opts, cancel):
            parts.append(piece)
            if on_partial is None:
                continue
            try:
                partial = _partial(parse_partial_json("".join(parts)), scenario)
            except (json.JSONDecodeError, ValueError):
                continue
            now = (len(partial.get("scores", {})),
                   len(partial.get("strength", "").split()) // UPDATE_EVERY_WORDS,
                   len(partial.get("improvement", "").split()) // UPDATE_EVERY_WORDS)
            if now != shown:
                shown = now
                on_partial(partial)
        text = "".join(parts)
        try:
            return parse_partial_json(text), text
        except (json.JSONDecodeError, ValueError):
            return None, text

    @staticmethod
    def check(obj: Any, scenario: Scenario) -> tuple[dict[str, Any], list[str]]:
        """Validate the model's parsed output; return what is usable and the problems."""
        problems: list[str] = []
        if not isinstance(obj, dict):
            return {}, ["the output is not a JSON object"]
        clean: dict[str, Any] = {"scores": {}}
        raw_scores = obj.get("scores")
        if not isinstance(raw_scores, dict):
            problems.append("'scores' is missing")
            raw_scores = {}
        by_key = {str(k).strip().lower(): v for k, v in raw_scores.items()}
        for c in scenario.rubric:
            value = by_key.get(c.criterion.lower())
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"no score for {c.criterion!r}")
                continue
            allowed = _levels(c)
            if value not in allowed:
                problems.append(f"score {value} for {c.criterion!r} is not one of {allowed}")
                value = _snap(float(value), allowed)
            clean["scores"][c.criterion] = int(value)
        for key in ("strength", "improvement"):
            clean[key] = _clean_text(obj.get(key))
            if not clean[key]:
                problems.append(f"'{key}' is empty")
        return clean, problems

    def _judge(self, session: PracticeSession, cancel: Cancel | None, notes: list[str],
               on_partial: Callable[[dict[str, Any]], None] | None
               ) -> tuple[dict[str, Any], int]:
        """The model's judgement, validated; one repair-and-retry when scores are missing.
        ``({}, n)`` when there is none."""
        if self.engine is None:
            notes.append("no model: scored from the objective signals alone")
            return {}, 0
        scenario = session.scenario
        try:
            messages = self.messages(session)
        except EngineError as exc:
            notes.append(str(exc))
            return {}, 0
        best: dict[str, Any] = {}
        attempts = 0
        for attempt in range(2):
            if cancel is not None and cancel.is_set:
                break
            attempts += 1
            try:
                obj, raw = self._generate(messages, scenario, 0.2 if attempt == 0 else 0.5,
                                          cancel, on_partial)
            except EngineError as exc:
                notes.append(f"the coach model failed: {exc}")
                break
            clean, problems = self.check(obj, scenario)
            if len(clean.get("scores", {})) >= len(best.get("scores", {})):
                best = clean if clean else best
            if problems:
                notes.append(f"attempt {attempts}: " + "; ".join(problems[:3]))
            if not any("score" in p or "JSON" in p for p in problems):
                break  # the scores are usable (an empty comment is not worth a retry)
            # repair: show the model its output and what was wrong, ask once more
            messages = [*messages, {"role": "assistant", "content": raw[:2000] or "{}"},
                        {"role": "user", "content": "That evaluation was not usable: "
                         + "; ".join(problems[:3]) + ". Reply again with the complete JSON."}]
            if self.engine.count_prompt_tokens(messages) > self.engine.n_ctx - self.max_tokens:
                messages = messages[:-2]
        return best, attempts

    # -- citations -------------------------------------------------------------------------
    def citations(self, scenario: Scenario, answer: str, k: int = 3) -> list[dict[str, Any]]:
        if self.library is None:
            return []
        threshold = float(getattr(self.settings, "retrieval_threshold", 0.35) or 0.0)
        query = f"{scenario.situation.strip()} {answer.strip()}"[:2000]
        try:
            hits = self.library.search(query, k=k)
        except Exception:  # noqa: BLE001 - no citations is fine; the evaluation goes on
            return []
        out = []
        for h in hits:
            if float(getattr(h, "score", 0.0)) < threshold:
                continue
            out.append({
                "n": len(out) + 1, "path": h.path, "page": h.page, "heading": h.heading,
                "snippet": " ".join(h.text.split())[:240], "score": round(float(h.score), 4),
                "chunk_id": h.chunk_id,
            })
        return out

    # -- the evaluation --------------------------------------------------------------------
    def _assemble(self, scenario: Scenario, sig: signals.SignalReport, judged: dict[str, Any],
                  citations: list[dict[str, Any]], attempts: int, notes: list[str],
                  pending: bool) -> Evaluation:
        model_scores: dict[str, int] = judged.get("scores", {})
        scores = criterion_scores(scenario, sig, model_scores, self.model_weight)
        total_weight = sum(s.weight for s in scores) or 1.0
        overall = sum(s.weight * s.value_fraction for s in scores) / total_weight

        urgent = ("short_answer", "common_mistake", "reveals_answer", "tone_harsh",
                  "on_situation")
        first = [f.text for f in sig.findings if f.kind == "improvement"
                 and f.signal in urgent]
        later = [f.text for f in sig.findings if f.kind == "improvement"
                 and f.signal not in urgent]
        model_strength = [judged["strength"]] if judged.get("strength") else []
        model_improvement = [judged["improvement"]] if judged.get("improvement") else []
        strengths = model_strength + sig.strengths
        if not strengths and not pending:
            strengths.append("You responded to the student and kept the conversation going.")
        improvements = first + model_improvement + later
        return Evaluation(
            scores=scores, overall=overall, similarity=sig.similarity, coverage=sig.coverage,
            principles_covered=sig.covered, principles_missed=sig.missed,
            mistakes_spotted=[m.mistake for m in sig.mistakes],
            strengths=_dedupe(strengths)[:MAX_ITEMS + 1],
            improvements=_dedupe(improvements)[:MAX_ITEMS + 1],
            model_response=scenario.expert_response.as_text(), model_response_source="expert",
            citations=citations, model=str(getattr(self.engine, "name", "") or ""),
            used_model=bool(model_scores), attempts=attempts, notes=list(notes),
            pending=pending, signals=signal_list(sig), tone=sig.pedagogy.tone,
        )

    def evaluate(self, session: PracticeSession, cancel: Cancel | None = None,
                 on_update: Update | None = None) -> Evaluation:
        """The evaluation of everything the trainee said. ``on_update`` (called in this
        thread) gets the signal-based evaluation before the model starts, then a new one
        each time a score or a few words of a comment arrive (all with ``pending=True``);
        the complete evaluation is returned."""
        scenario = session.scenario
        answer = session.teacher_text()
        if not answer.strip():
            raise PracticeError("nothing to evaluate yet: answer the student as the teacher "
                                "first")
        notes: list[str] = []
        sig = signals.compute(scenario, answer, self.embedder,
                              turns=[t.text for t in session.teacher_turns])
        citations = self.citations(scenario, answer)
        on_partial = None
        if on_update is not None:
            on_update(self._assemble(scenario, sig, {}, citations, 0, notes,
                                     self.engine is not None))

            def on_partial(partial: dict[str, Any]) -> None:
                on_update(self._assemble(scenario, sig, partial, citations, 0, notes, True))

        judged, attempts = self._judge(session, cancel, notes, on_partial)
        return self._assemble(scenario, sig, judged, citations, attempts, notes, False)
