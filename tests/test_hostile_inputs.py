"""Huge and hostile files are refused with one line each, without being read whole, and the
rest of the folder is imported: a 3 GB sparse file, zip bombs dressed as .docx (honest and
lying about their sizes), a PDF that claims a million pages, a folder link that leads outside
the imported folder, and a file rewritten while the import reads it."""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from teachbot_tui import config
from teachbot_tui.library import Library
from teachbot_tui.library import formats as formats_pkg
from teachbot_tui.paths import Paths

from .library_checks import check_consistency


def million_page_pdf() -> bytes:
    """A small PDF whose page tree holds a million pages (1,000 nodes of 1,000 kids)."""
    mids = range(4, 1004)
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Count 1000000 /Kids ["
            + b" ".join(b"%d 0 R" % m for m in mids) + b"] >>"),
        (3, b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] >>"),
    ]
    kids = b" ".join([b"3 0 R"] * 1000)
    objects += [(m, b"<< /Type /Pages /Parent 2 0 R /Count 1000 /Kids [" + kids + b"] >>")
                for m in mids]
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number, body in objects:
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref, size = len(out), max(offsets) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[i] for i in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def zip_bomb_docx(path: Path, lie: bool) -> None:
    """A .docx whose document.xml unpacks from a few dozen KB to 64 MB. With ``lie`` its
    headers claim 1,000 bytes, so only reading it (not its directory) can find out."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b"\0" * (64 << 20))
    if not lie:
        return
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", (64 << 20) + len(b"<w:document>"))
    small = struct.pack("<I", 1000)
    # the uncompressed size sits in the local header and in the central directory entry
    assert data.count(real) == 2
    path.write_bytes(bytes(data).replace(real, small))


@pytest.fixture
def library(home: Path, embedder: object) -> Library:
    lib = Library(Paths.from_env(), config.load(), embedder=embedder)  # type: ignore[arg-type]
    yield lib
    lib.close()


def test_huge_and_hostile_files_are_refused_and_the_rest_imported(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    docs.mkdir()
    outside.mkdir()
    (docs / "trips.md").write_text("# Trips\n\nConsent forms go home two weeks before a trip.")
    with (docs / "sparse.txt").open("wb") as fh:
        fh.truncate(3 << 30)  # 3 GB of nothing on disk
    zip_bomb_docx(docs / "bomb.docx", lie=False)
    zip_bomb_docx(docs / "liar.docx", lie=True)
    (docs / "pages.pdf").write_bytes(million_page_pdf())
    (outside / "secret.md").write_text("# Payroll\n\nThe head's salary spreadsheet notes.")
    (docs / "shortcut").symlink_to(outside, target_is_directory=True)

    read: list[str] = []
    real_read = formats_pkg.read_file

    def spy(path: Path, max_bytes: int = formats_pkg.MAX_FILE_BYTES) -> bytes:
        read.append(Path(path).name)
        return real_read(path, max_bytes)

    monkeypatch.setattr(formats_pkg, "read_file", spy)
    t0 = time.perf_counter()
    report = library.import_paths([docs])
    print(f"import of the hostile folder: {time.perf_counter() - t0:.2f} s")

    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert sorted(failed) == ["bomb.docx", "liar.docx", "pages.pdf", "shortcut", "sparse.txt"]
    assert failed["sparse.txt"].startswith("huge: 3072 MB is over the")
    assert "sparse.txt" not in read  # refused from its size alone
    assert failed["bomb.docx"].startswith("huge: ")
    assert failed["liar.docx"].startswith("corrupt: ")  # the read stops at the claimed size
    assert failed["pages.pdf"].startswith("huge: the PDF has 1000000 pages")
    assert failed["shortcut"].startswith("symlink-outside: ")
    assert all("\n" not in reason for reason in failed.values())
    assert [Path(d.path).name for d in library.documents()] == ["trips.md"]
    assert library.search("salary spreadsheet", mode="keyword") == []
    assert [Path(h.path).name for h in library.search("consent forms", mode="keyword")] == \
        ["trips.md"]
    check_consistency(library)


def test_a_file_rewritten_during_the_import_is_reported_not_stored_half_old(
        library: Library, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):  # the import reads these before it reaches the moving file
        (docs / f"a-{i:02d}.md").write_text(f"# Note {i}\n\nRoom B{i} has the art supplies.")
    moving = docs / "z-moving.md"
    moving.write_text("# Draft\n\nversion 000000")
    stop = threading.Event()

    def rewrite() -> None:
        # rewritten in place at the same size, each time with a new mtime (set explicitly:
        # the file system's clock is coarser than these writes)
        n = 0
        with moving.open("r+b") as fh:
            while not stop.is_set():
                n += 1
                fh.seek(len("# Draft\n\nversion "))
                fh.write(f"{n % 1_000_000:06d}".encode())
                fh.flush()
                os.utime(moving, ns=(n * 1_000_000_000, n * 1_000_000_000))
                time.sleep(0)  # hand the GIL over: the import runs between two rewrites

    # the import's thread hands the GIL over at least every 0.1 ms (Python's default is 5 ms,
    # longer than reading the 30 notes on a fast machine), so the file always changes between
    # the import's first look at it and its read
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        report = library.import_paths([docs])
    finally:
        stop.set()
        writer.join()
        sys.setswitchinterval(interval)
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert list(failed) == ["z-moving.md"]
    assert failed["z-moving.md"].startswith("changed: ")
    assert len(library.documents()) == 30
    # once the file is saved for good, the next import takes it
    again = library.import_paths([docs])
    assert again.failed == [] and again.added == 1
    check_consistency(library)
