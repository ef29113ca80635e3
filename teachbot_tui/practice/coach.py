"""The coach: evaluates the trainee's responses in a practice session.

An evaluation blends two things, so that a small model's scores are not random:

1. **Objective signals** (deterministic, from the embedder):

   * ``similarity``: cosine similarity of everything the trainee said to the scenario's
     expert response written out as one block (the seed's signal), in [-1, 1];
   * ``coverage``: the share of the expert response's key principles the trainee's words
     cover (a principle counts when some sentence of the trainee is close to it: cosine
     >= 0.5, or half its content words appear);
   * ``mistakes``: common mistakes the trainee's sentences resemble (cosine >= 0.55 to the
     mistake, and closer to the mistake than to its "better" alternative);
   * per criterion, ``leaning``: whether the response is closer to the criterion's top
     level descriptor than to its bottom one.

   They make a signal in [0, 1] per criterion::

       sim_scaled = clamp((similarity - 0.15) / 0.5)
       signal = clamp(0.5*sim_scaled + 0.3*coverage + 0.2*leaning - 0.15*len(mistakes))

   (times ``words/12`` when the trainee said fewer than 12 words), which maps onto the
   criterion's score range: ``min + signal * (max - min)``.

2. **The model's judgement**: decoded under a JSON-schema grammar (llama.cpp), so it always
   parses: an integer score per criterion (only the criterion's level scores are allowed),
   strengths, improvements and a model response. It is validated again after parsing,
   repaired where possible, and asked for once more when it cannot be used.

The score of a criterion is ``round(MODEL_WEIGHT * model + (1 - MODEL_WEIGHT) * signal_level)``
snapped to the criterion's levels (signal alone when the model gave no usable score). The
overall score is the weighted mean of the criteria, each scaled to [0, 1].

Strengths and improvements are the model's (cleaned) plus deterministic ones: key principles
covered / missed, and the "better" advice of any common mistake spotted. The model response
is the model's when it is substantial and close to the expert response (cosine >= 0.35),
else the expert response. Citations come from the teacher's own library: passages relevant
to the situation and the trainee's response, above the retrieval threshold.

An evaluation never raises for the model's output: with no usable model output at all, the
signals and the scenario alone make the evaluation (``used_model`` is False).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..engine.base import Cancel, ChatModel, EngineError, Message, Options
from ..text import split_sentences
from .scenarios import Criterion, Scenario
from .session import PracticeError, PracticeSession

__all__ = ["Coach", "CriterionScore", "Evaluation", "evaluation_schema", "parse_partial_json"]

MODEL_WEIGHT = 0.5
COVER_COS = 0.5
MISTAKE_COS = 0.55
MODEL_RESPONSE_MIN_COS = 0.35
MODEL_RESPONSE_MIN_WORDS = 12
SHORT_ANSWER_WORDS = 12
COACH_MAX_TOKENS = 500
TEXT_PATTERN = "^[A-Za-z0-9 ,.;:!?'()/&%+-]+$"
"""Characters allowed in the model's strings (grammar): prose, no newlines or markup."""
MAX_ITEMS = 4

COACH_SYSTEM = (
    "You are an experienced teacher educator. You evaluate a trainee teacher's response to a "
    "classroom scenario, against an expert response and a rubric. Be fair, specific and "
    "encouraging. Reply with JSON only."
)


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

    @property
    def fraction(self) -> float:
        span = self.max_score - self.min_score
        return (self.score - self.min_score) / span if span else 1.0


@dataclass
class Evaluation:
    scores: list[CriterionScore]
    overall: float
    """Weighted mean of the criteria, each scaled to [0, 1]."""
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
    """``model`` or ``expert``."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""
    used_model: bool = True
    attempts: int = 0
    notes: list[str] = field(default_factory=list)

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
    """The JSON schema the coach's output is decoded under (kept to keywords llama.cpp's
    grammar converter supports: no string length limits, which it expands enormously; a
    character class keeps newlines, braces and code fences out of the text)."""
    text = {"type": "string", "pattern": TEXT_PATTERN}
    return {
        "type": "object",
        "properties": {
            "strengths": {"type": "array", "items": text, "minItems": 1, "maxItems": 2},
            "improvements": {"type": "array", "items": text, "minItems": 1, "maxItems": 2},
            "scores": {
                "type": "object",
                "properties": {c.criterion: {"type": "integer", "enum": _levels(c)}
                               for c in scenario.rubric},
                "required": [c.criterion for c in scenario.rubric],
                "additionalProperties": False,
            },
            "model_response": {"type": "string", "pattern": TEXT_PATTERN},
        },
        "required": ["strengths", "improvements", "scores", "model_response"],
        "additionalProperties": False,
    }


def parse_partial_json(text: str) -> Any:
    """Parse JSON, closing what a cut-short output left open (strings, arrays, objects)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    fixed = text + ('"' if in_string else "")
    fixed = re.sub(r"[,:\s]+$", "", fixed)
    if fixed.endswith('"') and not in_string and stack and stack[-1] == "}":
        # a dangling key without a value: drop it
        fixed = re.sub(r',?\s*"[^"]*"$', "", fixed)
    return json.loads(fixed + "".join(reversed(stack)))


