#!/usr/bin/env python
"""Import throughput against raw ``SentenceTransformer.encode`` of the same chunk texts, and
the time to re-import an unchanged folder of many files.

Part 1 (throughput): a folder of ``--files`` small, varied teacher documents (Markdown and
text, 2-6 paragraphs each) is imported through ``Library.import_paths`` into a fresh library
with a fresh (emptied) embedding cache. The chunk texts are then read back from the
``chunks`` table (with the document title the import embeds with each, see
``library.embedding_text``) and encoded by the same loaded ``SentenceTransformer`` with the embedder's
batch size (the baseline). Both are in chunks/s; ``throughput_ratio`` = import rate / raw
rate = raw_time / import_time. Runs alternate which side goes first; medians are reported.
The model is loaded (and warmed) before any timing, for both sides.

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300, help="documents for the throughput part")
    ap.add_argument("--runs", type=int, default=3,
                    help="throughput runs (alternating) and unchanged re-imports")
    ap.add_argument("--reimport-files", type=int, default=5000,
                    help="tiny files for the unchanged re-import part (0 to skip)")
    args, home = _bench.parse_args(ap, argv)

    from teachbot_tui import config, defaults
    from teachbot_tui.library import Library
    from teachbot_tui.library.embedder import Embedder
    from teachbot_tui.paths import Paths

    settings = config.load()
    base = Paths.from_env()
    emb = Embedder(defaults.embedder_path(), base.embedding_cache)
    model = emb.model
    model.encode(["warm up the model"] * 8, batch_size=emb.batch_size)  # load + warm
    docs = home / "docs"
    write_docs(docs, args.files, seed=1)
    log(f"wrote {args.files} documents to {docs}")

    def fresh_library(tag: str) -> Library:
        emb._cache.execute("DELETE FROM vectors")  # type: ignore[union-attr]  # fresh cache
        emb._cache.commit()  # type: ignore[union-attr]
        paths = Paths(base.config_dir, base.data_dir / tag, base.cache_dir)
        return Library(paths, settings, embedder=emb)

    imports, raws, ratios, chunk_counts = [], [], [], []
    for run in range(args.runs):
        lib = fresh_library(f"run{run}")
        texts: list[str] = []

        def do_import() -> None:
            t = time.perf_counter()
            report = lib.import_paths([docs])
            imports.append(time.perf_counter() - t)
            if report.failed:
                log(f"  failures: {report.failed[:3]}")
            texts[:] = embedded_texts(lib.con)
            chunk_counts.append(len(texts))

        def do_raw() -> None:
            t = time.perf_counter()
            model.encode(texts, batch_size=emb.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
            raws.append(time.perf_counter() - t)

        if run % 2 == 0:
            do_import()
            do_raw()
        else:
            # raw first needs the texts: take them from the previous run's (identical) import
            texts[:] = embedded_texts(Library(
                Paths(base.config_dir, base.data_dir / f"run{run - 1}", base.cache_dir),
                settings, embedder=emb).con)
            do_raw()
            do_import()
        n = chunk_counts[-1]
        ratios.append(raws[-1] / imports[-1])
        log(f"run {run}: {n} chunks; import {imports[-1]:.1f} s ({n / imports[-1]:.1f}/s), "
            f"raw encode {raws[-1]:.1f} s ({n / raws[-1]:.1f}/s), ratio {ratios[-1]:.3f}")
        lib.con.close()

    result: dict[str, object] = {
        "bench": "import",
        "files": args.files,
        "chunks": chunk_counts[-1] if chunk_counts else 0,
        "runs": args.runs,
        "batch_size": emb.batch_size,
        "import_chunks_per_s": r(median([c / t for c, t in zip(chunk_counts, imports, strict=False)]), 1),
        "raw_chunks_per_s": r(median([c / t for c, t in zip(chunk_counts, raws, strict=False)]), 1),
        "throughput_ratio": r(median(ratios), 3),
        "throughput_ratios": [r(x, 3) for x in ratios],
    }

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
