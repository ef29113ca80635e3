"""Shared helpers for the benchmark scripts (not a script itself).

* :func:`setup` makes the process offline and points ``TEACHBOT_HOME`` at a temporary
  folder (unless one is given);
* :func:`add_model_arg` / :func:`resolve_model` give every benchmark ``--model default|bench-1b``
  (or a GGUF path); ``bench-1b`` is made once by ``make_bench_model.py`` and cached;
* :func:`log` / :func:`emit` print progress to stderr and the final JSON object to stdout;
* :func:`teacher_sentences` / :func:`teacher_questions` generate varied teacher text;
* :func:`build_large_library` fills a library with many chunks quickly: real MiniLM
  embeddings of a pool of unique sentences, chunk vectors derived from them, rows inserted in
  bulk into SQLite (FTS through the schema's triggers) and the hnswlib index built through
  :class:`teachbot_tui.library.index.VectorIndex`. Searches then go through the real
  ``Library.search``.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from teachbot_tui import offline  # noqa: E402

offline.enforce()


def setup(home: str | None) -> Path:
    """Offline flags on; TEACHBOT_HOME = ``home`` or a fresh temporary folder."""
    offline.enforce()
    if home:
        path = Path(home).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="teachbot-bench-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)  # pass --home to keep it
    os.environ["TEACHBOT_HOME"] = str(path)
    return path


def parse_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, Path]:
    """Add the options every benchmark shares (--home, --json), parse, and set up the home."""
    ap.add_argument("--home", help="TEACHBOT_HOME to use (default: a fresh temporary one)")
    ap.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = ap.parse_args(argv)
    home = setup(args.home)
    log(f"TEACHBOT_HOME={home}")
    return args, home


EMBEDDERS = ("onnx", "onnx-fp32", "torch")


def make_embedder(kind: str, paths: Any) -> Any:
    """The app's ONNX embedder (``onnx``: int8, ``onnx-fp32``) or the sentence-transformers
    reference (``torch``), for the default model, caching under ``paths``."""
    from teachbot_tui import defaults

    if kind == "torch":
        from teachbot_tui.library.embedder_torch import TorchEmbedder

        return TorchEmbedder(defaults.embedder_path(), paths.embedding_cache)
    from teachbot_tui.library.embedder import Embedder

    return Embedder(defaults.embedder_path(), paths.embedding_cache,
                    quantize="fp32" if kind == "onnx-fp32" else "int8")


MODEL_CHOICES = ("default", "bench-1b")


def add_model_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--model", default="default",
        help="default (the bundled SmolLM2-135M with its adapter), default-base (without it), "
             "bench-1b (a random-weight Llama-3.2-1B-shaped "
             "Q4_K_M model, made once by scripts/make_bench_model.py and cached: in "
             "HOME/bench-models with --home, else ~/.cache/teachbot/bench-models), or a GGUF path")


def resolve_model(args: argparse.Namespace) -> tuple[str, Path]:
    """(label, GGUF path) for ``args.model``; bench-1b is made here the first time. The
    bundled SmolLM2 is ``default`` (load it with :func:`adapter_for`'s adapter, as the app
    does) or ``default-base`` (without)."""
    choice = args.model or "default"
    if choice in ("default", "default-base"):
        from teachbot_tui import defaults

        return choice, defaults.chat_model_path()
    if choice in ("bench-1b", "bench-1b-tiny"):
        import make_bench_model

        home = Path(args.home).expanduser().resolve() if getattr(args, "home", None) else None
        path, made = make_bench_model.ensure(home, tiny=choice.endswith("-tiny"))
        log(f"bench model {'made' if made else 'cached'}: {path}")
        return choice, path
    path = Path(choice).expanduser()
    if not path.is_file():
        raise SystemExit(f"--model {choice}: not default, bench-1b or a GGUF file")
    return path.name, path


def adapter_for(label: str) -> Path | None:
    """The LoRA adapter the app loads with the model ``label`` (the shipped one for
    ``default``)."""
    from teachbot_tui import defaults

    return defaults.chat_adapter() if label == "default" else None


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def emit(result: dict[str, Any], pretty: bool = False) -> None:
    """The human summary (when not --json) goes before; the last stdout line is the JSON."""
    if pretty:
        for key, value in result.items():
            if not isinstance(value, (dict, list)):
                print(f"{key:>32}: {value}")
    print(json.dumps(result, sort_keys=False))
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cpus": os.cpu_count(), "loadavg": load, "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def pct(values: list[float], q: float) -> float:
    """Percentile q (0..100) by linear interpolation."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def r(x: float, n: int = 3) -> float:
    return round(float(x), n)


