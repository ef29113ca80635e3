"""Citations written in for sentences that state one passage without citing it."""

from __future__ import annotations

import pytest

from teachbot_tui.citations import Attributor, with_citations

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


def test_a_sentence_with_other_figures_than_its_passage_is_not_cited() -> None:
    attributor = Attributor([(1, "The Key Stage 1 nativity is on 13 March at 1:30 pm. Each "
                                 "family may have 6 tickets."),
                             (2, "Forest school is on Monday afternoons in Greystone Woods.")],
                            "When is the Key Stage 1 nativity?")
    assert attributor.passage_for("The Key Stage 1 nativity is on 13 March.") == 1
    # one figure of the passage, one added: still the passage's
    assert attributor.passage_for("The Key Stage 1 nativity is on 13 March, 2 shows.") == 1
    # none of the passage's figures: the citation would vouch for a wrong date
    assert attributor.passage_for("The Key Stage 1 nativity is on 14 May.") is None