# --------------------------------------------------------------------------- text helpers

_STOP_WORDS = (
    "a an and are as at be been but by can do for from had has have he her his i if in into "
    "is it its me my not of on or our she so than that the their them then there they this to "
    "up us was we were what when which who will with you your about after before them just "
    "also very more some any all"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


def _stems(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z][a-z'-]+", text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        for suffix in ("ing", "ed", "es", "s", "ly"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def _overlap(part: str, whole: set[str]) -> float:
    words = _stems(part)
    return len(words & whole) / len(words) if words else 0.0


def _split_sentences(text: str) -> list[str]:
    return [p for p in split_sentences(text) if len(p.split()) >= 2] or [text.strip()]


def _clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def _clean_items(items: Any, limit: int = MAX_ITEMS) -> list[str]:
    out: list[str] = []
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, str):
            continue
        s = " ".join(item.split()).strip(" -•*")
        if len(s.split()) < 3 or len(s) > 400:
            continue
        if any(s.lower() == o.lower() for o in out):
            continue
        out.append(s)
    return out[:limit]


def _snap(value: float, allowed: list[int]) -> int:
    target = math.floor(value + 0.5)
    return min(allowed, key=lambda a: (abs(a - target), -a))


# --------------------------------------------------------------------------- the coach


@dataclass
class Signals:
    similarity: float | None
    coverage: float
    covered: list[str]
    missed: list[str]
    mistakes: list[int]
    leaning: dict[str, float]
    words: int
    expert_cos: Any = None  # callable: text -> cosine to the expert response


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

    # -- signals ---------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        vecs = np.asarray(self.embedder.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def signals(self, scenario: Scenario, answer: str) -> Signals:
        expert = scenario.expert_response
        principles = list(expert.key_principles)
        mistakes = list(scenario.common_mistakes)
        sentences = _split_sentences(answer)
        words = len(answer.split())
        answer_stems = _stems(answer)
        covered_lex = [_overlap(p, answer_stems) >= 0.5 for p in principles]
        if self.embedder is None:
            lexical = _overlap(expert.as_text(), answer_stems)
            covered = covered_lex
            coverage = sum(covered) / len(principles) if principles else 0.0
            return Signals(None, coverage, [p for p, c in zip(principles, covered, strict=True)
                                            if c],
                           [p for p, c in zip(principles, covered, strict=True) if not c],
                           [], {c.criterion: 0.5 for c in scenario.rubric}, words,
                           expert_cos=lambda text: 0.2 + lexical)
        tops = [c.levels[-1].descriptor for c in scenario.rubric]
        bottoms = [c.levels[0].descriptor for c in scenario.rubric]
        texts = [answer, expert.as_text(), *sentences, *principles,
                 *[m.mistake for m in mistakes], *[m.better for m in mistakes], *tops, *bottoms]
        vecs = self._encode(texts)
        a, e = vecs[0], vecs[1]
        i = 2
        sv = vecs[i:i + len(sentences)]
        i += len(sentences)
        pv = vecs[i:i + len(principles)]
        i += len(principles)
        mv = vecs[i:i + len(mistakes)]
        i += len(mistakes)
        bv = vecs[i:i + len(mistakes)]
        i += len(mistakes)
        tv = vecs[i:i + len(tops)]
        i += len(tops)
        lv = vecs[i:i + len(bottoms)]
        similarity = float(a @ e)
        covered = [
            bool(covered_lex[j] or float((sv @ pv[j]).max()) >= COVER_COS)
            for j in range(len(principles))
        ]
        spotted = []
        for j in range(len(mistakes)):
            to_mistake = sv @ mv[j]
            to_better = sv @ bv[j]
            k = int(to_mistake.argmax())
            if float(to_mistake[k]) >= MISTAKE_COS and float(to_mistake[k]) > \
                    float(to_better[k]) + 0.05:
                spotted.append(j)
        leaning = {
            c.criterion: _clamp(0.5 + 4.0 * (float(a @ tv[j]) - float(a @ lv[j])))
            for j, c in enumerate(scenario.rubric)
        }
        coverage = sum(covered) / len(principles) if principles else 0.0

        def expert_cos(text: str) -> float:
            v = self._encode([text])[0]
            return float(v @ e)

        return Signals(similarity, coverage,
                       [p for p, c in zip(principles, covered, strict=True) if c],
                       [p for p, c in zip(principles, covered, strict=True) if not c],
                       spotted, leaning, words, expert_cos)

    def signal_for(self, sig: Signals, criterion: Criterion) -> float:
        sim = sig.similarity if sig.similarity is not None else 0.15 + sig.coverage * 0.3
        sim_scaled = _clamp((sim - 0.15) / 0.5)
        value = 0.5 * sim_scaled + 0.3 * sig.coverage + 0.2 * sig.leaning.get(
            criterion.criterion, 0.5) - 0.15 * len(sig.mistakes)
        if sig.words < SHORT_ANSWER_WORDS:
            value *= sig.words / SHORT_ANSWER_WORDS
        return _clamp(value)

    # -- the model -------------------------------------------------------------------------
    def messages(self, session: PracticeSession, compact: bool = False) -> list[Message]:
        s = session.scenario
        er = s.expert_response
        students = "\n".join(f"- {st.name} ({st.age_or_grade}): {', '.join(st.traits)}"
                             for st in s.students)
        rubric_lines = []
        for c in s.rubric:
            if compact:
                rubric_lines.append(f"- {c.criterion} ({_levels(c)[0]}-{_levels(c)[-1]}): "
                                    f"{c.description}")
            else:
                levels = "; ".join(f"{lv.score} = {lv.descriptor}" for lv in c.levels)
                rubric_lines.append(f"- {c.criterion}: {c.description} Levels: {levels}")
        mistakes = "\n".join(f"- {m.mistake} ({m.why})" for m in s.common_mistakes)
        transcript = session.transcript(teacher_label="Trainee teacher")
        user = (
            f"Scenario: {s.title} ({s.grade_band}, {s.subject}, {s.category})\n"
            f"Situation: {s.situation.strip()}\n"
            f"Students:\n{students}\n\n"
            f"Conversation:\n{transcript}\n\n"
            f"Expert response (the reference):\n{er.as_text()}\n\n"
            f"Common mistakes:\n{mistakes}\n\n"
            f"Rubric:\n" + "\n".join(rubric_lines) + "\n\n"
            "Evaluate the trainee teacher's responses. Give strengths (what the trainee did "
            "well), improvements (what to do better), a score for each rubric criterion, and "
            "model_response: what an expert teacher would say and do here, in 2 to 4 sentences."
        )
        return [{"role": "system", "content": COACH_SYSTEM}, {"role": "user", "content": user}]

    def _fit(self, session: PracticeSession) -> list[Message]:
        assert self.engine is not None
        budget = self.engine.n_ctx - self.max_tokens - 8
        msgs = self.messages(session)
        if self.engine.count_prompt_tokens(msgs) <= budget:
            return msgs
        msgs = self.messages(session, compact=True)
        trimmed = PracticeSession(session.scenario, list(session.turns), session.id)
        while self.engine.count_prompt_tokens(msgs) > budget and len(trimmed.turns) > 2:
            trimmed.turns = trimmed.turns[2:]
            msgs = self.messages(trimmed, compact=True)
        if self.engine.count_prompt_tokens(msgs) > budget:
            raise EngineError("the session is too long for the model's context window; "
                              "raise n_ctx")
        return msgs

    def _generate(self, messages: list[Message], schema: dict[str, Any], temperature: float,
                  cancel: Cancel | None) -> tuple[Any, str]:
        assert self.engine is not None
        opts = Options(max_tokens=self.max_tokens, temperature=temperature, json_schema=schema,
                       repeat_penalty=1.1, seed=0)
        text = "".join(self.engine.execute(messages, opts, cancel))
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
        for key in ("strengths", "improvements"):
            items = _clean_items(obj.get(key))
            if not items:
                problems.append(f"'{key}' is empty")
            clean[key] = items
        response = obj.get("model_response")
        clean["model_response"] = " ".join(response.split()) if isinstance(response, str) else ""
        if not clean["model_response"]:
            problems.append("'model_response' is empty")
        return clean, problems

    def _judge(self, session: PracticeSession, cancel: Cancel | None,
               notes: list[str]) -> tuple[dict[str, Any], int]:
        """The model's judgement, validated; one repair-and-retry. ``({}, n)`` when none."""
        if self.engine is None:
            notes.append("no model: scored from the objective signals alone")
            return {}, 0
        scenario = session.scenario
        schema = evaluation_schema(scenario)
        try:
            messages = self._fit(session)
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
                obj, raw = self._generate(messages, schema, 0.2 if attempt == 0 else 0.5,
                                          cancel)
            except EngineError as exc:
                notes.append(f"the coach model failed: {exc}")
                break
            clean, problems = self.check(obj, scenario)
            if len(clean.get("scores", {})) >= len(best.get("scores", {})):
                best = clean if clean else best
            if not problems:
                return clean, attempts
            notes.append(f"attempt {attempts}: " + "; ".join(problems[:3]))
            # repair: show the model its output and what was wrong, ask once more
            messages = [*messages, {"role": "assistant", "content": raw[:2000] or "{}"},
                        {"role": "user", "content": "That evaluation was not usable: "
                         + "; ".join(problems[:3]) + ". Reply again with the complete JSON."}]
            if self.engine.count_prompt_tokens(messages) > self.engine.n_ctx - self.max_tokens:
                messages = messages[:2]
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
    def evaluate(self, session: PracticeSession, cancel: Cancel | None = None) -> Evaluation:
        scenario = session.scenario
        answer = session.teacher_text()
        if not answer.strip():
            raise PracticeError("nothing to evaluate yet: answer the student as the teacher "
                                "first")
        notes: list[str] = []
        sig = self.signals(scenario, answer)
        judged, attempts = self._judge(session, cancel, notes)
        model_scores: dict[str, int] = judged.get("scores", {})
        scores = []
        for c in scenario.rubric:
            allowed = _levels(c)
            lo, hi = allowed[0], allowed[-1]
            signal = self.signal_for(sig, c)
            level = lo + signal * (hi - lo)
            model = model_scores.get(c.criterion)
            value = level if model is None else \
                self.model_weight * model + (1 - self.model_weight) * level
            score = _snap(value, allowed)
            descriptor = next(lv.descriptor for lv in c.levels if lv.score == score)
            scores.append(CriterionScore(c.criterion, score, lo, hi, c.weight, descriptor,
                                         model, round(signal, 4)))
        total_weight = sum(s.weight for s in scores) or 1.0
        overall = sum(s.weight * s.fraction for s in scores) / total_weight

        mistakes = [scenario.common_mistakes[j] for j in sig.mistakes]
        strengths = list(judged.get("strengths", []))
        for p in sig.covered:
            strengths.append(f"You drew on a key principle: {p}.")
        improvements = [f"Avoid this common mistake: {m.mistake} {m.why} Instead: {m.better}"
                        for m in mistakes]
        improvements += list(judged.get("improvements", []))
        for p in sig.missed[:2]:
            improvements.append(f"Bring in this key principle: {p}.")
        if sig.words < SHORT_ANSWER_WORDS:
            improvements.insert(0, "Say more: describe what you would say and do now, what "
                                   "you would follow up, and how you would prevent a repeat.")
        if not strengths:
            strengths.append("You responded to the student and kept the conversation going.")

        model_response, source = scenario.expert_response.as_text(), "expert"
        candidate = judged.get("model_response", "")
        if len(candidate.split()) >= MODEL_RESPONSE_MIN_WORDS and \
                candidate.strip().lower() != answer.strip().lower():
            try:
                close = sig.expert_cos(candidate) if sig.expert_cos else 0.0
            except Exception:  # noqa: BLE001
                close = 0.0
            if close >= MODEL_RESPONSE_MIN_COS:
                model_response, source = candidate, "model"
        return Evaluation(
            scores=scores, overall=overall, similarity=sig.similarity, coverage=sig.coverage,
            principles_covered=sig.covered, principles_missed=sig.missed,
            mistakes_spotted=[m.mistake for m in mistakes],
            strengths=_dedupe(strengths)[:MAX_ITEMS + 1],
            improvements=_dedupe(improvements)[:MAX_ITEMS + 1],
            model_response=model_response, model_response_source=source,
            citations=self.citations(scenario, answer),
            model=str(getattr(self.engine, "name", "") or ""), used_model=bool(model_scores),
            attempts=attempts, notes=notes,
        )


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.lower() not in (o.lower() for o in out):
            out.append(item)
    return out
