"""Document vectors and per-document search, for real: MiniLM, hnswlib and SQLite on small
real files. The document vector must stay in step with the document's passages through
import, re-import, move, re-embed, removal, an import killed half-way, and the migration of
a library made before document vectors."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from teachbot_tui import config
from teachbot_tui.library import Library
from teachbot_tui.library.store import WriterLock
from teachbot_tui.paths import Paths

from .conftest import VENV_BIN, cli_env, run_cli
from .library_checks import check_consistency, documents_committed, make_many

PLANS = {
    "plan-a.md": ("# Unit plan 1\n\n## Who this is for\n\nSeven-year-olds in Year 2; tasks are "
                  "short with movement breaks.\n\n## What we cover\n\nFractions: halves, quarters "
                  "and eighths of paper strips.\n\n## How the lessons run\n\nTeams of four "
                  "investigate together.\n\n## Checking learning\n\nAn exit slip at the end of "
                  "each lesson.\n"),
    "plan-b.md": ("# Unit plan 2\n\n## Who this is for\n\nA Year 10 GCSE class preparing for "
                  "exams.\n\n## What we cover\n\nWar poetry from the trenches.\n\n## How the "
                  "lessons run\n\nThe teacher models each step with worked examples.\n\n## "
                  "Checking learning\n\nA forty-minute written test at the end.\n"),
    "plan-c.md": ("# Unit plan 3\n\n## Who this is for\n\nPupils new to English.\n\n## What we "
                  "cover\n\nPhotosynthesis: light, water and carbon dioxide make sugar.\n\n## How "
                  "the lessons run\n\nLessons outside in the school grounds.\n\n## Checking "
                  "learning\n\nEach pupil gives a three-minute talk.\n"),
}

# everyday planning text every plan has, so that each plan is several passages long (the
# document signal leaves one-passage documents to their passage's own rank)
ROUTINE = ("\n## Resources and timing\n\n" + " ".join(
    f"In week {w} the trays at the back of the room are checked, printed sheets are prepared "
    f"on Friday, and the lesson runs for fifty minutes with five minutes to pack away."
    for w in range(1, 9)) + "\n\n## Homework and home\n\n" + " ".join(
    f"Homework {w} practises what was taught that week and takes about thirty minutes; "
    f"families get a letter about it at the start of the term."
    for w in range(1, 9)) + "\n")


@pytest.fixture
def library(home: Path, embedder: object) -> Library:
    lib = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
    yield lib
    lib.close()


def write_plans(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, text in PLANS.items():
        (folder / name).write_text(text + ROUTINE)
        out[name] = folder / name
    return out


def doc_vector(lib: Library, path: Path) -> tuple[int, np.ndarray]:
    row = lib.con.execute(
        "SELECT d.id, v.vector FROM documents d JOIN document_vectors v ON v.document_id=d.id "
        "WHERE d.path=?", (str(path.absolute()),)).fetchone()
    assert row is not None, f"{path} has no document vector"
    return row[0], np.frombuffer(row[1], dtype=np.float32)


def test_document_vector_follows_import_edit_move_reembed_and_removal(
        library: Library, tmp_path: Path) -> None:
    plans = write_plans(tmp_path / "docs")
    library.import_paths([tmp_path / "docs"])
    check_consistency(library)
    assert all(d.chunks >= 2 for d in library.documents())
    doc_a, vec_a = doc_vector(library, plans["plan-a.md"])
    # the mean of its passages, and the nearest document to itself
    assert library.document_index.query(vec_a, 1)[0][0] == doc_a

    # re-import of an edited file: same document, new passages, new vector
    plans["plan-a.md"].write_text(PLANS["plan-a.md"].replace("Fractions", "Volcanoes") + ROUTINE)
    assert library.import_paths([tmp_path / "docs"]).updated == 1
    check_consistency(library)
    doc_a2, vec_a2 = doc_vector(library, plans["plan-a.md"])
    assert doc_a2 == doc_a and not np.allclose(vec_a, vec_a2)

    # a move keeps the document, its passages and its vector
    _doc_b, vec_b = doc_vector(library, plans["plan-b.md"])
    moved = tmp_path / "docs" / "english" / "plan-b.md"
    moved.parent.mkdir()
    shutil.move(plans["plan-b.md"], moved)
    assert library.import_paths([tmp_path / "docs"]).moved == 1
    check_consistency(library)
    assert np.array_equal(doc_vector(library, moved)[1], vec_b)

    # a re-embed remakes every document vector from the new passage vectors
    library.con.execute("UPDATE document_vectors SET vector=?",
                        (np.ones(library.embedder.dim, np.float32).tobytes(),))
    assert library.reembed() == library.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    check_consistency(library)
    assert np.allclose(doc_vector(library, moved)[1], vec_b, atol=1e-5)

    # removal takes the vector and the index label with it
    doc_c, _ = doc_vector(library, plans["plan-c.md"])
    library.remove_document(plans["plan-c.md"])
    check_consistency(library)
    assert doc_c not in {d for d, _ in library.document_index.query(vec_b, 5)}

    # a second process opening the library sees the same, from the saved index
    other = Library(Paths.from_env(), config.load(), embedder=library.embedder)
    try:
        check_consistency(other)
        assert other.document_index.seq == library.document_index.seq
    finally:
        other.close()


def test_import_killed_half_way_leaves_document_vectors_consistent(
        home: Path, tmp_path: Path, embedder: object) -> None:
    docs = tmp_path / "many"
    make_many(docs, 60)
    db_path = Paths.from_env().library_dir / "library.db"
    proc = subprocess.Popen([str(VENV_BIN / "teachbot"), "import", str(docs), "--json"],
                            env=cli_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600  # only catches a hang
    while documents_committed(db_path) < 20:
        assert proc.poll() is None, "import ended before the kill"
        assert time.monotonic() < deadline, "import hung"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lib = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
    try:
        check_consistency(lib)  # repaired from SQLite: both indexes match the committed rows
        report = lib.import_paths([docs])
        assert report.failed == [] and len(lib.documents()) == 60
        check_consistency(lib)
    finally:
        lib.close()


def _make_old_library(lib: Library) -> None:
    """Turn ``lib``'s database into one made before document vectors (schema version 1)."""
    lib.close()
    con = sqlite3.connect(lib.dir / "library.db")
    con.execute("DROP TABLE document_vectors")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    for name in ("documents.hnsw", "documents.json"):
        (lib.dir / name).unlink()


