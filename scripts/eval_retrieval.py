#!/usr/bin/env python
"""Retrieval quality on a BEIR-format folder, through teachbot's real import and search.

The folder holds ``corpus.jsonl`` (``{"_id","title","text"}``), ``queries.jsonl``
(``{"_id","text"}``, optional ``metadata.kind`` for a per-kind breakdown) and
``qrels/test.tsv`` (``query-id<TAB>corpus-id<TAB>score`` with a header line). Every corpus
entry is written as ``<_id>.txt`` (title, blank line, text) into a folder that is imported
with ``Library.import_paths`` into a fresh library; each query goes through
``Library.search_documents`` (no threshold, so that ranking is measured on its own): k
distinct documents, mapped back to corpus ids by file name (``--unit passage`` ranks the
documents of ``Library.search``'s k passages instead, in first-hit order, as before
per-document search).

Modes: ``hybrid`` (the app's: vectors, BM25 and the document signal), ``hybrid-passages``
(hybrid without the document signal: the hybrid before document vectors), ``vector``,
``keyword``, and ``document`` (the documents nearest by their document vector alone, exact).

The queries are split once (fixed seed) into a tuning half and a held-out half: ``--tune``
and the threshold sweep use the tuning half; the figures reported first (nDCG@k, recall@k,
MRR@k, named by the actual k) are the held-out half's, and the tuning half's follow under
``tuning_half``.

Printed per mode: nDCG@k, recall@k and MRR@k. For the similarity threshold, the cosine
scores of relevant and irrelevant hits are summarised, together with the top score of
off-topic questions (``--offtopic``, built in), and a sweep shows for each threshold how many
relevant hits survive and how many off-topic questions correctly find nothing.

    .venv/bin/python scripts/eval_retrieval.py --dataset scripts/data/beir-teacher --mode all --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, pct, r  # noqa: E402

MODES = ("hybrid", "hybrid-passages", "vector", "keyword", "document")

# Questions no teacher's school library should answer: their top scores show where
# "nothing relevant" begins.
OFFTOPIC = [
    "What is the capital city of Australia?",
    "How do I change a flat tyre on my car?",
    "Give me a recipe for sourdough bread.",
    "How does a jet engine produce thrust?",
    "What are good stocks to invest in this year?",
    "How do I reset my Wi-Fi router password?",
    "Who won the football world cup in 1998?",
    "What is the best way to grow tomatoes on a balcony?",
    "How many calories are in a banana?",
    "Explain how blockchain mining works.",
    "What should I pack for a ski holiday?",
    "How do I fix a leaking kitchen tap?",
    "Which smartphone has the best camera?",
    "How long should I boil an egg?",
    "What is the plot of Hamlet?",
    "How do I renew my passport?",
    "What causes the northern lights?",
    "How do I train my puppy to sit?",
    "What is the exchange rate of euros to yen?",
    "How do I make my houseplants stop dying?",
]

THRESHOLDS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]


def load_beir(folder: Path) -> tuple[dict, dict, dict, dict]:
    corpus, queries, kinds = {}, {}, {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "")
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
            kinds[str(q["_id"])] = (q.get("metadata") or {}).get("kind", "")
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    lines = (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        parts = line.strip().split("\t")
        if len(parts) < 3 or (i == 0 and not parts[2].lstrip("-").isdigit()):
            continue  # header
        qid, did, score = parts[0], parts[1], int(parts[2])
        if score > 0:
            qrels[qid][did] = score
    queries = {q: t for q, t in queries.items() if q in qrels}
    return corpus, queries, dict(qrels), kinds


def file_name(doc_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", doc_id)[:120]
    return safe


def ndcg(ranked: list[str], rels: dict[str, int], k: int) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], rels: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels) if rels else 0.0


def mrr(ranked: list[str], rels: dict[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if d in rels:
            return 1.0 / (i + 1)
    return 0.0


def dist(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "min": r(min(xs)), "p5": r(pct(xs, 5)), "p25": r(pct(xs, 25)),
            "p50": r(pct(xs, 50)), "p75": r(pct(xs, 75)), "p95": r(pct(xs, 95)),
            "max": r(max(xs))}


SPLIT_SEED = 20261130


def split_queries(queries: dict) -> tuple[dict, dict]:
    """(tuning half, held-out half) of the queries: a fixed-seed shuffle of their ids."""
    import random

    ids = sorted(queries)
    random.Random(SPLIT_SEED).shuffle(ids)
    half = len(ids) // 2
    return ({q: queries[q] for q in sorted(ids[:half])},
            {q: queries[q] for q in sorted(ids[half:])})


def tune(lib, queries: dict, qrels: dict, by_name: dict, k: int) -> dict:  # type: ignore[no-untyped-def]
    """nDCG@k of fusion variants (RRF k x keyword weight x coverage power), computed the way
    ``Library.search`` fuses, from the library's own candidate lists of 50: hnswlib vectors
    and FTS5 bm25 (the planner's query), each BM25 rank weighted by the passage's coverage
    of the question's words raised to the power. Documents rank by their best passage."""
    from teachbot_tui.library.search import fused_score

    doc_of = {cid: by_name.get(Path(path).stem) for cid, path in lib.con.execute(
        "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id=c.document_id")}
    text_of = dict(lib.con.execute("SELECT id, text FROM chunks"))
    lists = {}
    for qid, text in queries.items():
        qv = lib.embedder.encode_query(text)
        vec = [cid for cid, _s in lib.index.query(qv, 50)]
        plan = lib.keywords.plan(text)
        kw = [row[0] for row in lib.con.execute(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT 50", (plan.match,))] if plan.match else []
        cover = {cid: plan.coverage(lib.keywords.text_terms(text_of[cid])) for cid in kw}
        lists[qid] = (vec, kw, cover)
    out = {}
    for rrf_k in (10, 30, 60):
        for w in (0.0, 0.25, 0.5, 0.75, 1.0):
            for power in (0, 1, 2, 3):
                scores = []
                for qid, (vec, kw, cover) in lists.items():
                    vec_rank = {cid: i for i, cid in enumerate(vec)}
                    kw_rank = {cid: i for i, cid in enumerate(kw)}
                    fused = {cid: fused_score(vec_rank.get(cid), kw_rank.get(cid), cover.get(cid, 0.0),
                                              rrf_k=rrf_k, weight=w, power=power)
                             for cid in dict.fromkeys(vec + kw)}
                    ranked: list[str] = []
                    for cid in sorted(fused, key=lambda c: -fused[c]):
                        d = doc_of.get(cid)
                        if d and d not in ranked:
                            ranked.append(d)
                    scores.append(ndcg(ranked, qrels[qid], k))
                out[f"rrf{rrf_k}_kw{w}_cov{power}"] = r(sum(scores) / max(len(scores), 1), 4)
    log(f"tune: {out}")
    return out


def rank_documents(lib, text: str, mode: str, k: int, unit: str) -> list:  # type: ignore[no-untyped-def]
    """The hits (one per document with ``unit`` document, best first) of one query."""
    import numpy as np

    from teachbot_tui.library import search as searching

    if mode == "document":  # exact search over the document vectors
        rows = lib.con.execute("SELECT document_id, vector FROM document_vectors").fetchall()
        qv = lib.embedder.encode_query(text)
        sims = np.stack([np.frombuffer(v, dtype=np.float32) for _d, v in rows]) @ qv
        order = np.argsort(-sims)[:k]
        paths = dict(lib.con.execute("SELECT id, path FROM documents"))
        return [_DocHit(paths[rows[i][0]], float(sims[i])) for i in order]
    weight = searching.DOCUMENT_WEIGHT
    if mode == "hybrid-passages":
        mode, searching.DOCUMENT_WEIGHT = "hybrid", 0.0
    try:
        if unit == "passage":
            return lib.search(text, k=k, mode=mode, threshold=None)
        return [d.hits[0] for d in lib.search_documents(text, k=k, mode=mode, threshold=None)]
    finally:
        searching.DOCUMENT_WEIGHT = weight


class _DocHit:
    def __init__(self, path: str, score: float) -> None:
        self.path, self.score = path, score


def tune_documents(lib, queries: dict, qrels: dict, by_name: dict, k: int,  # type: ignore[no-untyped-def]
                   unit: str) -> dict:
    """nDCG@k of the document signal's settings through the real hybrid search: weight x span
    (how far below the nearest document's similarity the extra weight is gone; 10: never)
    with the nearest 20 documents lifted and 10 expanded, then the nearest documents lifted
    (10, 20, 50) x expanded (0, 10) at the library's weight and span."""
    from teachbot_tui.library import search as searching

    names = ("DOCUMENT_WEIGHT", "DOCUMENT_SPAN", "DOCUMENT_FETCH", "DOCUMENT_EXPAND")
    saved = [getattr(searching, n) for n in names]
    cells = [(w, span, 20, 10) for w in (0.0, 1.0, 1.25, 1.5, 1.75, 2.0)
             for span in (0.05, 0.1, 0.2, 0.3, 10.0) if w > 1 or span == 0.2]
    cells += [(saved[0], saved[1], fetch, expand) for fetch in (10, 20, 50)
              for expand in (0, 10) if (fetch, expand) != (20, 10)]
    out = {}
    try:
        for cell in cells:
            for n, v in zip(names, cell, strict=True):
                setattr(searching, n, v)
            scores = []
            for qid, text in queries.items():
                hits = rank_documents(lib, text, "hybrid", k, unit)
                scores.append(ndcg(ranked_ids(hits, by_name), qrels[qid], k))
            w, span, fetch, expand = cell
            out[f"w{w}_span{span}_fetch{fetch}_expand{expand}"] = r(
                sum(scores) / max(len(scores), 1), 4)
    finally:
        for n, v in zip(names, saved, strict=True):
            setattr(searching, n, v)
    log(f"tune documents: {out}")
    return out


def ranked_ids(hits: list, by_name: dict) -> list[str]:
    out: list[str] = []
    for h in hits:
        did = by_name.get(Path(h.path).stem)
        if did is not None and did not in out:
            out.append(did)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="a BEIR-format folder")
    ap.add_argument("--mode", default="all", choices=[*MODES, "all"])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N queries")
    ap.add_argument("--unit", default="document", choices=["document", "passage"],
                    help="rank k distinct documents (Library.search_documents, default) or the "
                         "documents of k passages (Library.search)")
    ap.add_argument("--doc-vector", default=None, choices=["mean", "opening"],
                    help="what a document's vector is of (default: the library's, "
                         "library/documents.py DOCUMENT_VECTOR)")
    ap.add_argument("--tune-documents", action="store_true",
                    help="also score the document signal's settings on the tuning half")
    ap.add_argument("--tune", action="store_true",
                    help="also score fusion variants (RRF k, keyword weight, coverage power) computed here "
                         "from the same vector and BM25 rankings (library code unchanged)")
    ap.add_argument("--embedder", default="onnx", choices=list(_bench.EMBEDDERS),
                    help="onnx: the app's (ONNX Runtime, int8); onnx-fp32: unquantized; "
                         "torch: the sentence-transformers reference")
    args, home = _bench.parse_args(ap, argv)

    from teachbot_tui import config
    from teachbot_tui.library import Library
    from teachbot_tui.library import documents as documents_mod
    from teachbot_tui.library import search as searching
    from teachbot_tui.paths import Paths

    if args.doc_vector:
        documents_mod.DOCUMENT_VECTOR = args.doc_vector

    folder = Path(args.dataset)
    corpus, queries, qrels, kinds = load_beir(folder)
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    docs_dir = home / "beir-docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    by_name: dict[str, str] = {}
    for doc_id, (title, text) in corpus.items():
        name = file_name(doc_id)
        if name in by_name:
            name = f"{name}-{len(by_name)}"
        by_name[name] = doc_id
        body = f"{title}\n\n{text}\n" if title else f"{text}\n"
        (docs_dir / f"{name}.txt").write_text(body, encoding="utf-8")

    settings = config.load()
    paths = Paths.from_env()
    lib = Library(paths, settings, embedder=_bench.make_embedder(args.embedder, paths))
    t = time.perf_counter()
    report = lib.import_paths([docs_dir])
    import_s = time.perf_counter() - t
    log(f"imported {report.added} documents, {report.chunks_added} chunks in {import_s:.1f} s;"
        f" {len(report.failed)} failed")

    modes = list(MODES) if args.mode == "all" else [args.mode]
    k = args.k
    names = (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}")
    tuning, heldout = split_queries(queries)

    def summary(rows: list[tuple[float, float, float]]) -> dict:
        n = max(len(rows), 1)
        return {name: r(sum(x[i] for x in rows) / n, 4) for i, name in enumerate(names)}

    results: dict[str, dict] = {}
    tuning_results: dict[str, dict] = {}
    rel_scores, irr_scores, irr_top1, rel_top1 = [], [], [], []
    for mode in modes:
        per_kind: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        rows, tuning_rows = [], []
        for qid, text in queries.items():
            hits = rank_documents(lib, text, mode, k, args.unit)
            ranked = ranked_ids(hits, by_name)
            m = (ndcg(ranked, qrels[qid], k), recall(ranked, qrels[qid], k),
                 mrr(ranked, qrels[qid], k))
            if qid in tuning:
                tuning_rows.append(m)
            else:
                rows.append(m)
                if kinds.get(qid):
                    per_kind[kinds[qid]].append(m)
            if mode == "hybrid" and qid in tuning:  # the threshold is tuned, not reported
                for i, h in enumerate(hits):
                    did = by_name.get(Path(h.path).stem)
                    rel = did in qrels[qid]
                    (rel_scores if rel else irr_scores).append(h.score)
                    if i == 0:
                        (rel_top1 if rel else irr_top1).append(h.score)
        results[mode] = summary(rows)
        tuning_results[mode] = summary(tuning_rows)
        if per_kind:
            results[mode]["by_kind"] = {
                kind: {"queries": len(v), names[0]: r(sum(x[0] for x in v) / len(v), 4)}
                for kind, v in sorted(per_kind.items())}
        log(f"{mode:>8}: held-out {results[mode]}; tuning half {tuning_results[mode]}")

    # off-topic questions: their best score, for the threshold
    off_top1 = []
    for q in OFFTOPIC:
        hits = lib.search(q, k=k, mode="vector", threshold=None)
        if hits:
            off_top1.append(max(h.score for h in hits))
    sweep = {}
    for th in THRESHOLDS:
        sweep[str(th)] = {
            "relevant_hits_kept": r(sum(s >= th for s in rel_scores) / max(len(rel_scores), 1)),
            "relevant_top1_kept": r(sum(s >= th for s in rel_top1) / max(len(rel_top1), 1)),
            "irrelevant_hits_dropped": r(sum(s < th for s in irr_scores)
                                         / max(len(irr_scores), 1)),
            "offtopic_queries_empty": r(sum(s < th for s in off_top1) / max(len(off_top1), 1)),
        }
    first = results[modes[0]]
    out = {
        "bench": "eval_retrieval",
        "dataset": folder.name,
        "documents": len(corpus),
        "chunks": report.chunks_added,
        "queries": len(queries),
        "heldout_queries": len(heldout),
        "tuning_queries": len(tuning),
        "split_seed": SPLIT_SEED,
        "k": k,
        "mode": args.mode,
        "unit": args.unit,
        "doc_vector": documents_mod.DOCUMENT_VECTOR,
        "document_signal": {"weight": searching.DOCUMENT_WEIGHT, "span": searching.DOCUMENT_SPAN,
                            "fetch": searching.DOCUMENT_FETCH,
                            "expand": searching.DOCUMENT_EXPAND},
        "embedder": args.embedder,
        "embedder_id": lib.embedder.model_id,
        **{name: first[name] for name in names},
        "modes": results,
        "tuning_half": tuning_results,
        "import_s": r(import_s, 1),
        "retrieval_threshold": settings.retrieval_threshold,
    }
    if "hybrid" in results:
        out["scores"] = {"relevant_hits": dist(rel_scores), "irrelevant_hits": dist(irr_scores),
                         "relevant_top1": dist(rel_top1), "irrelevant_top1": dist(irr_top1),
                         "offtopic_top1": dist(off_top1)}
        out["threshold_sweep"] = sweep
    if "hybrid" in results and "vector" in results:
        out["hybrid_minus_vector_ndcg"] = r(results["hybrid"][names[0]]
                                            - results["vector"][names[0]], 4)
    if args.tune_documents:
        grid = tune_documents(lib, tuning, qrels, by_name, k, args.unit)
        best = max(grid, key=lambda key: grid[key])
        out["tune_documents"] = {"on": "tuning half", "grid": grid, "best": best}
    if args.tune:
        grid = tune(lib, tuning, qrels, by_name, k)
        best = max(grid, key=lambda key: grid[key])
        out["tune"] = {"on": "tuning half", "grid": grid, "best": best,
                       "best_on_heldout": tune(lib, heldout, qrels, by_name, k)[best]}
    out["machine"] = _bench.machine()
    _bench.emit(out, pretty=not args.json)
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