# -- teacher text --------------------------------------------------------------------------

SUBJECTS = ["maths", "reading", "science", "history", "geography", "art", "music", "PE",
            "computing", "French", "Spanish", "phonics", "writing", "drama", "RE", "design",
            "biology", "chemistry", "physics", "economics", "citizenship", "spelling",
            "grammar", "algebra", "fractions", "poetry", "statistics", "coding"]
GRADES = ["Reception", "Year 1", "Year 2", "Year 3", "Year 4", "Year 5", "Year 6", "Year 7",
          "Year 8", "Year 9", "Year 10", "Year 11", "kindergarten", "first grade",
          "third grade", "fifth grade", "seventh grade", "ninth grade", "sixth form"]
STRATEGIES = ["think-pair-share", "mini whiteboards", "exit tickets", "cold calling",
              "worked examples", "retrieval quizzes", "visual timetables", "sentence stems",
              "seating plans", "a quiet signal", "restorative conversations",
              "peer tutoring", "graphic organisers", "choral reading", "hinge questions",
              "low-stakes tests", "reward charts", "mnemonics", "jigsaw groups",
              "learning journals", "traffic-light cards", "a visualiser", "manipulatives",
              "timed challenges", "role play", "a word wall", "spaced practice",
              "dual coding", "a calm corner", "task boards", "reading buddies",
              "modelled writing", "a countdown timer", "check-in cards"]
GOALS = ["build vocabulary", "check understanding", "reduce low-level disruption",
         "support pupils with dyslexia", "stretch the most able", "settle the class quickly",
         "improve homework completion", "strengthen recall", "involve quiet students",
         "close gaps after absence", "support English learners", "keep transitions calm",
         "raise attendance", "give faster feedback", "encourage independent work",
         "develop oracy", "manage anxiety before tests", "improve handwriting",
         "build number fluency", "motivate reluctant readers", "plan differentiated tasks",
         "involve parents", "track progress", "prevent bullying", "boost confidence"]
SITUATIONS = ["after lunch", "on Friday afternoons", "during group work",
              "at the start of the lesson", "before assessments", "in mixed-ability sets",
              "with a cover teacher", "during wet play", "in the last week of term",
              "when the class is unsettled", "in a practical lesson", "on school trips",
              "with a new class", "in the computer suite", "during independent reading",
              "when a pupil refuses to work", "after a fire drill", "in a double lesson",
              "with a teaching assistant", "in the library"]
NAMES = ["Amara", "Jonah", "Priya", "Mateo", "Chloe", "Kwame", "Sofia", "Liam", "Aisha",
         "Noah", "Mei", "Oscar", "Zara", "Ethan", "Freya", "Yusuf", "Isla", "Ravi", "Leah",
         "Tomasz", "Nadia", "Callum", "Ines", "Dev"]
TEMPLATES = [
    "In {grade} {subject}, {strategy} helps {goal} {situation}.",
    "{name} found that {strategy} was the quickest way to {goal} in {grade} {subject}.",
    "When you need to {goal} {situation}, try {strategy} with your {grade} {subject} group.",
    "Our {subject} department uses {strategy} {situation} to {goal}, especially in {grade}.",
    "Teachers of {grade} {subject} should plan {strategy} to {goal}; {name} models it {situation}.",
    "A common mistake {situation} is to skip {strategy}; in {grade} {subject} it helps {goal}.",
    "To {goal}, {name}'s {grade} class practises {strategy} in {subject} {situation}.",
    "Policy note: {strategy} is expected in {subject} {situation} so that staff can {goal}.",
]
QUESTION_TEMPLATES = [
    "How can I {goal} in {grade} {subject}?",
    "What works to {goal} {situation}?",
    "Is {strategy} a good way to {goal}?",
    "How do I use {strategy} in {subject}?",
    "What should I do {situation} to {goal}?",
    "Any tips to {goal} with a {grade} class?",
]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(subject=rng.choice(SUBJECTS), grade=rng.choice(GRADES),
                           strategy=rng.choice(STRATEGIES), goal=rng.choice(GOALS),
                           situation=rng.choice(SITUATIONS), name=rng.choice(NAMES))


