"""Citations written in for sentences that state one passage without citing it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from teachbot_tui.citations import Attributor, with_citations

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import eval_grounded  # noqa: E402

PASSAGES = [
    (1, "Safeguarding contacts. The designated safeguarding lead is Mrs Dunmore; the deputy is "
        "Miss Radcliffe. Concerns are logged on WellTrack."),
    (2, "Fire evacuation. The assembly point is the far end of the top playing field. Ms "
        "Abernathy is the fire warden."),
]


def streamed(text: str, size: int) -> str:
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    return "".join(with_citations(pieces, Attributor(PASSAGES)))


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
@pytest.mark.parametrize(("answer", "expected"), [
    ("The safeguarding lead is Mrs Dunmore and the deputy is Miss Radcliffe. Line up at the far "
     "end of the top playing field.",
     "The safeguarding lead is Mrs Dunmore and the deputy is Miss Radcliffe [1]. Line up at the "
     "far end of the top playing field [2]."),
    # cited by the model: left alone, also when the citation follows the full stop
    ("The lead is Mrs Dunmore, with Miss Radcliffe as deputy [1]. Ask her.",
     "The lead is Mrs Dunmore, with Miss Radcliffe as deputy [1]. Ask her."),
    ("Mrs Dunmore is the designated safeguarding lead. [1] Then log it.",
     "Mrs Dunmore is the designated safeguarding lead. [1] Then log it."),
    # a citation on a line of its own goes with the line after it, however the stream is cut
    ("Ask her.\n[1]\nThe designated safeguarding lead is Mrs Dunmore.\nThen log it.",
     "Ask her.\n[1]\nThe designated safeguarding lead is Mrs Dunmore.\nThen log it."),
    # lines without punctuation, and the last sentence of the stream
    ("- designated safeguarding lead: Mrs Dunmore\n- assembly point: top playing field far end",
     "- designated safeguarding lead: Mrs Dunmore [1]\n- assembly point: top playing field far "
     "end [2]"),
    # nothing from the passages, abbreviations and decimals: unchanged
    ("Your documents do not say. Ask the office, e.g. the head. It costs 3.5 pounds.",
     "Your documents do not say. Ask the office, e.g. the head. It costs 3.5 pounds."),
])
def test_missing_citations_are_written_in(answer: str, expected: str, size: int) -> None:
    assert streamed(answer, size) == expected


def test_a_sentence_that_matches_two_passages_alike_cites_neither() -> None:
    attributor = Attributor([(1, "pupils walk to the hall quietly"),
                             (2, "pupils walk to the hall quietly after lunch")])
    assert attributor.passage_for("Pupils walk to the hall quietly.") is None
    assert attributor.passage_for("Pupils walk quietly to the hall after lunch.") == 2


def test_short_or_generic_sentences_cite_nothing() -> None:
    attributor = Attributor(PASSAGES)
    assert attributor.passage_for("Mrs Dunmore.") is None  # too few words to tell
    assert attributor.passage_for("Stay calm, praise effort and keep routines consistent "
                                  "for the whole class.") is None


def test_a_passage_that_does_not_bear_on_the_question_is_not_cited() -> None:
    answer = ("The designated safeguarding lead is Mrs Dunmore. The assembly point is the far "
              "end of the top playing field.")
    asked = Attributor(PASSAGES, "Where is the assembly point for a fire evacuation?")
    # the model repeated passage 1, which does not answer: that sentence stays uncited
    assert "".join(with_citations([answer], asked)) == (
        "The designated safeguarding lead is Mrs Dunmore. The assembly point is the far end of "
        "the top playing field [2].")
    # a passage sharing half as many of the question's words as the best still bears on it
    both = Attributor(PASSAGES, "Who is the fire warden and the safeguarding lead?")
    assert both.passage_for("The designated safeguarding lead is Mrs Dunmore.") == 1
    assert both.passage_for("Ms Abernathy is the fire warden on the playing field.") == 2


def test_a_question_that_shares_no_word_with_any_passage_leaves_all_citable() -> None:
    follow_up = Attributor(PASSAGES, "And for Year 2?")
    assert follow_up.passage_for("The designated safeguarding lead is Mrs Dunmore.") == 1
    assert follow_up.passage_for("The assembly point is the top playing field.") == 2


def grounded_sets() -> list[dict]:
    """The grounded-answer eval's tuning sets (the app's prompts, from the training topics)."""
    return [s for s in eval_grounded.item_sets("tuning", None)
            if s["kind"] == "answer" and not s["hostile"]]


def test_reference_answers_without_their_citations_get_the_right_one_back() -> None:
    rows = [eval_grounded.score_set(s, re.sub(r" ?\[\d+\]", "", s["reference"]))
            for s in grounded_sets()]
    summary = eval_grounded.summarize(rows)
    assert summary["answerable"] >= 25
    assert summary["cites_right"] == 1.0 and summary["cites_wrong"] == 0.0
    assert eval_grounded.summarize([r["as_written"] for r in rows])["cites_right"] == 0.0


def test_a_repeated_passage_that_does_not_answer_is_mostly_left_uncited() -> None:
    rows = []
    for s in grounded_sets():
        if len(s["passages"]) < 2:
            continue
        other = next(t for n, t in s["passages"] if n != s["right"])
        echo = other.split("\n")[-1].split(". ")[0].rstrip(".") + "."  # its first sentence
        rows.append(eval_grounded.score_set(s, re.sub(r" ?\[\d+\]", "", s["reference"]) +
                                            " " + echo))
    summary = eval_grounded.summarize(rows)
    assert summary["answerable"] >= 15 and summary["cites_right"] == 1.0
    # passages that share as many of the question's words as the answering one stay citable
    assert summary["cites_wrong"] <= 0.1


def test_the_eval_scores_kept_replies_again_with_the_current_citations(tmp_path: Path) -> None:
    s = grounded_sets()[0]
    said = re.sub(r" ?\[\d+\]", "", s["reference"])
    q = {"question": s["question"], "file": "a.md", "keys": s["keys"]}
    sources = [{"n": n, "path": "a.md" if n == s["right"] else f"other-{n}.md", "text": t}
               for n, t in s["passages"]]
    kept = tmp_path / "samples.jsonl"
    kept.write_text("\n".join(json.dumps(r) for r in [
        {"model": "m", "split": "tuning", "said": said,
         "item": {k: s[k] for k in eval_grounded.ITEM_KEYS}},
        {"model": "m", "ask": True, "q": q, "said": said, "sources": sources},
        {"model": "m", "roleplay": "x", "in_character": True, "raw": "Fine."},  # not scored
    ]) + "\n")
    out = eval_grounded.replay([kept])
    assert out["tuning/m"]["fact_and_right_cite"] == 1.0
    assert out["tuning/m"]["as_written"]["cites_right"] == 0.0
    assert out["ask/m"]["fact_and_right"] == 1 and out["ask/m"]["as_written"]["right_cite"] == 0


def test_an_answer_writes_in_citations_for_what_its_question_is_about() -> None:
    from teachbot_tui.answers import Answer, Source

    sources = [Source(n=n, path=f"{n}.md", page=None, heading="", snippet=t[:40], score=0.5,
                      chunk_id=n, text=t) for n, t in PASSAGES]
    said = ("The designated safeguarding lead is Mrs Dunmore. The assembly point is the far end "
            "of the top playing field.")
    answer = Answer(question="Where is the assembly point for a fire evacuation?", model="m",
                    sources=sources, no_context=False, retrieval_ms=0.0, messages=[],
                    _stream=iter(said.split(" ")[:1] + [" " + w for w in said.split(" ")[1:]]))
    assert "".join(answer) == ("The designated safeguarding lead is Mrs Dunmore. The assembly "
                               "point is the far end of the top playing field [2].")
    assert answer.said == said and [s.cited for s in answer.sources] == [False, True]
