"""Pedagogical signals: what expert raters look for in a teacher's reply, checked directly.

For every trainee turn, seven signals, each a strength in [0, 1], whether it was found, and
the sentence that triggered it (the evidence):

* ``names_mistake``: names the student's mistake or the problem (not just "wrong");
* ``locates``: points to where it is (a step, a line, a column, a detail of the moment);
* ``guides``: a question or hint that leaves the thinking with the student;
* ``reveals_answer``: states the answer outright (a penalty where the scenario's learning
  objectives ask for the answer not to be given away);
* ``next_step``: leaves the student something concrete to do next;
* ``tone``: encouraging, neutral or harsh (``tone_encouraging`` and ``tone_harsh``);
* ``on_situation``: deals with this scenario's moment at all.

Each combines simple linguistic cues (question forms, hint and instruction verbs, words of
praise and of blame, position words) with the scenario's own fields: the tutoring
scenario's student work (its wrong working, answer and error), the situation, the expert
response and the common mistakes, compared through the embedder. The thresholds and weights
were tuned on the tuning half of the labelled set in ``scripts/data/coach/``; the agreement
on its test half is in ``docs/scenarios.md``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ..library.keywords import query_words, stem
from .scenarios import Scenario

__all__ = ["SIGNALS", "PedagogySignals", "SignalHit", "analyse", "analyse_turns",
           "combine_turns", "no_reveal"]

SIGNALS = ("names_mistake", "locates", "guides", "reveals_answer", "next_step",
           "tone_encouraging", "tone_harsh", "on_situation")
SIGNAL_LABELS = {
    "names_mistake": "names the mistake", "locates": "locates it",
    "guides": "guides with a question or hint", "reveals_answer": "gives the answer away",
    "next_step": "gives a next step", "tone_encouraging": "encouraging tone",
    "tone_harsh": "harsh tone", "on_situation": "stays on the situation",
}
"""How each signal is named in the feedback (the CLI's and the app's)."""
FOUND_AT = 0.5
"""A signal is reported as found when its strength reaches this."""

# --------------------------------------------------------------------------- cues

def _re(*parts: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


# a question that leads on (it asks the student to think, check or explain)
_LEADING_Q = _re(r"what", r"which", r"how", r"where", r"why would", r"why does", r"why do",
                 r"is it", r"is that", r"is this", r"are they", r"does (?:it|that|your|this)",
                 r"do they", r"can you", r"could you", r"would you", r"can (?:halves|we)",
                 r"if (?:we|you|it)", r"are you sure", r"do you (?:get|think|see|notice)",
                 r"did your", r"who")
# questions that blame rather than lead
_RHETORICAL = _re(r"did you even", r"why are you", r"why can't you", r"what's your excuse",
                  r"what is your excuse", r"seriously", r"how many times", r"what are you doing",
                  r"is it\?", r"if you're so clever", r"did you not", r"is that so hard",
                  r"you're still", r"are you still", r"what did I (?:just )?say")
# hints and investigations the student carries out
_HINT = _re(r"test", r"check", r"estimate", r"compare", r"draw", r"build", r"put .{1,30} "
            r"(?:on|back|into|in)", r"substitut\w*", r"look at", r"let'?s (?:look|check|test|"
            r"use|see|do|try)", r"see (?:if|whether|which|what|how)", r"think about",
            r"try (?:it|both|that|the|this|with)", r"count the", r"sound it out",
            r"point to", r"make (?:a|two|the)", r"split", r"label", r"find (?:the|where|"
            r"pieces|the ones|three)", r"show me", r"tell me", r"explain",
            r"what (?:happens|do you notice)", r"go back", r"work out", r"prove", r"reason")
# a plan told in the third person that hands the thinking to the student
_PLAN_GUIDE = re.compile(
    r"\b(?:ask|asking|let|get|have|prompt)\s+(?:her|him|them|the (?:class|table|group)|"
    r"everyone|students|\w+)\s+(?:to\s+)?(?:\w+\s+){0,3}?(?:what|which|how|whether|if|why|"
    r"test|check|show|find|see|notice|decide|build|draw|explain|estimate|compare|prove|reason|"
    r"label|count|sound|substitut\w*|make|tell|reconcile|share)\b",
    re.IGNORECASE)
# naming the mistake: what the student did, or what the problem is
_NAME = _re(r"you (?:added|took|counted|forgot|missed|squared|moved|treated|used|wrote|"
            r"subtracted|multiplied|swapped|mixed|put|did|brought|skipped|said|started|"
            r"reduced|applied|turned|left|divided|got|can't)", r"you've (?:written|added|"
            r"counted|used|got|treated|squared|forgotten|missed)", r"isn't ready", r"(?:she|he|they)(?:'s| has| have)? "
            r"(?:added|taking|counting|adding|relying|guessing|treat\w*|squar\w*|forg\w*|"
            r"miss\w*|swapp\w*|mix\w*|subtract\w*)", r"mistake", r"misconception",
            r"instead of", r"the (?:tricky|missing) (?:bit|step|part)", r"the problem is",
            r"(?:is|isn't|is not) the same", r"mixed up", r"slip", r"not (?:just )?the",
            r"needs the", r"it sounds like", r"because (?:she|he|they|the)", r"isn't fair",
            r"is (?:missing|wrong because)", r"think(?:s)? (?:a )?bigger",
            r"keep the meaning", r"doesn't work", r"the wrong way")
# pointing somewhere in the work or the moment
_WHERE = _re(r"(?:first|second|third|last|next|top|bottom|middle) (?:line|step|column|term|"
             r"one|bit|digit|finger|jump|number)", r"(?:ones|tens|hundreds) (?:column|place)",
             r"column", r"line", r"step", r"the (?:bottom|top|inside|outside|middle)",
             r"denominators?", r"numerators?", r"in your", r"on your", r"your (?:sheet|answer|"
             r"working|first|board|columns?|page|rule)", r"when you said", r"where you",
             r"this (?:part|bit|word|line|step)", r"term", r"inner", r"inside",
             r"the (?:\w+ )?(?:sticky notes?|goggles|tap|word|picture|sheet|note)",
             r"point(?:ing)? to", r"(?:i|I) (?:noticed|can see)")
# what the student should do next
_NEXT = re.compile(
    r"(?:^|[.!?]\s+|\bthen\s+|\bnow\s+|\band\s+|,\s+)(?:try|redo|do|fix|write|draw|build|"
    r"check|put|make|have a go|work out|go back|tell me|show me|explain|start|read|practise|"
    r"practice|copy|rub|find|use|move|get|look|take|sit|learn|pick|finish|correct|carry on|"
    r"rejoin|come|choose|test|label|compare|estimate|count|jump|sound)\b"
    r"|\b(?:next (?:time|lesson|one|question)|tomorrow|after (?:lunch|break|the lesson|group)|"
    r"when you're ready|two more|a few more|the rest of|the next|then (?:she|he|they)|"
    r"(?:she|he|they) (?:then|redoes|corrects|writes|tries|checks|does|finishes)|"
    r"i'?d (?:give|plan|have|set|book|arrange|agree)|i'll (?:come|check|be)|let'?s (?:do|"
    r"book|look|use|try|join)|we'?ll|redo|plan (?:a|small)|rejoin|retest|come back)\b",
    re.IGNORECASE)
_ENCOURAGING = _re(r"great", r"good", r"well done", r"nice", r"love", r"lovely", r"i like",
                   r"like that", r"i can see", r"that's okay", r"it's okay", r"don't worry",
                   r"thank(?:s| you)?", r"brave", r"smart", r"nearly", r"so close", r"close",
                   r"strong", r"excellent", r"proud", r"most of the way", r"praise\w*",
                   r"reassur\w*", r"clever", r"neat(?:ly)?", r"clear(?:ly)?", r"really",
                   r"courage", r"instinct", r"consistent", r"nailed", r"you'?re (?:safe|"
                   r"going to be okay|not bad)", r"not yet", r"well", r"right", r"correct",
                   r"best", r"superstar", r"beautiful", r"hard[- ]working", r"working hard",
                   r"effort", r"you know")
_HARSH = _re(r"wrong again", r"obviously", r"should (?:know|be able)", r"silly", r"careless",
             r"basic", r"did you even", r"how many times", r"seriously", r"you always",
             r"disgraceful", r"rude", r"excuse", r"clearly don'?t", r"wasting", r"not listening",
             r"banned", r"get out", r"a cheat", r"making a scene",
             r"for attention", r"so clever", r"stop (?:rushing|teaching|making|telling|"
             r"showing|erasing)", r"showing off", r"disrespectful", r"you'?re the reason",
             r"can'?t trust", r"nobody in this", r"everyone knows", r"what are you doing",
             r"try harder", r"take this seriously", r"can'?t afford", r"just say it",
             r"we'?re all waiting", r"wrong\.", r"that'?s wrong", r"you need to be "
             r"more careful", r"wrong things", r"aren'?t maths people", r"behaviour point",
             r"rip", r"you two", r"like everyone else", r"loudly", r"in front of everyone",
             r"let him .{0,20}fail", r"march", r"right now", r"you'?re not reading",
             r"properly", r"is that not", r"not how we")
_ANSWER_PHRASE = _re(r"the (?:correct )?answers? (?:is|are)", r"it should be", r"should be",
                     r"(?:so|which is) (?:it'?s |the answer is )?(?:\S+ )?(?:is )?(?=[-−\d(x])",
                     r"is bigger", r"the first line should", r"that word is",
                     r"and that one'?s", r"it'?s (?=[-−\d(x])", r"write (?=[\d(x])",
                     r"here:", r"the answer is that")
_NO_REVEAL = _re(r"without giving", r"not just correction", r"find (?:the|their|his|her) "
                 r"(?:own )?error", r"find the error", r"give.{0,20}away")

_FLAGS = re.IGNORECASE


def no_reveal(scenario: Scenario) -> bool:
    """Whether the scenario's learning objectives ask for the answer not to be given away
    (then revealing it is a penalty)."""
    return any(_NO_REVEAL.search(o) for o in scenario.learning_objectives)


def _norm(text: str) -> str:
    """Text for matching maths: NFKC (superscripts become digits), one kind of minus, no
    spaces."""
    text = unicodedata.normalize("NFKC", text).replace("−", "-").replace("–", "-")
    return re.sub(r"\s+", "", text.lower())


def stem_words(text: str) -> set[str]:
    """Content words of ``text``, stemmed as the library's keyword search stems them."""
    return {stem(w) for w in query_words(text) if len(w) >= 3 and not w.isdigit()}


