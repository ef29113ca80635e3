#!/usr/bin/env python
"""Import throughput of the app (ONNX Runtime embedder) against raw sentence-transformers
(torch) encoding the same chunk texts, and against the same import with the torch embedder
(the app before ONNX); and the time to re-import an unchanged folder of many files.

Part 1 (throughput): a folder of ``--files`` small, varied teacher documents (Markdown and
text, 2-6 paragraphs each) is imported through ``Library.import_paths`` into a fresh library
with a fresh (emptied) embedding cache, once with the app's embedder (``Embedder``: ONNX
Runtime, int8 unless ``--quantize fp32``) and once with ``TorchEmbedder`` (what the app used
before). The chunk texts are then read back from the ``chunks`` table (with the document
title the import embeds with each, see ``library.embedding_text``) and encoded by a loaded
``SentenceTransformer`` with the same batch size (the baseline). All in chunks/s;
``throughput_ratio`` = app import rate / raw torch rate; ``speedup_vs_torch_import`` = app
import rate / torch-embedder import rate. The order of the three rotates from run to run;
medians are reported. Both models are loaded (and warmed) before any timing.

Part 2 (unchanged re-import): ``--reimport-files`` tiny files are imported once, then the
same folder is imported again ``--runs`` times with nothing changed; the median is
reported, next to a plain ``os.walk`` + ``stat`` of the same folder in the same run.

    .venv/bin/python scripts/bench_import.py --files 300 --reimport-files 5000 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, r  # noqa: E402


def write_docs(folder: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sub = folder / f"unit{i % 7}"
        sub.mkdir(exist_ok=True)
        text = _bench.teacher_document(i, rng, paragraphs=rng.randint(2, 6))
        if i % 3 == 0:
            (sub / f"note{i:05d}.txt").write_text(text.replace("# ", "").replace("#", ""))
        else:
            (sub / f"note{i:05d}.md").write_text(text)


def write_tiny(folder: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        sub = folder / f"d{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"t{i:05d}.txt").write_text(
            f"Note {i}: {rng.choice(_bench.STRATEGIES)} for {rng.choice(_bench.SUBJECTS)}.\n")


def walk_stat(folder: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            os.stat(os.path.join(dirpath, f))
            n += 1
    return n


def embedded_texts(con) -> list[str]:  # type: ignore[no-untyped-def]
    """The texts the import embedded, in chunk order."""
    from teachbot_tui.library.library import embedding_text

    return [embedding_text(title, text) for title, text in con.execute(
        "SELECT d.title, c.text FROM chunks c JOIN documents d ON d.id=c.document_id ORDER BY c.id")]


def threads_sweep(emb, texts: list[str], runs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Batch encode chunks/s for (parallel runs x ONNX Runtime threads per run) layouts, and
    single-query p50 ms for 1 and 2 threads, interleaved; each layout is its own session."""
    from teachbot_tui.library import embedder as emb_mod
    from teachbot_tui.library.onnx_model import OnnxSentenceModel

    folder = emb.export_dir()
    sessions = {t: OnnxSentenceModel(emb.model_path, folder / "model.onnx", threads=t)
                for t in (1, 2)}
    layouts = {"runs2_threads1": (2, 1), "runs1_threads2": (1, 2), "runs1_threads1": (1, 1)}
    rates: dict[str, list[float]] = {k: [] for k in layouts}
    queries = _bench.teacher_questions(60, seed=5)
    lat: dict[int, list[float]] = {1: [], 2: []}
    saved = emb._model, emb_mod.BATCH_WORKERS
    try:
        for run in range(runs):
            for name in (layouts if run % 2 == 0 else list(reversed(layouts))):
                workers, threads = layouts[name]
                emb._model, emb_mod.BATCH_WORKERS = sessions[threads], workers
                if emb._pool is not None:
                    emb._pool.shutdown()
                    emb._pool = None
                t = time.perf_counter()
                emb.encode_uncached(texts)
                rates[name].append(len(texts) / (time.perf_counter() - t))
        for i, q in enumerate(queries):
            for threads in ((1, 2) if i % 2 == 0 else (2, 1)):
                t = time.perf_counter()
                sessions[threads].embed([q])
                lat[threads].append((time.perf_counter() - t) * 1000)
    finally:
        emb._model, emb_mod.BATCH_WORKERS = saved
    out = {f"{k}_chunks_per_s": r(median(v), 1) for k, v in rates.items()}
    out.update({f"query_threads{t}_p50_ms": r(median(v), 2) for t, v in lat.items()})
    log(f"threads sweep: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300, help="documents for the throughput part")
    ap.add_argument("--runs", type=int, default=3,
                    help="throughput runs (alternating) and unchanged re-imports")
    ap.add_argument("--reimport-files", type=int, default=5000,
                    help="tiny files for the unchanged re-import part (0 to skip)")
    ap.add_argument("--quantize", default="int8", choices=["int8", "fp32"],
                    help="the ONNX embedder's weights (the app's default: int8)")
    ap.add_argument("--threads-sweep", action="store_true",
                    help="also time the ONNX embedder's thread layouts on 256 of the same "
                         "texts: runs x threads per run for a batch encode, threads for one "
                         "query")
    args, home = _bench.parse_args(ap, argv)

    from teachbot_tui import config, defaults
    from teachbot_tui.library import Library
    from teachbot_tui.library.embedder import Embedder
    from teachbot_tui.library.embedder_torch import TorchEmbedder
    from teachbot_tui.paths import Paths

    settings = config.load()
    base = Paths.from_env()
    emb = Embedder(defaults.embedder_path(), base.embedding_cache, quantize=args.quantize)
    ref = TorchEmbedder(defaults.embedder_path(), base.embedding_cache)
    model = ref.model  # the raw baseline: sentence-transformers itself
    warm = ["warm up the model"] * 8
    model.encode(warm, batch_size=ref.batch_size)
    emb.encode_uncached(warm)
    docs = home / "docs"
    write_docs(docs, args.files, seed=1)
    log(f"wrote {args.files} documents to {docs}; app embedder {emb.model_id}")

    def fresh_library(tag: str, embedder: object = emb) -> Library:
        for e in (emb, ref):
            e._cache.execute("DELETE FROM vectors")  # type: ignore[union-attr]  # fresh cache
            e._cache.commit()  # type: ignore[union-attr]
        paths = Paths(base.config_dir, base.data_dir / tag, base.cache_dir)
        return Library(paths, settings, embedder=embedder)  # type: ignore[arg-type]

    times: dict[str, list[float]] = {"import": [], "torch_import": [], "raw": []}
    chunk_counts: list[int] = []
    texts: list[str] = []
    for run in range(args.runs):
        def do_import(side: str) -> None:
            lib = fresh_library(f"run{run}-{side}", emb if side == "import" else ref)
            t = time.perf_counter()
            report = lib.import_paths([docs])
            times[side].append(time.perf_counter() - t)
            if report.failed:
                log(f"  failures: {report.failed[:3]}")
            if side == "import":
                texts[:] = embedded_texts(lib.con)
                chunk_counts.append(len(texts))
            lib.con.close()

        def do_raw() -> None:
            if not texts:  # the texts come from an import (identical every run)
                lib = fresh_library("texts")
                lib.import_paths([docs])
                texts[:] = embedded_texts(lib.con)
                lib.con.close()
            t = time.perf_counter()
            model.encode(texts, batch_size=ref.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
            times["raw"].append(time.perf_counter() - t)

        steps = [lambda: do_import("import"), lambda: do_import("torch_import"), do_raw]
        for step in steps[run % 3:] + steps[:run % 3]:
            step()
        n = chunk_counts[-1]
        imp, tim, raw = times["import"][-1], times["torch_import"][-1], times["raw"][-1]
        log(f"run {run}: {n} chunks; app import {imp:.1f} s ({n / imp:.1f}/s), torch-embedder "
            f"import {tim:.1f} s ({n / tim:.1f}/s), raw torch encode {raw:.1f} s "
            f"({n / raw:.1f}/s); ratio {raw / imp:.3f}, vs torch import {tim / imp:.3f}")

    def rates(side: str) -> list[float]:
        return [c / t for c, t in zip(chunk_counts, times[side], strict=False)]

    ratios = [raw / imp for raw, imp in zip(times["raw"], times["import"], strict=False)]
    speedups = [t / imp for t, imp in zip(times["torch_import"], times["import"], strict=False)]
    result: dict[str, object] = {
        "bench": "import",
        "files": args.files,
        "chunks": chunk_counts[-1] if chunk_counts else 0,
        "runs": args.runs,
        "batch_size": emb.batch_size,
        "embedder": emb.model_id,
        "import_chunks_per_s": r(median(rates("import")), 1),
        "raw_chunks_per_s": r(median(rates("raw")), 1),
        "torch_import_chunks_per_s": r(median(rates("torch_import")), 1),
        "throughput_ratio": r(median(ratios), 3),
        "throughput_ratios": [r(x, 3) for x in ratios],
        "speedup_vs_torch_import": r(median(speedups), 3),
    }

    if args.threads_sweep and texts:
        result["threads_sweep"] = threads_sweep(emb, texts[:256], 2)

    if args.reimport_files:
        tiny = home / "tiny"
        write_tiny(tiny, args.reimport_files, seed=2)
        lib = fresh_library("reimport")
        log(f"first import of {args.reimport_files} tiny files ...")
        t = time.perf_counter()
        first = lib.import_paths([tiny])
        first_s = time.perf_counter() - t
        log(f"  {first.added} added, {first.chunks_added} chunks in {first_s:.1f} s")
        lib.con.close()
        times, walks, unchanged = [], [], 0
        for run in range(args.runs):
            lib = Library(Paths(base.config_dir, base.data_dir / "reimport", base.cache_dir),
                          settings, embedder=emb)  # a new process would open it like this
            t = time.perf_counter()
            walk_stat(tiny)
            walks.append(time.perf_counter() - t)
            t = time.perf_counter()
            rep = lib.import_paths([tiny])
            times.append(time.perf_counter() - t)
            unchanged = rep.unchanged
            log(f"  re-import {run}: {rep.unchanged} unchanged, {rep.added} added, "
                f"{rep.updated} updated in {times[-1]:.2f} s (walk+stat {walks[-1]:.2f} s)")
            lib.con.close()
        result.update({
            "reimport_files": args.reimport_files,
            "reimport_unchanged": unchanged,
            "first_import_s": r(first_s, 1),
            "reimport_unchanged_s": r(median(times), 3),
            "reimport_walk_stat_s": r(median(walks), 3),
            "reimport_vs_walk": r(median(times) / max(median(walks), 1e-9), 1),
        })
    result["machine"] = _bench.machine()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
