"""The coach's objective signals: everything in the feedback that needs no chat model.

Computed from the trainee's words, the scenario's own fields (expert response, key
principles, common mistakes, rubric) and the embedder, in well under a second, so the
feedback screen can show them the moment the trainee says ``/done``:

* ``similarity``: cosine similarity of everything the trainee said to the scenario's expert
  response written out as one block, in [-1, 1] (None without an embedder);
* ``coverage``: the share of the expert response's key principles the trainee's words cover
  (a principle counts when some sentence of the trainee is close to it: cosine >= 0.5, or
  half its content words appear);
* ``mistakes``: common mistakes the trainee's sentences resemble (cosine >= 0.55 to the
  mistake, and closer to the mistake than to its "better" alternative);
* per criterion, ``leaning``: whether the response is closer to the criterion's top level
  descriptor than to its bottom one;
* the pedagogical signals of :mod:`.pedagogy` (names the mistake, locates it, guides,
  reveals the answer, next step, tone, stays on the situation), found per trainee turn.

They make a signal in [0, 1] per criterion (:meth:`SignalReport.criterion_signal`): the
criterion's family (:func:`criterion_family`, from its name) weighs them
(:data:`CRITERION_WEIGHTS`); the sum is multiplied by ``0.35 + 0.65 * on_situation`` and
scaled down for answers under 12 words.

Every feedback line a signal produces is a :class:`Finding` (a strength or an improvement,
with the trainee's sentence that triggered it where there is one). Further signals plug in
through :data:`EXTRACTORS`: a function ``(SignalContext) -> list[Finding]``, run after the
built-in ones; its findings join the feedback in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..text import split_sentences as text_sentences
from .pedagogy import PedagogySignals, analyse_turns, stem_words
from .pedagogy import fixed_texts as pedagogy_texts
from .scenarios import Criterion, Mistake, Scenario

__all__ = [
    "EXTRACTORS",
    "Finding",
    "SignalContext",
    "SignalReport",
    "compute",
    "prepare",
    "split_sentences",
    "stems",
]

COVER_COS = 0.5
MISTAKE_COS = 0.55
SHORT_ANSWER_WORDS = 12

stems = stem_words
"""Content words of a text (three letters or more, no stopwords), stemmed the way the
library's keyword search stems them (:mod:`teachbot_tui.library.keywords`)."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "diagnosis": ("diagnos", "mistake", "error", "misconception"),
    "guidance": ("guidance", "pedagog", "teaching", "strateg", "scaffold", "question"),
    "support": ("support", "encourag", "next step", "confidence", "feeling"),
    "conduct": ("conduct", "tone", "respect", "professional", "courteous", "calm"),
    "management": ("management", "routine", "behaviour", "safe"),
}
"""Which signals a criterion weighs is read from its name (else its description)."""

CRITERION_WEIGHTS: dict[str, dict[str, float]] = {
    "diagnosis": {"names_mistake": 0.45, "locates": 0.45, "coverage": 0.15,
                  "tone_encouraging": 0.05, "tone_harsh": -0.1, "mistakes": -0.2},
    "guidance": {"guides": 0.45, "similarity": 0.35, "locates": 0.1, "coverage": 0.05,
                 "tone_encouraging": 0.05, "reveals_answer": -0.35, "tone_harsh": -0.1,
                 "mistakes": -0.1},
    "support": {"tone_encouraging": 0.4, "similarity": 0.35, "guides": 0.2, "locates": 0.15,
                "next_step": 0.05, "bias": 0.05, "reveals_answer": -0.25, "tone_harsh": -0.25},
    "conduct": {"similarity": 0.25, "guides": 0.3, "locates": 0.2, "coverage": 0.1,
                "next_step": 0.1, "bias": 0.3, "tone_harsh": -0.65},
    "management": {"similarity": 0.35, "coverage": 0.3, "guides": 0.25, "next_step": 0.15,
                   "bias": 0.15, "tone_harsh": -0.2},
    "general": {"similarity": 0.3, "guides": 0.25, "tone_encouraging": 0.15, "coverage": 0.1,
                "names_mistake": 0.1, "next_step": 0.1, "bias": 0.05, "tone_harsh": -0.35,
                "reveals_answer": -0.2},
}
"""Per criterion family, the weight of each signal (``bias``: a constant); fitted by
non-negative least squares on the labelled set's tuning half (``scripts/data/coach/``),
then rounded and smoothed by hand (small weights dropped)."""


def criterion_family(criterion: Criterion) -> str:
    for text in (criterion.criterion, criterion.description):
        low = text.lower()
        for family, words in FAMILIES.items():
            if any(w in low for w in words):
                return family
    return "general"


