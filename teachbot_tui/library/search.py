"""Searching the library: vector and keyword candidates, fused by rank, fetched from SQLite.

:func:`search` runs rounds of :func:`search_round`: take the ``fetch`` nearest vectors and the
``fetch`` best BM25 matches, score each candidate with :func:`fused_score`, and keep the best
``k``, at most ``per_document`` from one document and no passage twice. When one long document
fills every candidate slot, the next round fetches four times as many.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .types import Hit

if TYPE_CHECKING:
    from .index import VectorIndex
    from .keywords import KeywordPlanner, KeywordQuery

RRF_K = 10  # tuned on scripts/data/beir-* with eval_retrieval.py --tune (docs/retrieval.md)
KEYWORD_WEIGHT = 1.0  # a BM25 rank counts like a vector rank, times coverage ** COVERAGE_POWER
COVERAGE_POWER = 2  # share of the question's words in the passage, squared (see .keywords)
MODES = ("hybrid", "vector", "keyword")


def fused_score(
    vector_rank: int | None,
    keyword_rank: int | None,
    coverage: float,
    rrf_k: int = RRF_K,
    weight: float = KEYWORD_WEIGHT,
    power: float = COVERAGE_POWER,
) -> float:
    """A passage's hybrid score from its ranks (0-based; None: not in that list) and the
    share of the question's words it contains: reciprocal-rank fusion in which the keyword
    rank counts ``weight * coverage ** power`` (docs/retrieval.md)."""
    score = 0.0 if vector_rank is None else 1.0 / (rrf_k + vector_rank + 1)
    if keyword_rank is not None:
        score += weight * coverage**power / (rrf_k + keyword_rank + 1)
    return score


@dataclass
class Query:
    """One search: the question, its vector (None for keyword-only) and the limits."""

    text: str
    vector: np.ndarray | None
    mode: str
    k: int
    collection: str | None
    threshold: float | None
    per_document: int


def search(
    con: sqlite3.Connection,
    keywords: KeywordPlanner,
    index: VectorIndex | None,
    query: Query,
) -> list[Hit]:
    """The top ``query.k`` passages; ``index`` is needed when the query has a vector."""
    fetch = max(50, query.k * 5)
    while True:
        out, exhausted, lowest = search_round(con, keywords, index, query, fetch)
        # one long document can fill every candidate slot: widen until k or exhausted,
        # but not past the threshold (candidates come best first)
        below = query.threshold is not None and lowest is not None and lowest < query.threshold
        if (
            len(out) >= query.k
            or exhausted
            or below
            or fetch >= con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        ):
            return out
        fetch *= 4


def search_round(
    con: sqlite3.Connection,
    keywords: KeywordPlanner,
    index: VectorIndex | None,
    query: Query,
    fetch: int,
) -> tuple[list[Hit], bool, float | None]:
    """(hits, whether the candidates ran out, the lowest vector similarity seen)."""
    widen = 4 if query.collection else 1
    vector: list[int] = []
    keyword: list[int] = []
    lowest: float | None = None
    plan = None
    if query.vector is not None:
        assert index is not None
        found = index.query(query.vector, fetch * widen)
        vector = [cid for cid, _score in found]
        lowest = found[-1][1] if found else None
    if query.mode in ("hybrid", "keyword"):
        plan = keywords.plan(query.text)
        keyword = _keyword_candidates(con, plan, fetch * widen)
    exhausted = max(len(vector), len(keyword)) < fetch * widen
    if not vector and not keyword:
        return [], True, lowest
    hits = fetch_hits(con, dict.fromkeys(vector + keyword), query.vector, query.collection)
    _fuse(hits, vector, keyword, keywords, plan, query.vector is not None)
    return _best(hits, query), exhausted, lowest


def _keyword_candidates(con: sqlite3.Connection, plan: KeywordQuery, limit: int) -> list[int]:
    """Chunk ids matching the keyword plan, best BM25 first (text counts twice the heading)."""
    if not plan.match:
        return []
    sql = (
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
        "ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?"
    )
    try:
        return [cid for (cid,) in con.execute(sql, (plan.match, limit))]
    except sqlite3.OperationalError:
        return []


def _fuse(
    hits: list[Hit],
    vector: list[int],
    keyword: list[int],
    keywords: KeywordPlanner,
    plan: KeywordQuery | None,
    has_vector: bool,
) -> None:
    """Set each hit's ``fused`` score from its ranks in the two candidate lists."""
    vector_rank = {cid: rank for rank, cid in enumerate(vector)}
    keyword_rank = {cid: rank for rank, cid in enumerate(keyword)}
    for h in hits:
        kw = keyword_rank.get(h.chunk_id)
        if not has_vector:  # keyword only: BM25 order
            h.fused = fused_score(None, kw, 1.0, weight=1.0)
            h.score = round(h.fused * RRF_K, 4)
        else:  # hybrid (or vector): a keyword rank weighted by the question's coverage
            cover = plan.coverage(keywords.text_terms(h.text)) if plan and kw is not None else 0.0
            h.fused = fused_score(vector_rank.get(h.chunk_id), kw, cover)


def _best(hits: list[Hit], query: Query) -> list[Hit]:
    """The best ``k`` hits over the threshold, no passage text twice, at most
    ``per_document`` from one document."""
    if query.threshold is not None and query.vector is not None:
        hits = [h for h in hits if h.score >= query.threshold]
    hits.sort(key=lambda h: (-h.fused, -h.score))
    out: list[Hit] = []
    per_doc: dict[int, int] = {}
    seen_text: set[str] = set()
    for h in hits:
        key = " ".join(h.text.split())
        if key in seen_text or per_doc.get(h.document_id, 0) >= query.per_document:
            continue
        seen_text.add(key)
        per_doc[h.document_id] = per_doc.get(h.document_id, 0) + 1
        out.append(h)
        if len(out) == query.k:
            break
    return out


def fetch_hits(
    con: sqlite3.Connection,
    ids: dict[int, None],
    query_vector: np.ndarray | None,
    collection: str | None,
) -> list[Hit]:
    """The rows of ``ids`` (in the collection, if given), scored by cosine similarity to
    ``query_vector``; ``fused`` is left at 0 for the caller."""
    sql = (
        "SELECT c.id, c.document_id, c.text, c.start, c.end, c.page, c.heading, c.vector,"
        " d.path, d.collection, d.topic FROM chunks c JOIN documents d ON d.id=c.document_id"
        f" WHERE c.id IN ({','.join('?' * len(ids))})"
    )
    args: list[object] = list(ids)
    if collection:
        sql += " AND d.collection=?"
        args.append(collection)
    hits = []
    for r in con.execute(sql, args):
        score = (
            float(np.frombuffer(r["vector"], dtype=np.float32) @ query_vector)
            if query_vector is not None
            else 0.0
        )
        hits.append(
            Hit(
                r["id"],
                r["document_id"],
                r["path"],
                r["collection"],
                r["page"],
                r["heading"],
                r["text"],
                round(score, 4),
                r["start"],
                r["end"],
                r["topic"],
            )
        )
    return hits