def test_a_library_from_before_document_vectors_is_migrated(home: Path, tmp_path: Path,
                                                            embedder: object) -> None:
    plans = write_plans(tmp_path / "docs")
    lib = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
    lib.import_paths([tmp_path / "docs"])
    before = {p: doc_vector(lib, p)[1] for p in plans.values()}
    _make_old_library(lib)

    # another process is importing: search works, the vectors are made in memory only
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from teachbot_tui.library.store import WriterLock; "
         "WriterLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(60)",
         str(lib.dir / "write.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        busy = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
        try:
            docs = busy.search_documents("war poetry for an exam class", k=3)
            assert Path(docs[0].path).name == "plan-b.md"
            assert busy.con.execute("SELECT COUNT(*) FROM document_vectors").fetchone()[0] == 0
            assert busy.document_index.live == 3
        finally:
            holder.kill()
            holder.wait()
        # once this process writes, the vectors it made in memory are stored
        assert busy.import_paths([tmp_path / "docs"]).unchanged == 3
        check_consistency(busy)
        assert busy.con.execute("SELECT COUNT(*) FROM document_vectors").fetchone()[0] == 3
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    _make_old_library(busy)

    # the writer lock is free: opening stores every document's vector from its passages
    again = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
    try:
        assert again.con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert Path(again.search_documents("war poetry for an exam class", k=3)[0].path).name \
            == "plan-b.md"
        check_consistency(again)
        for path, vec in before.items():
            assert np.allclose(doc_vector(again, path)[1], vec, atol=1e-5)
        # and the next import keeps them in step
        plans["plan-c.md"].write_text(PLANS["plan-c.md"] + ROUTINE + "\nA glossary grows.\n")
        assert again.import_paths([tmp_path / "docs"]).updated == 1
        check_consistency(again)
    finally:
        again.close()
    with WriterLock(again.dir / "write.lock"):
        pass


def test_search_documents_gives_k_distinct_documents_with_their_best_passages(
        library: Library, tmp_path: Path) -> None:
    write_plans(tmp_path / "docs")
    make_many(tmp_path / "docs" / "notes", 12)
    library.import_paths([tmp_path / "docs"])
    docs = library.search_documents(
        "a unit where young children learn about fractions in small teams, checked with a slip "
        "at the end of each lesson", k=5, passages=2)
    assert len(docs) == 5 and len({d.document_id for d in docs}) == 5
    assert Path(docs[0].path).name == "plan-a.md" and docs[0].title == "Unit plan 1"
    for d in docs:
        assert 1 <= len(d.hits) <= 2
        assert all(h.document_id == d.document_id for h in d.hits)
        assert d.score == max(h.score for h in d.hits)
        assert d.fused == d.hits[0].fused >= max(h.fused for h in d.hits)
    assert [d.fused for d in docs] == sorted((d.fused for d in docs), reverse=True)
    # the passage search the chat uses keeps its per-document cap
    hits = library.search("fractions phonics poetry lesson note", k=10)
    per_doc: dict[int, int] = {}
    for h in hits:
        per_doc[h.document_id] = per_doc.get(h.document_id, 0) + 1
    assert max(per_doc.values()) <= 4
    # a collection and a threshold apply to documents too
    assert library.search_documents("fractions", k=5, collection="nothing") == []
    assert all(h.score >= 0.3 for d in library.search_documents("fractions", k=5, threshold=0.3)
               for h in d.hits)


def test_document_signal_lifts_the_document_that_matches_as_a_whole(
        library: Library, tmp_path: Path) -> None:
    from teachbot_tui.library import search as searching

    # 20 unit plans of the whole-document evaluation set: every facet of a plan (subject,
    # teaching, checking, pupils) recurs in other plans, only the whole plan has all four
    data = Path(__file__).resolve().parents[1] / "scripts" / "data" / "beir-wholedoc"
    plans = [json.loads(line) for line in (data / "corpus.jsonl").read_text().splitlines()][:20]
    folder = tmp_path / "plans"
    folder.mkdir()
    for plan in plans:
        (folder / f"{plan['_id']}.txt").write_text(f"{plan['title']}\n\n{plan['text']}\n")
    library.import_paths([folder])
    queries = {q["_id"]: q["text"] for q in map(json.loads,
                                                 (data / "queries.jsonl").read_text().splitlines())}

    def ranked(qid: str) -> list[str]:
        return [Path(d.path).stem for d in library.search_documents(queries[qid], k=5)]

    on = {qid: ranked(qid) for qid in ("q007", "q014")}
    saved = searching.DOCUMENT_WEIGHT
    searching.DOCUMENT_WEIGHT = 0.0
    try:
        off = {qid: ranked(qid) for qid in ("q007", "q014")}
    finally:
        searching.DOCUMENT_WEIGHT = saved
    # passages alone put plan 7 fifth; as a whole it is among the nearest documents
    assert off["q007"].index("plan-007") == 4 and on["q007"].index("plan-007") <= 1
    # plan 14 is the nearest document; passages alone put another plan first
    assert off["q014"][0] != "plan-014" and on["q014"][0] == "plan-014"


def test_document_signal_gives_a_broad_document_no_more_than_a_passage(
        library: Library, tmp_path: Path) -> None:
    from teachbot_tui.library import search as searching

    # the fixture set: one-passage notes and a long, broad handbook whose mean vector is near
    # many questions (third nearest document here, far below the homework note)
    data = Path(__file__).resolve().parents[1] / "scripts" / "data" / "beir-fixtures"
    folder = tmp_path / "fixtures"
    folder.mkdir()
    for line in (data / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    library.import_paths([folder])
    query = "How much homework should a ten-year-old get each night?"
    names = ("DOCUMENT_WEIGHT", "DOCUMENT_SPAN")
    saved = [getattr(searching, n) for n in names]

    def ranked(weight: float, span: float) -> list[tuple[str, float]]:
        searching.DOCUMENT_WEIGHT, searching.DOCUMENT_SPAN = weight, span
        return [(Path(d.path).stem, d.fused)
                for d in library.search_documents(query, k=4, threshold=None)]

    try:
        plain = dict(ranked(1.0, saved[1]))
        heavy = ranked(2.0, saved[1])
        unlimited = ranked(2.0, 10.0)
    finally:
        for n, v in zip(names, saved, strict=True):
            setattr(searching, n, v)
    assert "handbook" in plain and next(iter(plain)) == "homework_txt"
    # far below the nearest document, the handbook's extra weight is gone: nothing moves
    assert heavy[0][0] == "homework_txt" and dict(heavy) == plain
    # without that limit a heavier document rank would put it first
    assert unlimited[0][0] == "handbook"
    # the one-passage note keeps its own place whatever the weight
    assert dict(unlimited)["homework_txt"] == plain["homework_txt"]


def test_cli_search_per_document(home: Path, tmp_path: Path) -> None:
    write_plans(tmp_path / "docs")
    run_cli(home, "import", str(tmp_path / "docs"), check=True)
    out = run_cli(home, "search", "war poetry for a GCSE class", "--per-document", "--k", "2",
                  "--json", check=True)
    result = json.loads(out.stdout)
    assert [Path(d["path"]).name for d in result["documents"]][0] == "plan-b.md"
    assert len(result["documents"]) == 2
    for d in result["documents"]:
        assert set(d) == {"path", "title", "collection", "score", "passages"}
        assert 1 <= len(d["passages"]) <= 3
        assert all(set(p) == {"path", "page", "heading", "chunk_id", "score", "text"}
                   for p in d["passages"])
    text = run_cli(home, "search", "war poetry for a GCSE class", "--per-document", "--k", "2",
                   check=True).stdout
    lines = text.splitlines()
    assert lines[0].startswith("[1] ") and "plan-b.md — Unit plan 2" in lines[0]
    assert lines[1].startswith("    0.") and sum(line.startswith("[") for line in lines) == 2
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"_id": "a", "text": "photosynthesis outside"}\n'
                       '{"_id": "b", "text": "fractions for seven-year-olds"}\n')
    batch = run_cli(home, "search", "--queries", str(queries), "--per-document", "--k", "3",
                    check=True).stdout.splitlines()
    rows = [json.loads(line) for line in batch]
    assert [r["_id"] for r in rows] == ["a", "b"]
    assert Path(rows[0]["documents"][0]["path"]).name == "plan-c.md"
    assert Path(rows[1]["documents"][0]["path"]).name == "plan-a.md"
    assert all(len({d["path"] for d in r["documents"]}) == 3 for r in rows)
    # without the flag, passages as before
    plain = json.loads(run_cli(home, "search", "war poetry", "--json", check=True).stdout)
    assert "hits" in plain and "documents" not in plain
