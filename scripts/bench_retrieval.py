#!/usr/bin/env python
"""Search quality and speed at library scale: hnswlib recall@10 against exact numpy search,
and the latency of the whole ``Library.search`` path (embed + ANN + FTS + document ANN + fuse
+ fetch), of ``Library.search_documents`` (k distinct documents) and, as the baseline in the
same run, of hybrid search without the document signal (``hybrid_passages``).

The library is built fast (see ``_bench.build_large_library``): ``--unique`` sentences of
teacher text are embedded for real with MiniLM; each of the ``--chunks`` chunks is three of
those sentences, with the normalized mean of their vectors plus small noise as its vector
(``--embed-all`` embeds every chunk for real instead: ~10+ min for 100k on 2 cores). Rows are
inserted in bulk into SQLite (FTS5 via the schema's triggers) and the vectors go into hnswlib
through ``VectorIndex``; every search then goes through the real ``Library.search``.

Document vectors are the normalized means of their chunks' vectors, made from SQLite when the
library first opens (as for a library from before document vectors).

Queries are teacher questions generated from the same vocabulary, embedded for real by the
app's embedder (ONNX Runtime). Modes are interleaved query by query. The query embedding is
also timed with the sentence-transformers (torch) reference in the same run (``embed_torch``,
diagnostic: the app does not use it; ``--no-torch`` skips it). Recall compares
``VectorIndex.query`` (the app's ef) with an exact inner-product search over the same
normalized vectors.

    .venv/bin/python scripts/bench_retrieval.py --chunks 100000 --queries 200 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, pct, r  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000, help="chunks in the library")
    ap.add_argument("--queries", type=int, default=200, help="queries to time")
    ap.add_argument("--unique", type=int, default=6_000,
                    help="unique sentences embedded for real (the vector pool)")
    ap.add_argument("--embed-all", action="store_true",
                    help="embed every chunk text for real (slow)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef-sweep", default="16,32,64,128,256",
                    help="hnswlib ef values to report recall/latency for ('' for none)")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip timing the sentence-transformers reference query embedding")
    args, _home = _bench.parse_args(ap, argv)

    import numpy as np

    from teachbot_tui import config
    from teachbot_tui.library import Library
    from teachbot_tui.library import index as index_mod
    from teachbot_tui.library import search as searching
    from teachbot_tui.library.keywords import or_query, query_words
    from teachbot_tui.library.search import fetch_hits
    from teachbot_tui.paths import Paths

    settings = config.load()
    lib = Library(Paths.from_env(), settings)
    built = _bench.build_large_library(lib, args.chunks, n_unique=args.unique,
                                       embed_all=args.embed_all)
    vecs, ids = built.pop("vectors"), built.pop("ids")
    built.pop("texts")
    log(f"built: {built}")

    queries = _bench.teacher_questions(args.queries, seed=1)
    emb = lib.embedder
    ref = None
    if not args.no_torch:
        from teachbot_tui import defaults
        from teachbot_tui.library.embedder_torch import TorchEmbedder

        ref = TorchEmbedder(defaults.embedder_path())
        ref.encode_query(queries[0])  # load + warm
    t = time.perf_counter()
    _ = lib.document_index  # made from the chunk vectors on first open
    doc_index_s = time.perf_counter() - t
    # warm up: model, index load, SQLite page cache
    for q in queries[:5]:
        for mode in ("hybrid", "vector"):
            lib.search(q, k=args.k, mode=mode)

    k = args.k
    threshold = settings.retrieval_threshold
    cases = {"hybrid": dict(mode="hybrid"), "vector": dict(mode="vector"),
             "keyword": dict(mode="keyword"),
             "hybrid_threshold": dict(mode="hybrid", threshold=threshold),
             "hybrid_passages": dict(mode="hybrid"), "documents": dict(mode="hybrid")}
    lat: dict[str, list[float]] = {c: [] for c in cases}
    parts: dict[str, list[float]] = {p: [] for p in
                                     ("embed", "embed_torch", "ann", "document_ann",
                                      "keyword_plan", "fts", "fts_all_words", "count",
                                      "fetch")}
    recall_ann, recall_fetch = [], []
    hits_returned: dict[str, list[int]] = {c: [] for c in cases}
    index = lib.index
    weight = searching.DOCUMENT_WEIGHT
    fetch = max(50, k * 5)
    log(f"timing {len(queries)} queries x {len(cases)} modes (interleaved) ...")
    for qi, q in enumerate(queries):
        order = list(cases) if qi % 2 == 0 else list(reversed(cases))
        for c in order:
            searching.DOCUMENT_WEIGHT = 0.0 if c == "hybrid_passages" else weight
            t = time.perf_counter()
            if c == "documents":
                hits = lib.search_documents(q, k=k, **cases[c])
            else:
                hits = lib.search(q, k=k, **cases[c])
            lat[c].append((time.perf_counter() - t) * 1000)
            hits_returned[c].append(len(hits))
        searching.DOCUMENT_WEIGHT = weight
        # the pieces of one hybrid search, timed one by one
        t = time.perf_counter()
        qv = emb.encode_query(q)
        parts["embed"].append((time.perf_counter() - t) * 1000)
        if ref is not None:
            t = time.perf_counter()
            ref.encode_query(q)
            parts["embed_torch"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = index.query(qv, fetch)
        parts["ann"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        lib.document_index.query(qv, searching.DOCUMENT_FETCH)
        parts["document_ann"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        plan = lib.keywords.plan(q)
        parts["keyword_plan"].append((time.perf_counter() - t) * 1000)
        fts_sql = ("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                   "ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?")
        t = time.perf_counter()
        rows = lib.con.execute(fts_sql, (plan.match, fetch)).fetchall()
        parts["fts"].append((time.perf_counter() - t) * 1000)
        # the baseline: an OR of every content word, as before the planner's budget
        t = time.perf_counter()
        lib.con.execute(fts_sql, (or_query(query_words(q)), fetch)).fetchall()
        parts["fts_all_words"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        lib.con.execute("SELECT COUNT(*) FROM chunks").fetchone()
        parts["count"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        fetch_hits(lib.con, dict.fromkeys([cid for cid, _s in found] + [r[0] for r in rows]), qv, None)
        parts["fetch"].append((time.perf_counter() - t) * 1000)
        # recall: ANN vs exact on the same normalized vectors
        exact = ids[np.argpartition(-(vecs @ qv), k)[:k]]
        truth = set(int(x) for x in exact)
        ann = {cid for cid, _s in index.query(qv, k)}
        recall_ann.append(len(ann & truth) / k)
        recall_fetch.append(len({cid for cid, _s in found[:k]} & truth) / k)
        if (qi + 1) % 50 == 0:
            log(f"  {qi + 1}/{len(queries)}: hybrid p50 {median(lat['hybrid']):.1f} ms, "
                f"recall@10 {np.mean(recall_ann):.4f}")

    # recall and ANN time against ef (hnswlib directly, same index)
    sweep = {}
    qvs = emb.encode_uncached(queries)
    exact_top = [set(int(x) for x in ids[np.argpartition(-(vecs @ qv), k)[:k]]) for qv in qvs]
    for ef in [int(x) for x in args.ef_sweep.split(",") if x.strip()]:
        index._index.set_ef(max(ef, k))
        rec, times = [], []
        for qv, truth in zip(qvs, exact_top, strict=True):
            t = time.perf_counter()
            labels, _ = index._index.knn_query(qv.reshape(1, -1), k=k, num_threads=1)
            times.append((time.perf_counter() - t) * 1000)
            rec.append(len(set(int(x) for x in labels[0]) & truth) / k)
        sweep[str(ef)] = {"recall@10": r(np.mean(rec), 4), "ann_p50_ms": r(median(times))}
    index._index.set_ef(index_mod.EF_SEARCH)

    result = {
        "bench": "retrieval",
        "chunks": args.chunks,
        "queries": len(queries),
        "k": k,
        "recall@10": r(float(np.mean(recall_ann)), 4),
        "recall@10_min": r(float(np.min(recall_ann)), 2),
        "recall@10_fetch50": r(float(np.mean(recall_fetch)), 4),
        "ef_search": index_mod.EF_SEARCH,
        "M": index_mod.M,
        "hybrid_p50_ms": r(median(lat["hybrid"]), 2),
        "hybrid_p99_ms": r(pct(lat["hybrid"], 99), 2),
        "vector_p50_ms": r(median(lat["vector"]), 2),
        "vector_p99_ms": r(pct(lat["vector"], 99), 2),
        "keyword_p50_ms": r(median(lat["keyword"]), 2),
        "keyword_p99_ms": r(pct(lat["keyword"], 99), 2),
        "hybrid_threshold": threshold,
        "hybrid_threshold_p50_ms": r(median(lat["hybrid_threshold"]), 2),
        "hybrid_threshold_p99_ms": r(pct(lat["hybrid_threshold"], 99), 2),
        "hybrid_threshold_hits_p50": median(hits_returned["hybrid_threshold"]),
        "hybrid_passages_p50_ms": r(median(lat["hybrid_passages"]), 2),
        "hybrid_passages_p99_ms": r(pct(lat["hybrid_passages"], 99), 2),
        "documents_p50_ms": r(median(lat["documents"]), 2),
        "documents_p99_ms": r(pct(lat["documents"], 99), 2),
        "documents_returned_p50": median(hits_returned["documents"]),
        "document_weight": weight,
        "indexes_open_s": r(doc_index_s, 2),  # passage index load + document vectors made
        "embedder": emb.model_id,
        "parts_p50_ms": {p: r(median(v), 3) for p, v in parts.items() if v},
        "parts_p99_ms": {p: r(pct(v, 99), 3) for p, v in parts.items() if v},
        "ef_sweep": sweep,
        "build": built,
        "machine": _bench.machine(),
    }
    _bench.emit(result, pretty=not args.json)
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