def _count(pattern: re.Pattern[str], text: str) -> int:
    return len(pattern.findall(text))


def _squash(x: float, scale: float) -> float:
    """0 for 0, approaching 1 (x / (x + scale))."""
    return x / (x + scale) if x > 0 else 0.0


# --------------------------------------------------------------------------- results


@dataclass
class SignalHit:
    name: str
    strength: float
    evidence: str = ""

    @property
    def found(self) -> bool:
        return self.strength >= FOUND_AT


@dataclass
class PedagogySignals:
    """The signals of one turn (or of several turns combined)."""

    hits: dict[str, SignalHit] = field(default_factory=dict)
    penalise_reveal: bool = False

    def strength(self, name: str) -> float:
        hit = self.hits.get(name)
        return hit.strength if hit else 0.0

    @property
    def tone(self) -> str:
        if self.strength("tone_harsh") >= FOUND_AT:
            return "harsh"
        return "encouraging" if self.strength("tone_encouraging") >= FOUND_AT else "neutral"

    def found(self) -> list[SignalHit]:
        return [h for n in SIGNALS if (h := self.hits.get(n)) is not None and h.found]

    def as_dict(self) -> dict[str, Any]:
        return {n: {"strength": round(h.strength, 4), "found": h.found, "evidence": h.evidence}
                for n, h in self.hits.items()}