def _overlap(part: str, whole: set[str]) -> float:
    words = stems(part)
    return len(words & whole) / len(words) if words else 0.0


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` worth judging (two words or more), split the one way the
    project splits sentences (:func:`teachbot_tui.text.split_sentences`)."""
    return [p for p in text_sentences(text) if len(p.split()) >= 2] or [text.strip()]


def clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


@dataclass
class Finding:
    """One line of feedback a signal produced."""

    signal: str
    """Which signal: ``principle_covered``, ``principle_missed``, ``common_mistake``,
    ``short_answer`` (or a plugged-in one's name)."""
    kind: str
    """``strength`` or ``improvement``."""
    text: str
    """The feedback line, addressed to the trainee."""
    evidence: str = ""
    """The trainee's sentence that triggered it (empty when none did)."""


@dataclass
class SignalContext:
    """What a signal extractor gets: the scenario, the trainee's words, and the embedder."""

    scenario: Scenario
    answer: str
    sentences: list[str]
    embedder: Any = None

    def encode(self, texts: Sequence[str]) -> Any:
        """L2-normalized float32 vectors (needs an embedder)."""
        import numpy as np

        vecs = np.asarray(self.embedder.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)


Extractor = Callable[[SignalContext], list[Finding]]
EXTRACTORS: list[Extractor] = []
"""Further signals, run after the built-in ones (empty by default)."""


@dataclass
class SignalReport:
    similarity: float | None
    coverage: float
    covered: list[str]
    missed: list[str]
    mistakes: list[Mistake]
    leaning: dict[str, float]
    words: int
    findings: list[Finding] = field(default_factory=list)
    pedagogy: PedagogySignals = field(default_factory=PedagogySignals)
    """The pedagogical signals of the session (the strongest turn for each)."""
    turns: list[PedagogySignals] = field(default_factory=list)
    """The pedagogical signals of each trainee turn."""

    def features(self) -> dict[str, float]:
        """Everything a criterion's value is made of, each in [0, 1]."""
        sim = self.similarity if self.similarity is not None else 0.15 + self.coverage * 0.3
        p = self.pedagogy
        reveal = p.strength("reveals_answer") if p.penalise_reveal else 0.0
        return {
            "similarity": clamp((sim - 0.15) / 0.5), "coverage": self.coverage,
            "mistakes": min(1.0, len(self.mistakes) / 2),
            "names_mistake": p.strength("names_mistake"), "locates": p.strength("locates"),
            "guides": p.strength("guides"), "reveals_answer": reveal,
            "next_step": p.strength("next_step"),
            "tone_encouraging": p.strength("tone_encouraging"),
            "tone_harsh": p.strength("tone_harsh"), "on_situation": p.strength("on_situation"),
        }

    def criterion_signal(self, criterion: Criterion) -> float:
        """The objective signal for ``criterion``, in [0, 1]: the weighted signals of the
        criterion's family (:data:`CRITERION_WEIGHTS`), times how much the response stays on
        the situation, scaled down for very short answers."""
        f = self.features()
        f["leaning"] = self.leaning.get(criterion.criterion, 0.5)
        f["bias"] = 1.0
        weights = CRITERION_WEIGHTS[criterion_family(criterion)]
        value = sum(w * f[name] for name, w in weights.items())
        value *= 0.35 + 0.65 * f["on_situation"]
        if self.words < SHORT_ANSWER_WORDS:
            value *= 0.6 + 0.4 * self.words / SHORT_ANSWER_WORDS
        return clamp(value)

    @property
    def strengths(self) -> list[str]:
        return [f.text for f in self.findings if f.kind == "strength"]

    @property
    def improvements(self) -> list[str]:
        return [f.text for f in self.findings if f.kind == "improvement"]


def _fixed_texts(scenario: Scenario) -> list[str]:
    """The scenario's texts every evaluation embeds (cached by the embedder after once)."""
    expert = scenario.expert_response
    return [expert.as_text(), *expert.key_principles,
            *[m.mistake for m in scenario.common_mistakes],
            *[m.better for m in scenario.common_mistakes],
            *[c.levels[-1].descriptor for c in scenario.rubric],
            *[c.levels[0].descriptor for c in scenario.rubric],
            *pedagogy_texts(scenario)]


def prepare(scenario: Scenario, embedder: Any) -> None:
    """Load the embedder and embed the scenario's own texts ahead of the evaluation (call
    from a background thread while the trainee answers)."""
    if embedder is not None:
        embedder.encode(_fixed_texts(scenario))


def _findings(ctx: SignalContext, covered: list[str], missed: list[str],
              mistakes: list[tuple[Mistake, str]], words: int) -> list[Finding]:
    out: list[Finding] = []
    if words < SHORT_ANSWER_WORDS:
        out.append(Finding("short_answer", "improvement",
                           "Say more: describe what you would say and do now, what you would "
                           "follow up, and how you would prevent a repeat."))
    for m, evidence in mistakes:
        out.append(Finding("common_mistake", "improvement",
                           f"Avoid this common mistake: {m.mistake} {m.why} Instead: {m.better}",
                           evidence))
    for p in covered:
        out.append(Finding("principle_covered", "strength",
                           f"You drew on a key principle: {p}."))
    for p in missed[:2]:
        out.append(Finding("principle_missed", "improvement",
                           f"Bring in this key principle: {p}."))
    return out


_FOUND_TEXT = {
    "names_mistake": ("strength", "You named the mistake or the problem."),
    "locates": ("strength", "You pointed to where the problem is."),
    "guides": ("strength", "You guided with a question or hint instead of telling."),
    "next_step": ("strength", "You left the student a concrete next step."),
    "tone_encouraging": ("strength", "Your tone was encouraging."),
    "tone_harsh": ("improvement", "Your tone was harsh: name the problem without blame, and "
                                  "recognise what the student did well."),
}
_MISSING_TEXT = {
    "guides": "Guide with a question or hint that leaves the thinking with the student.",
    "next_step": "Leave the student a concrete next step to do now.",
    "names_mistake": "Name the mistake or the problem, not just that something is wrong.",
}


def _pedagogy_findings(p: PedagogySignals) -> list[Finding]:
    """Feedback lines from the pedagogical signals, each with its evidence sentence."""
    out: list[Finding] = []
    for hit in p.found():
        if hit.name == "reveals_answer":
            if p.penalise_reveal:
                out.append(Finding(hit.name, "improvement", "You gave the answer away: let the "
                                   "student find it with a question or hint.", hit.evidence))
            continue
        if hit.name in _FOUND_TEXT:
            kind, text = _FOUND_TEXT[hit.name]
            out.append(Finding(hit.name, kind, text, hit.evidence))
    if p.hits and p.strength("on_situation") < 0.5:
        out.append(Finding("on_situation", "improvement",
                           "Stay on the situation: respond to what just happened."))
    for name, text in _MISSING_TEXT.items():
        if p.hits and p.strength(name) < 0.5:
            out.append(Finding(name, "improvement", text))
    return out


def compute(scenario: Scenario, answer: str, embedder: Any = None,
            turns: Sequence[str] | None = None) -> SignalReport:
    """All the signals for the trainee's ``answer`` (everything they said, in order);
    ``turns``: the same words turn by turn (the pedagogical signals are found per turn;
    default: the answer as one turn)."""
    report = _compute(scenario, answer, embedder)
    ctx = SignalContext(scenario, answer, split_sentences(answer), embedder)
    per_turn, combined = analyse_turns(scenario, list(turns or [answer]), split_sentences,
                                       ctx.encode if embedder is not None else None)
    report.turns, report.pedagogy = per_turn, combined
    report.findings = _pedagogy_findings(combined) + report.findings
    for extract in EXTRACTORS:
        report.findings.extend(extract(ctx))
    return report


def _compute(scenario: Scenario, answer: str, embedder: Any = None) -> SignalReport:
    expert = scenario.expert_response
    principles = list(expert.key_principles)
    common = list(scenario.common_mistakes)
    sentences = split_sentences(answer)
    ctx = SignalContext(scenario, answer, sentences, embedder)
    words = len(answer.split())
    answer_stems = stems(answer)
    covered_lex = [_overlap(p, answer_stems) >= 0.5 for p in principles]
    if embedder is None:
        covered = covered_lex
        coverage = sum(covered) / len(principles) if principles else 0.0
        cov = [p for p, c in zip(principles, covered, strict=True) if c]
        mis = [p for p, c in zip(principles, covered, strict=True) if not c]
        return SignalReport(None, coverage, cov, mis, [],
                            {c.criterion: 0.5 for c in scenario.rubric}, words,
                            _findings(ctx, cov, mis, [], words))
    n_p, n_m, n_r = len(principles), len(common), len(scenario.rubric)
    vecs = ctx.encode([answer, *sentences, *_fixed_texts(scenario)])
    a, sv = vecs[0], vecs[1:1 + len(sentences)]
    rest = vecs[1 + len(sentences):]
    e = rest[0]
    pv = rest[1:1 + n_p]
    mv = rest[1 + n_p:1 + n_p + n_m]
    bv = rest[1 + n_p + n_m:1 + n_p + 2 * n_m]
    tv = rest[1 + n_p + 2 * n_m:1 + n_p + 2 * n_m + n_r]
    lv = rest[1 + n_p + 2 * n_m + n_r:1 + n_p + 2 * n_m + 2 * n_r]
    similarity = float(a @ e)
    covered = [bool(covered_lex[j] or float((sv @ pv[j]).max()) >= COVER_COS)
               for j in range(n_p)]
    spotted: list[tuple[Mistake, str]] = []
    for j in range(n_m):
        to_mistake = sv @ mv[j]
        to_better = sv @ bv[j]
        k = int(to_mistake.argmax())
        if float(to_mistake[k]) >= MISTAKE_COS and \
                float(to_mistake[k]) > float(to_better[k]) + 0.05:
            spotted.append((common[j], sentences[k]))
    leaning = {c.criterion: clamp(0.5 + 4.0 * (float(a @ tv[j]) - float(a @ lv[j])))
               for j, c in enumerate(scenario.rubric)}
    coverage = sum(covered) / n_p if n_p else 0.0
    cov = [p for p, c in zip(principles, covered, strict=True) if c]
    mis = [p for p, c in zip(principles, covered, strict=True) if not c]
    return SignalReport(similarity, coverage, cov, mis, [m for m, _ in spotted], leaning, words,
                        _findings(ctx, cov, mis, spotted, words))
