"""Checks and builders shared by the library tests."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np

from teachbot_tui.library import Library


def check_consistency(lib: Library) -> None:
    """Live vectors and chunk rows correspond 1:1; FTS matches; no duplicate documents; every
    document with passages has a document vector, the mean of its passages' vectors, and
    the document index holds exactly those."""
    con = lib.con
    chunk_ids = {r[0] for r in con.execute("SELECT id FROM chunks")}
    index = lib.index
    assert index.live == len(chunk_ids)
    if chunk_ids:
        sample = sorted(chunk_ids)
        for cid in sample[:: max(1, len(sample) // 25)]:
            vec = np.frombuffer(
                con.execute("SELECT vector FROM chunks WHERE id=?", (cid,)).fetchone()[0],
                dtype=np.float32)
            assert cid in {c for c, _ in index.query(vec, 5)}
    fts = con.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
    assert fts == len(chunk_ids)
    paths = [r[0] for r in con.execute("SELECT path FROM documents")]
    assert len(paths) == len(set(paths))
    dup = con.execute(
        "SELECT document_id, text, COUNT(*) FROM chunks GROUP BY document_id, text "
        "HAVING COUNT(*) > 1").fetchall()
    assert dup == []
    check_document_vectors(lib)


def check_document_vectors(lib: Library) -> None:
    from teachbot_tui.library.documents import mean_vector

    con = lib.con
    with_chunks = {r[0] for r in con.execute("SELECT DISTINCT document_id FROM chunks")}
    stored = {r[0]: np.frombuffer(r[1], dtype=np.float32)
              for r in con.execute("SELECT document_id, vector FROM document_vectors")}
    assert set(stored) == with_chunks
    index = lib.document_index
    assert index.live == len(stored) and index.labels() >= set(stored)
    for doc_id, vec in stored.items():
        chunks = np.stack([np.frombuffer(r[0], dtype=np.float32) for r in con.execute(
            "SELECT vector FROM chunks WHERE document_id=?", (doc_id,))])
        assert np.allclose(vec, mean_vector(chunks), atol=1e-5)
        assert doc_id in {d for d, _ in index.query(vec, 3)}


def make_many(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    topics = ["phonics", "fractions", "photosynthesis", "volcanoes", "poetry", "recorders",
              "netball", "river deltas", "the Tudors", "coding loops"]
    for i in range(n):
        t = topics[i % len(topics)]
        paras = [f"Lesson note {i} about {t}."] + [
            " ".join(rng.choice(["Pupils", "Groups", "The class", "We"]) + " " +
                     rng.choice(["practised", "discussed", "drew", "measured", "wrote about"]) +
                     f" {t} in step {k}." for k in range(rng.randint(3, 8)))
            for _ in range(rng.randint(2, 6))]
        (folder / f"note-{i:03d}.md").write_text(f"# Note {i}: {t}\n\n" + "\n\n".join(paras))


def documents_committed(db_path: Path) -> int:
    """Documents an import running in another process has committed so far."""
    if not db_path.exists():
        return 0
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(con.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0
    finally:
        con.close()