def teacher_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` unique sentences of teacher text."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        s = _fill(rng.choice(TEMPLATES), rng)
        out[s[0].upper() + s[1:]] = None
    return list(out)


def teacher_questions(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out[_fill(rng.choice(QUESTION_TEMPLATES), rng)] = None
    return list(out)


def teacher_document(i: int, rng: random.Random, paragraphs: int = 3) -> str:
    """A small Markdown/text document: a title, a few paragraphs of varied sentences."""
    title = f"{rng.choice(STRATEGIES).capitalize()} for {rng.choice(GRADES)} {rng.choice(SUBJECTS)}"
    parts = [f"# {title} (note {i})", ""]
    for p in range(paragraphs):
        if p and rng.random() < 0.5:
            parts += [f"## {rng.choice(GOALS).capitalize()}", ""]
        sentences = [_fill(rng.choice(TEMPLATES), rng) for _ in range(rng.randint(2, 6))]
        parts += [" ".join(s[0].upper() + s[1:] for s in sentences), ""]
    return "\n".join(parts)


# -- a large library, fast ----------------------------------------------------------------

def build_large_library(lib: Any, n_chunks: int, n_unique: int = 20000,
                        per_chunk: int = 3, noise: float = 0.005, docs_chunks: int = 20,
                        embed_all: bool = False, seed: int = 0) -> dict[str, Any]:
    """Fill an empty ``lib`` with ``n_chunks`` chunks of teacher text (a library that already
    holds ``n_chunks`` chunks, from an earlier run with the same ``--home``, is reused).

    ``n_unique`` unique sentences are embedded for real with the library's embedder (through
    its content-hash cache, so a reused ``TEACHBOT_HOME`` embeds them once). Each chunk is
    ``per_chunk`` sentences drawn from that pool (so every chunk's text is unique and FTS sees
    realistic word statistics); its vector is the normalized mean of its sentences' real
    vectors plus Gaussian noise (sd ``noise`` per dimension). With ``embed_all`` every chunk
    text is embedded for real instead (slow: ~10+ min for 100k on 2 cores).

    Rows go into SQLite in one transaction (FTS5 filled by the schema's triggers); the
    vectors go into hnswlib through ``VectorIndex`` (its ``M``/``EF_CONSTRUCTION``), built
    with every core, and the index is saved at the database's sequence number so ``Library``
    opens it without repair. Returns timings and the vectors (``"vectors"``, row i has id
    ``"ids"[i]``) for exact search.
    """
    import numpy as np

    from teachbot_tui.library import store
    from teachbot_tui.library.index import VectorIndex

    con = lib.con
    have = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if have == n_chunks:  # a --home this function filled before: reuse it
        log(f"reusing the {have} chunks already in the library")
        rows = con.execute("SELECT id, text, vector FROM chunks ORDER BY id").fetchall()
        return {"chunks": have, "reused": True,
                "vectors": np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows]),
                "ids": np.array([r[0] for r in rows], dtype=np.int64),
                "texts": [r[1] for r in rows]}
    if have:
        raise SystemExit(f"build_large_library needs an empty library (or one of {n_chunks} chunks)")
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    n_unique = min(n_unique, n_chunks * per_chunk)
    pool = teacher_sentences(n_unique, seed=seed)
    log(f"embedding {len(pool)} unique sentences ...")
    emb = lib.embedder
    pool_vecs = np.zeros((0, 0), np.float32)
    if not embed_all:
        pool_vecs = _encode_progress(emb, pool)
    t_embed = time.perf_counter() - t0

    picks = rng.integers(0, len(pool), size=(n_chunks, per_chunk))
    texts = []
    seen: set[str] = set()
    for i in range(n_chunks):
        text = " ".join(pool[j] for j in picks[i])
        while text in seen:  # unique chunk texts (search drops duplicate texts)
            picks[i] = rng.integers(0, len(pool), size=per_chunk)
            text = " ".join(pool[j] for j in picks[i])
        seen.add(text)
        texts.append(text)
    if embed_all:
        log(f"embedding all {n_chunks} chunk texts ...")
        vecs = _encode_progress(emb, texts)
        t_embed = time.perf_counter() - t0
    else:
        vecs = pool_vecs[picks].mean(axis=1)
        vecs += rng.normal(0, noise, size=vecs.shape).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)

    log(f"inserting {n_chunks} chunks into SQLite (FTS via triggers) ...")
    t1 = time.perf_counter()
    n_docs = max(1, -(-n_chunks // docs_chunks))
    doc_rows = []
    chunk_rows = []
    for d in range(n_docs):
        lo, hi = d * docs_chunks, min(n_chunks, (d + 1) * docs_chunks)
        if lo >= hi:
            break
        pieces, offsets, pos = [], [], 0
        for i in range(lo, hi):
            offsets.append((pos, pos + len(texts[i])))
            pieces.append(texts[i])
            pos += len(texts[i]) + 2
        body = "\n\n".join(pieces)
        doc_rows.append((d + 1, f"/bench/library/doc{d:06d}.md", "library", "library",
                         f"Bench document {d}", f"Bench document {d}", "md", len(body),
                         1_700_000_000_000_000_000 + d,
                         hashlib.sha256(body.encode()).hexdigest(), body))
        for o, i in enumerate(range(lo, hi)):
            chunk_rows.append((i + 1, d + 1, o, texts[i], offsets[o][0], offsets[o][1], None,
                               f"Section {o // 5}", vecs[i].tobytes()))
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(
            "INSERT INTO documents(id, path, collection, category, title, topic, format, size,"
            " mtime_ns, sha256, text) VALUES (?,?,?,?,?,?,?,?,?,?,?)", doc_rows)
        con.executemany(
            "INSERT INTO chunks(id, document_id, ord, text, start, end, page, heading, vector)"
            " VALUES (?,?,?,?,?,?,?,?,?)", chunk_rows)
        con.execute("INSERT OR IGNORE INTO roots(path, collection) VALUES (?, ?)",
                    ("/bench/library", "library"))
        seq = store.bump_seq(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    t_sql = time.perf_counter() - t1

    log(f"building the hnswlib index ({n_chunks} vectors) ...")
    t2 = time.perf_counter()
    ids = np.arange(1, n_chunks + 1, dtype=np.int64)
    index = VectorIndex(lib.dir / "vectors.hnsw", vecs.shape[1])
    index.reset(n_chunks)
    with index.lock:
        index._reserve(n_chunks)
        step = 20000
        for a in range(0, n_chunks, step):
            # every core (VectorIndex.add uses one thread: fine for an import's small batches)
            index._index.add_items(vecs[a:a + step], ids[a:a + step], num_threads=-1)
            log(f"  indexed {min(n_chunks, a + step)}/{n_chunks}")
    index.save(seq)
    t_index = time.perf_counter() - t2
    lib._index = None  # Library opens the saved index (no repair: seq matches)
    return {"chunks": n_chunks, "documents": len(doc_rows), "unique_sentences": len(pool),
            "embed_all": embed_all, "noise_sd": noise, "embed_s": r(t_embed, 1),
            "sqlite_s": r(t_sql, 1), "index_s": r(t_index, 1),
            "build_s": r(time.perf_counter() - t0, 1), "vectors": vecs, "ids": ids,
            "texts": texts}


def _encode_progress(emb: Any, texts: list[str], step: int = 2048) -> Any:
    import numpy as np

    out = []
    t0 = time.perf_counter()
    for a in range(0, len(texts), step):
        out.append(emb.encode(texts[a:a + step]))
        done = min(len(texts), a + step)
        rate = done / max(time.perf_counter() - t0, 1e-9)
        log(f"  embedded {done}/{len(texts)} ({rate:.0f}/s)")
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)
