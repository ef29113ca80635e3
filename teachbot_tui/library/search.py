"""Searching the library: vector and keyword candidates, fused by rank, fetched from SQLite.

:func:`search` runs rounds of :func:`search_round`: take the ``fetch`` nearest vectors and the
``fetch`` best BM25 matches, score each candidate with :func:`fused_score`, and keep the best
``k``, at most ``per_document`` from one document and no passage twice. When one long document
fills every candidate slot, the next round fetches four times as many.

Hybrid search has a third signal: the documents whose vectors (:mod:`.documents`) are nearest
the question. The best passage of each of the ``DOCUMENT_FETCH`` nearest documents counts as
near the question as its document is: its vector term ``1 / (RRF_K + passage rank)`` becomes
``weight / (RRF_K + document rank)`` when that is more. The best passages of the
``DOCUMENT_EXPAND`` nearest documents join the candidates if none of theirs is among them. A
document that matches as a whole rises even when no single passage of it stands out.

The weight is 1 (a document rank counts like a passage rank) plus up to
``DOCUMENT_WEIGHT - 1`` for a document of more than one passage, in full for the nearest
document and less the further the document's similarity lies below the nearest one's (none
at ``DOCUMENT_SPAN`` below). A one-passage document, whose vector is its passage's, keeps its
place: its document rank says nothing its passage rank does not. A broad document whose mean
vector is near many questions without being near any of them (a long handbook) ranks fairly
high among documents but far below the nearest one, and gets no more than a passage would.

With ``Query.documents`` the result is ``k`` distinct documents, each with up to
``per_document`` of its best passages, documents in the order of their best passage.
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
# the document signal, tuned on the tuning halves of scripts/data/beir-* (docs/retrieval.md):
# a document's best passage counts as near the question as the document is, with a weight of
# 1 (a document rank counts like a passage rank) plus up to DOCUMENT_WEIGHT - 1 for a
# document of several passages whose similarity is close to the nearest document's
DOCUMENT_WEIGHT = 1.25
DOCUMENT_SPAN = 0.2  # cosine below the nearest document's at which the extra weight is gone
DOCUMENT_FETCH = 20  # nearest documents whose best passages are lifted
DOCUMENT_EXPAND = 10  # nearest documents whose best passages join the candidates
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
    documents: bool = False  # k distinct documents, each with its best passages
    document_weight: float = DOCUMENT_WEIGHT  # 0: no document signal


def search(
    con: sqlite3.Connection,
    keywords: KeywordPlanner,
    index: VectorIndex | None,
    query: Query,
    document_index: VectorIndex | None = None,
) -> list[Hit]:
    """The top ``query.k`` passages (or documents' passages, grouped); ``index`` is needed
    when the query has a vector, ``document_index`` for the document signal."""
    fetch = max(50, query.k * 5)
    while True:
        out, exhausted, lowest = search_round(con, keywords, index, query, fetch,
                                              document_index)
        found = len({h.document_id for h in out}) if query.documents else len(out)
        # one long document can fill every candidate slot: widen until k or exhausted,
        # but not past the threshold (candidates come best first)
        below = query.threshold is not None and lowest is not None and lowest < query.threshold
        if (
            found >= query.k
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
    document_index: VectorIndex | None = None,
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
    if (query.mode == "hybrid" and query.vector is not None and document_index is not None
            and query.document_weight > 0):
        hits += _document_signal(con, document_index, query, hits, widen, vector)
    return _best(hits, query), exhausted, lowest


def _document_signal(con: sqlite3.Connection, document_index: VectorIndex, query: Query,
                     hits: list[Hit], widen: int, vector: list[int]) -> list[Hit]:
    """Lift the best hit of each document nearest the question to its document's rank;
    returns the best passages of the nearest documents that had no candidate, lifted
    likewise."""
    assert query.vector is not None
    nearest = document_index.query(query.vector, DOCUMENT_FETCH * widen)
    rank = {doc_id: i for i, (doc_id, _score) in enumerate(nearest)}
    have = {h.document_id for h in hits}
    expand = [d for d, _s in nearest[:DOCUMENT_EXPAND * widen] if d not in have]
    extra = fetch_document_hits(con, expand, query.vector, query.collection, query.per_document)
    # only each document's best passage is lifted: the document's place in the ranking
    # moves, its weaker passages do not crowd out other documents' better ones
    best: dict[int, Hit] = {}
    for h in hits + extra:
        if h.document_id not in best or (h.fused, h.score) > (best[h.document_id].fused,
                                                               best[h.document_id].score):
            best[h.document_id] = h
    vector_rank = {cid: i for i, cid in enumerate(vector)}
    weights = document_weights(con, nearest, [d for d in best if d in rank],
                               query.document_weight)
    for doc_id, h in best.items():
        r = rank.get(doc_id)
        if r is None:
            continue
        own = vector_rank.get(h.chunk_id)
        own_score = 0.0 if own is None else 1.0 / (RRF_K + own + 1)
        h.fused += max(0.0, weights[doc_id] / (RRF_K + r + 1) - own_score)
    return extra


def document_weights(con: sqlite3.Connection, nearest: list[tuple[int, float]],
                     doc_ids: list[int], weight: float) -> dict[int, float]:
    """The weight of each of ``doc_ids``' document rank (``nearest``: the documents nearest
    the question with their similarities): ``min(weight, 1)``, plus, for a document of more
    than one passage, the part of ``weight - 1`` that its closeness to the nearest of
    ``doc_ids`` earns (all of it at the same similarity, none at ``DOCUMENT_SPAN`` or more
    below). The nearest is taken among ``doc_ids``, the documents with candidates (in the
    searched collection)."""
    base = min(weight, 1.0)
    out = dict.fromkeys(doc_ids, base)
    if weight <= 1.0 or not doc_ids or not nearest:
        return out
    similarity = dict(nearest)
    top = max(similarity[d] for d in doc_ids)
    close = {d: 1.0 - (top - similarity[d]) / DOCUMENT_SPAN for d in doc_ids}
    close = {d: c for d, c in close.items() if c > 0}
    if not close:
        return out
    several = {d for (d,) in con.execute(
        "SELECT document_id FROM chunks WHERE document_id IN "
        f"({','.join('?' * len(close))}) GROUP BY document_id HAVING COUNT(*) > 1",
        list(close))}
    for d in several:
        out[d] = base + (weight - 1.0) * min(1.0, close[d])
    return out


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
    ``per_document`` from one document; with ``query.documents``, the best passages of the
    best ``k`` documents, grouped by document."""
    if query.threshold is not None and query.vector is not None:
        hits = [h for h in hits if h.score >= query.threshold]
    hits.sort(key=lambda h: (-h.fused, -h.score))
    out: list[Hit] = []
    per_doc: dict[int, int] = {}
    seen_text: set[str] = set()
    groups: dict[int, list[Hit]] = {}
    for h in hits:
        key = " ".join(h.text.split())
        if key in seen_text or per_doc.get(h.document_id, 0) >= query.per_document:
            continue
        if query.documents and h.document_id not in groups and len(groups) == query.k:
            continue  # k documents found: only their further passages count now
        seen_text.add(key)
        per_doc[h.document_id] = per_doc.get(h.document_id, 0) + 1
        out.append(h)
        groups.setdefault(h.document_id, []).append(h)
        if not query.documents and len(out) == query.k:
            break
    return [h for group in groups.values() for h in group] if query.documents else out


