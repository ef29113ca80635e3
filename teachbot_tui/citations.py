"""Citations the model left out: a sentence of an answer that says what one passage says, and
cites nothing, gets that passage's number, when that passage bears on the question.

Small models often answer from a passage without citing it (the bundled SmolLM2-135M states
the passage's fact in most answers and cites it in almost none). As the answer streams, each
finished sentence (or line) without a ``[n]`` is compared with the passages the turn could
use: when enough of its content words come from one passage, and from no other as much, `` [n]``
is written before its final punctuation. A sentence the model cited itself, a short one, or one
that matches two passages equally is left as it is. So is a sentence whose passage does not
bear on the question: small models also repeat passages that do not answer it, and a citation
would lend such a sentence the look of an answer.

A passage bears on the question when it shares at least half as many of the question's content
words as the passage that shares most; when no passage shares any (a follow-up such as "and
for Year 2?"), every passage does.

Streaming holds back at most the punctuation that may end a sentence and the spaces after it,
until the next word shows whether the sentence ended (and whether the model cites right after
the full stop).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .library.keywords import query_words, stem

CITATION_RE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
#: Content words a sentence must share with a passage, and the share of its content words
#: they must be, for the passage to be cited.
MIN_SHARED = 3
MIN_SHARE = 0.5
#: A passage bears on the question when it shares at least this share of the question's
#: content words that the best-sharing passage shares.
RELEVANT_SHARE = 0.5

# A sentence ends at end punctuation followed by space and then anything but a lower-case
# letter (so "e.g. the" and "3.5" go on), or at a line break not after such punctuation.
_BOUNDARY = re.compile(r"([.!?]+[\"')\]]*)(\s+)(?=([^\sa-z]))|(?<![.!?\"')\]\s])(\n)")
_MAYBE_END = re.compile(r"[.!?]+[\"')\]]*\s*$")


def content_words(text: str) -> set[str]:
    """The text's content words, stemmed as the keyword index stems them."""
    return {stem(w) for w in query_words(text)}


class Attributor:
    """Which passage, if any, a sentence states (and may be cited for).

    ``passages`` are the turn's ``(number, text)``; ``question`` is what was asked ("" when
    unknown: then every passage bears on it)."""

    def __init__(self, passages: Iterable[tuple[int, str]], question: str = "") -> None:
        self.passages = [(n, content_words(text)) for n, text in passages]
        asked = content_words(question)
        overlap = {n: len(asked & words) for n, words in self.passages}
        best = max(overlap.values(), default=0)
        self.relevant = {n for n, o in overlap.items() if best == 0 or
                         (o > 0 and o >= RELEVANT_SHARE * best)}

    def passage_for(self, sentence: str) -> int | None:
        if CITATION_RE.search(sentence) or not self.passages:
            return None
        words = content_words(sentence)
        if len(words) < MIN_SHARED:
            return None
        scored = sorted(((len(words & p), n) for n, p in self.passages), reverse=True)
        shared, n = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0
        if shared < MIN_SHARED or shared / len(words) < MIN_SHARE or shared == runner_up:
            return None
        return n if n in self.relevant else None


def with_citations(pieces: Iterable[str], attributor: Attributor) -> Iterator[str]:
    """The streamed answer with the missing citations written in (see the module's text)."""
    held = ""  # text not yet given out
    sentence = ""  # the current sentence's text already given out

    def cite(body: str) -> str:
        n = attributor.passage_for(sentence + body)
        return body if n is None else f"{body.rstrip()} [{n}]"

    for piece in pieces:
        held += piece
        out = []
        while True:
            # the boundary's look-behind must see the sentence's last character given out, as
            # it would in the whole text (a "[2]" line streamed before its line break)
            lead = sentence[-1:]
            m = _BOUNDARY.search(lead + held, len(lead))
            if m is None:
                break
            start, end = m.start() - len(lead), m.end() - len(lead)
            body = held[:start]
            if m.group(4):  # a line break ends the line
                out.append(cite(body) + "\n")
            elif m.group(3) == "[":  # the model cites right after the full stop
                out.append(body + m.group(1) + m.group(2))
            else:
                out.append(cite(body) + m.group(1) + m.group(2))
            sentence = ""
            held = held[end:]
        tail = _MAYBE_END.search(held)
        safe = held[: tail.start()] if tail else held
        if safe:
            out.append(safe)
            sentence += safe
            held = held[len(safe):]
        if out:
            yield "".join(out)
    if held or sentence:
        end = _MAYBE_END.search(held)
        body, punct = (held[: end.start()], held[end.start():]) if end else (held, "")
        last = cite(body) + punct
        if last:
            yield last