# --------------------------------------------------------------------------- analysis


def _targets(scenario: Scenario) -> dict[str, list[str]]:
    """The scenario's texts each signal compares a sentence with."""
    work = scenario.student_work
    mistake = [work.error] if work else []
    mistake += [m.why for m in scenario.common_mistakes]
    return {
        "mistake": mistake or [scenario.situation],
        "guide": [scenario.expert_response.immediate_action, *(m.better for m in
                                                                scenario.common_mistakes)],
        "situation": [scenario.situation + (f" {work.problem}: {work.working}" if work else ""),
                      scenario.expert_response.as_text()],
    }


def fixed_texts(scenario: Scenario) -> list[str]:
    """Every scenario text the signals embed (embedded ahead, while the trainee answers)."""
    return [t for texts in _targets(scenario).values() for t in texts]


def _best(scores: list[float], sentences: list[str]) -> tuple[float, str]:
    if not scores:
        return 0.0, ""
    k = max(range(len(scores)), key=lambda i: scores[i])
    return scores[k], sentences[k]


def analyse(scenario: Scenario, text: str, sentences: list[str], embed: Any = None
            ) -> PedagogySignals:
    """The signals of one trainee turn. ``embed`` maps texts to L2-normalised vectors (None:
    cues and words only)."""
    work = scenario.student_work
    targets = _targets(scenario)
    sims: dict[str, list[float]] = {k: [0.0] * len(sentences) for k in targets}
    whole_sit = 0.0
    if embed is not None and sentences:
        keys = list(targets)
        flat = [t for k in keys for t in targets[k]]
        vecs = embed([text, *sentences, *flat])
        a, sv, tv = vecs[0], vecs[1:1 + len(sentences)], vecs[1 + len(sentences):]
        start = 0
        for k in keys:
            n = len(targets[k])
            block = sv @ tv[start:start + n].T
            sims[k] = [float(x) for x in block.max(axis=1)]
            if k == "situation":
                whole_sit = float((tv[start:start + n] @ a).max())
            start += n
    work_tokens = set()
    if work is not None:
        work_tokens = {t for t in re.findall(r"[\w/^²³⁴]+", unicodedata.normalize(
            "NFKC", work.working + " " + work.problem)) if any(c.isdigit() for c in t)}
    sit_stems = stem_words(scenario.situation + " " + (work.working if work else ""))
    error_stems = stem_words(work.error) if work else set()
    answer = _norm(work.answer) if work else ""
    answer_bare = re.sub(r"^[a-z]=", "", answer)

    names, where, guide, reveal, nxt, enc, harsh = ([] for _ in range(7))
    for i, s in enumerate(sentences):
        low = s.lower()
        is_q = s.rstrip().endswith("?")
        rhetorical = bool(_RHETORICAL.search(s))
        # names the mistake
        n_cue = _count(_NAME, s)
        err_overlap = len(stem_words(s) & error_stems) / max(1, len(error_stems))
        names.append(0.55 * min(1, n_cue) + 0.6 * err_overlap
                     + 2.0 * max(0.0, sims["mistake"][i] - 0.3))
        # locates
        nums = {t for t in re.findall(r"[\w/^²³⁴]+", unicodedata.normalize("NFKC", s))
                if any(c.isdigit() for c in t)}
        w_cue = _count(_WHERE, s)
        sit_overlap = len(stem_words(s) & sit_stems)
        where.append(0.35 * min(2, w_cue) + 0.25 * min(2, len(nums & work_tokens))
                     + 0.08 * min(4, sit_overlap))
        # guides
        q = 1.0 if is_q and not rhetorical and _LEADING_Q.search(s) else (
            0.5 if is_q and not rhetorical else 0.0)
        h = min(2, _count(_HINT, s)) * 0.3
        p = 0.6 if _PLAN_GUIDE.search(s) else 0.0
        guide.append(max(q, h + p) + 1.0 * max(0.0, sims["guide"][i] - 0.45))
        # reveals the answer
        r = 0.0
        if answer_bare:
            spaced = " ".join(unicodedata.normalize("NFKC", s).replace("−", "-").lower().split())
            if len(answer_bare) >= 3 and answer_bare in _norm(s):
                r = 0.9
            elif re.search(r"(?<![\w/.^-])" + re.escape(answer_bare) + r"(?![\w/^]|\.\d)",
                           spaced):
                r = 0.7 if not is_q else 0.2
        if _ANSWER_PHRASE.search(s) and not is_q:
            r = max(r, 0.6 if work is None else r + 0.3)
        reveal.append(min(1.0, r))
        # next step
        n_next = _count(_NEXT, s)
        nxt.append((0.3 + 0.3 * min(2, n_next) if n_next else 0.0) * (0.4 if is_q else 1.0))
        # tone
        enc.append(_count(_ENCOURAGING, s))
        harsh.append(_count(_HARSH, s) + (0.5 * low.count("!") if rhetorical else 0.0)
                     + (1.0 if rhetorical else 0.0))

    hits: dict[str, SignalHit] = {}
    for name, scores in (("names_mistake", names), ("locates", where), ("guides", guide),
                         ("reveals_answer", reveal), ("next_step", nxt)):
        value, evidence = _best(scores, sentences)
        if name in ("guides", "next_step", "names_mistake", "locates"):
            # a second sentence doing the same job adds a little
            rest = sorted(scores, reverse=True)[1:2]
            value += 0.25 * rest[0] if rest else 0.0
        hits[name] = SignalHit(name, min(1.0, value), evidence if value > 0 else "")
    e_total, h_total = sum(enc), sum(harsh)
    enc_best = _best([float(x) for x in enc], sentences)
    harsh_best = _best([float(x) for x in harsh], sentences)
    hits["tone_encouraging"] = SignalHit(
        "tone_encouraging", _squash(max(0.0, e_total - 1.5 * h_total), 1.0),
        enc_best[1] if e_total else "")
    hits["tone_harsh"] = SignalHit("tone_harsh", _squash(max(0.0, h_total - 0.3 * e_total), 0.8),
                                   harsh_best[1] if h_total else "")
    if embed is not None:
        on = min(1.0, max(0.0, (whole_sit - 0.12) / 0.25))
    else:
        on = min(1.0, len(stem_words(text) & (sit_stems | error_stems)) / 3)
    on_evidence = _best(sims["situation"], sentences)[1] if on >= FOUND_AT else ""
    hits["on_situation"] = SignalHit("on_situation", on, on_evidence)
    return PedagogySignals(hits, no_reveal(scenario))


def combine_turns(turns: list[PedagogySignals]) -> PedagogySignals:
    """The session's signals: the strongest turn for each (a harsh turn is not undone by a
    kind one, and an answer once revealed stays revealed)."""
    if not turns:
        return PedagogySignals()
    out = PedagogySignals(penalise_reveal=turns[0].penalise_reveal)
    for name in SIGNALS:
        best = max((t.hits[name] for t in turns if name in t.hits),
                   key=lambda h: h.strength, default=None)
        if best is not None:
            out.hits[name] = best
    return out


def analyse_turns(scenario: Scenario, turns: list[str], split: Any, embed: Any = None
                  ) -> tuple[list[PedagogySignals], PedagogySignals]:
    """Each turn's signals and the session's (``split`` splits a turn into sentences)."""
    per_turn = [analyse(scenario, t, split(t), embed) for t in turns if t.strip()]
    return per_turn, combine_turns(per_turn)