def fetch_document_hits(
    con: sqlite3.Connection,
    doc_ids: list[int],
    query_vector: np.ndarray,
    collection: str | None,
    per_document: int,
) -> list[Hit]:
    """The ``per_document`` passages of each document nearest ``query_vector``."""
    if not doc_ids:
        return []
    hits = fetch_hits(con, dict.fromkeys(doc_ids), query_vector, collection, "c.document_id")
    hits.sort(key=lambda h: -h.score)
    out, taken = [], dict.fromkeys(doc_ids, 0)
    for h in hits:
        if taken[h.document_id] < per_document:
            taken[h.document_id] += 1
            out.append(h)
    return out


def fetch_hits(
    con: sqlite3.Connection,
    ids: dict[int, None],
    query_vector: np.ndarray | None,
    collection: str | None,
    by: str = "c.id",
) -> list[Hit]:
    """The rows of ``ids`` (chunk ids, or document ids with ``by="c.document_id"``; in the
    collection, if given), scored by cosine similarity to ``query_vector``; ``fused`` is
    left at 0 for the caller."""
    sql = (
        "SELECT c.id, c.document_id, c.text, c.start, c.end, c.page, c.heading, c.vector,"
        " d.path, d.collection, d.topic FROM chunks c JOIN documents d ON d.id=c.document_id"
        f" WHERE {by} IN ({','.join('?' * len(ids))})"
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
