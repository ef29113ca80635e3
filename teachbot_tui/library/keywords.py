"""The keyword half of a search: a question becomes an FTS5 ``OR`` query of its content words.

BM25 ordering scores every row that matches any term, so a common word ("class", "year")
would make each search read most of a large library. The planner keeps the rarest words
until their document frequencies add up to :data:`KEYWORD_BUDGET` rows (always at least
one word), which bounds the work whatever the library's size. Common words carry almost
no BM25 weight anyway; on a library under the budget nothing is dropped.

Document frequencies come from an ``fts5vocab`` table over the library's FTS index. Its
terms are stemmed, so each query word is first run through FTS5's own tokenizer (the same
``porter unicode61``) on a small in-memory table: no second stemmer to disagree with it.

The plan also says how much of the question a passage covers (the share of its content
words the passage contains, budget-dropped words included). Search scales a passage's BM25
rank by that share, squared, like the coordination factor of classic Lucene scoring: a
passage that shares one generic word with the question ("room") must not outvote meaning.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from . import store

KEYWORD_BUDGET = 20_000  # rows one keyword search may score (the sum of its words' df)
STEM_CACHE = 200_000  # words whose stemmed terms are remembered
TOKENIZER = "porter unicode61"  # must match chunks_fts in store.SCHEMA

STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "should", "so", "such", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your"]  # noqa: E501
)


def query_words(text: str) -> list[str]:
    """The question's content words, lower-cased, in order, each once."""
    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) > 1 and w not in STOPWORDS]
    return list(dict.fromkeys(words))


_STEMMER: list[sqlite3.Connection] = []
_STEMMER_LOCK = threading.Lock()


@lru_cache(maxsize=STEM_CACHE)
def stem(word: str) -> str:
    """``word`` stemmed as the keyword index stems it (FTS5's own ``porter`` tokenizer), for
    code outside search that compares words (the practice coach): one stemmer everywhere."""
    with _STEMMER_LOCK:
        if not _STEMMER:
            mem = sqlite3.connect(":memory:", check_same_thread=False)
            mem.execute(f"CREATE VIRTUAL TABLE s USING fts5(t, tokenize='{TOKENIZER}')")
            mem.execute("CREATE VIRTUAL TABLE s_terms USING fts5vocab(s, 'instance')")
            _STEMMER.append(mem)
        mem = _STEMMER[0]
        mem.execute("INSERT INTO s(rowid, t) VALUES (1, ?)", (word,))
        row = mem.execute("SELECT term FROM s_terms ORDER BY offset LIMIT 1").fetchone()
        mem.execute("DELETE FROM s")
    return row[0] if row else word.lower()


def or_query(words: list[str]) -> str:
    return " OR ".join(f'"{w}"' for w in words)


@dataclass(frozen=True)
class KeywordQuery:
    match: str  # the FTS5 MATCH expression; "" when no word of the question is in the library
    terms: tuple[tuple[str, ...], ...]  # every content word of the question, as stemmed terms

    def coverage(self, text_terms: set[str]) -> float:
        """The share of the question's words found in a passage (given its terms)."""
        if not self.terms:
            return 0.0
        return sum(1 for ts in self.terms if ts and text_terms.issuperset(ts)) / len(self.terms)


class KeywordPlanner:
    """Builds the ``MATCH`` expression for a question against one library connection."""

    def __init__(self, con: sqlite3.Connection, budget: int = KEYWORD_BUDGET) -> None:
        self.con, self.budget = con, budget
        # connection-local (temp schema): nothing is written to the library's file
        con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
                    "USING fts5vocab(main, chunks_fts, 'row')")
        self._mem = sqlite3.connect(":memory:", check_same_thread=False)
        self._mem.execute(f"CREATE VIRTUAL TABLE q USING fts5(t, tokenize='{TOKENIZER}')")
        self._mem.execute("CREATE VIRTUAL TABLE q_terms USING fts5vocab(q, 'instance')")
        self._lock = threading.Lock()
        self._stems: dict[str, tuple[str, ...]] = {}
        self._df: dict[str, int] = {}
        self._df_seq: int | None = None

    def terms(self, words: list[str]) -> list[tuple[str, ...]]:
        """Each word as the index stores it: its stemmed term(s)."""
        with self._lock:
            todo = [w for w in dict.fromkeys(words) if w not in self._stems]
            if todo:
                self._mem.executemany("INSERT INTO q(rowid, t) VALUES (?, ?)", enumerate(todo))
                found: dict[int, list[str]] = defaultdict(list)
                for row, term in self._mem.execute("SELECT doc, term FROM q_terms ORDER BY doc, offset"):
                    found[row].append(term)
                self._mem.execute("DELETE FROM q")
                if len(self._stems) + len(todo) > STEM_CACHE:
                    self._stems.clear()
                for i, w in enumerate(todo):
                    self._stems[w] = tuple(found.get(i, ()))
            return [self._stems[w] for w in words]

    def text_terms(self, text: str) -> set[str]:
        """The stemmed terms of a passage, as FTS5 indexed it."""
        return {t for ts in self.terms(list(set(re.findall(r"\w+", text.lower())))) for t in ts}

    def plan(self, text: str) -> KeywordQuery:
        """The FTS5 query for ``text``, and the stemmed words to measure coverage with."""
        words = query_words(text)
        stems = self.terms(words)
        unique = sorted({t for ts in stems for t in ts})
        if not unique:
            return KeywordQuery("", tuple(stems))
        df = self.document_frequencies(unique)
        cost = {i: sum(df.get(t, 0) for t in ts) for i, ts in enumerate(stems)
                if ts and all(t in df for t in ts)}
        keep: list[int] = []
        spent = 0
        for i in sorted(cost, key=lambda i: (cost[i], i)):
            if keep and spent + cost[i] > self.budget:
                break
            keep.append(i)
            spent += cost[i]
        return KeywordQuery(or_query([words[i] for i in sorted(keep)]), tuple(stems))

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Rows holding each term (terms in no row are left out); remembered until the
        library changes (fts5vocab counts a term by walking its whole posting list)."""
        seq = store.current_seq(self.con)
        with self._lock:
            if seq != self._df_seq:
                self._df, self._df_seq = {}, seq
            cache = self._df
            todo = [t for t in terms if t not in cache]
        if todo:
            marks = ",".join("?" * len(todo))
            found = dict(self.con.execute(
                f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({marks})", todo).fetchall())
            with self._lock:
                cache.update({t: found.get(t, 0) for t in todo})
        return {t: cache[t] for t in terms if cache.get(t)}

    def match(self, text: str) -> str:
        """The FTS5 query for ``text`` ("" when no word occurs in the library)."""
        return self.plan(text).match

    def close(self) -> None:
        self._mem.close()
