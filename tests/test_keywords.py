"""The keyword planner: FTS5's own stemming, and common words dropped past the budget."""

from __future__ import annotations

import sqlite3

from teachbot_tui.library import store
from teachbot_tui.library.keywords import KeywordPlanner, query_words


def library_db(tmp_path, texts: list[str]) -> sqlite3.Connection:
    con = store.connect(tmp_path / "library.db")
    con.execute("INSERT INTO documents(id, path, collection, format, size, mtime_ns, sha256) "
                "VALUES (1, '/d.md', 'c', 'md', 1, 1, 'x')")
    con.executemany("INSERT INTO chunks(document_id, ord, text, start, end, vector) "
                    "VALUES (1, ?, ?, 0, 1, x'00')", list(enumerate(texts)))
    return con


def test_query_words_drop_stopwords_and_repeats():
    assert query_words("How do I teach the Fractions, fractions and ratios?") == \
        ["teach", "fractions", "ratios"]


def test_words_are_stemmed_by_fts5_itself(tmp_path):
    planner = KeywordPlanner(library_db(tmp_path, ["x"]))
    assert planner.terms(["running", "studies", "don_t"]) == [("run",), ("studi",), ("don", "t")]


def test_small_library_keeps_every_word_that_occurs(tmp_path):
    con = library_db(tmp_path, ["Fractions with pizza slices.", "Ratios in recipes.", "Class rules."])
    planner = KeywordPlanner(con)
    assert planner.match("teaching fractions and ratios to the class") == \
        '"fractions" OR "ratios" OR "class"'
    assert planner.match("zebra xylophone") == ""  # nothing in the library matches
    assert planner.match("the and of") == ""


def test_common_words_are_dropped_past_the_budget(tmp_path):
    texts = [f"Class note {i} about homework." for i in range(60)] + ["Phonics for the class."]
    planner = KeywordPlanner(library_db(tmp_path, texts), budget=30)
    # "class" (61 rows) and "homework" (60) would cost 121 rows; the rare word is kept
    assert planner.match("class homework phonics") == '"phonics"'
    # when every word is common, the rarest one is still kept
    assert planner.match("class homework") == '"homework"'
    hits = [r[0] for r in planner.con.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?",
                                              (planner.match("phonics class"),))]
    assert hits == [61]


def test_document_frequencies_follow_the_library(tmp_path):
    con = library_db(tmp_path, ["Phonics first.", "Phonics again.", "Maths."])
    store.bump_seq(con)
    planner = KeywordPlanner(con)
    assert planner.document_frequencies(["phonic", "math", "zebra"]) == {"phonic": 2, "math": 1}
    con.execute("INSERT INTO chunks(document_id, ord, text, start, end, vector) "
                "VALUES (1, 9, 'More phonics.', 0, 1, x'00')")
    store.bump_seq(con)  # every committed change bumps the sequence number
    assert planner.document_frequencies(["phonic"]) == {"phonic": 3}
