"""Files that are broken, hostile or odd in every way we know of, for the parsers and the
import.

``make_hostile_corpus(dir)`` writes them, each with the ParseError reason it must fail with,
or None where it must parse; every supported suffix also gets an empty file.
``remove_hostile_corpus(dir)`` deletes them again (some are chmod 000).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import zipfile
from pathlib import Path

from ..library.formats import SUPPORTED_SUFFIXES
from .corpus import IEP_HTML
from .documents import (
    ASSESSMENT_CHAPTERS,
    FLUENCY_PAGES,
    TRIP_ODT_BODY,
    docx_bytes,
    epub_bytes,
    odt_bytes,
    pdf_bytes,
    pdf_encrypted,
    pptx_bytes,
)

# parse_file(path, max_bytes=HOSTILE_MAX_BYTES) is how the hostile corpus is read, so that the
# "huge" files need not be 200 MB.
HOSTILE_MAX_BYTES = 1024 * 1024


def _rewrite_zip(data: bytes, drop: set[str]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            if info.filename not in drop:
                z.writestr(info, source.read(info.filename))
    return out.getvalue()


def _nested_docx(data: bytes, depth: int) -> bytes:
    """A docx whose body holds elements nested ``depth`` deep."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            member = source.read(info.filename)
            if info.filename == "word/document.xml":
                nested = b"<w:p>" + b"<a>" * depth + b"</a>" * depth + b"</w:p>"
                member = member.replace(b"<w:body>", b"<w:body>" + nested, 1)
            z.writestr(info, member)
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as member:
            zeros = b"\0" * (1 << 20)
            for _ in range(24):
                member.write(zeros)
    return out.getvalue()


def make_hostile_corpus(
    directory: Path, *, fifo: bool = False
) -> dict[str, tuple[Path, str | None]]:
    """Write hostile files; return name -> (path, expected ParseError reason or None = parses).

    Read them with ``parse_file(path, max_bytes=HOSTILE_MAX_BYTES)``. ``fifo=True`` adds a
    named pipe called pipe.txt: anything that opens it before checking it is a regular file
    blocks forever, so only code that checks first should ask for it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    good_pdf = pdf_bytes(FLUENCY_PAGES, title="Reading Fluency Handout")
    good_docx = docx_bytes()
    good_pptx = pptx_bytes()
    files: dict[str, tuple[str, bytes, str | None]] = {
        # PDF
        "pdf-truncated": ("truncated.pdf", good_pdf[:120], "corrupt"),
        "pdf-garbage": ("garbage.pdf", b"%PDF-1.7\n" + rng.randbytes(20_000), "corrupt"),
        "pdf-not-a-pdf": ("page.pdf", IEP_HTML.encode(), "corrupt"),
        "pdf-encrypted": ("locked.pdf", pdf_encrypted(good_pdf, "secret"), "encrypted"),
        "pdf-owner-password-only": ("restricted.pdf", pdf_encrypted(good_pdf, ""), None),
        "pdf-no-text": ("scan.pdf", pdf_bytes([[], []]), "empty"),
        "pdf-deep-nesting": (
            "nested.pdf",
            good_pdf.replace(
                b"/MediaBox", b"/Junk " + b"[" * 50_000 + b"]" * 50_000 + b" /MediaBox"
            ),
            None,  # PDFium skips the junk key and reads the intact pages (pypdf gives up)
        ),
        # Office and ebook zips
        "docx-random-bytes": ("random.docx", rng.randbytes(5000), "corrupt"),
        "docx-no-document-xml": (
            "hollow.docx",
            _rewrite_zip(good_docx, {"word/document.xml"}),
            "corrupt",
        ),
        "docx-is-a-pptx": ("renamed.docx", good_pptx, "corrupt"),
        "docx-zip-bomb": ("bomb.docx", _zip_bomb(), "huge"),
        "docx-deep-nesting": ("nested.docx", _nested_docx(good_docx, 5000), "corrupt"),
        "docx-no-text": ("blank.docx", docx_bytes(empty=True), "empty"),
        "pptx-truncated": ("cut.pptx", good_pptx[: len(good_pptx) // 2], "corrupt"),
        "pptx-no-text": ("blank.pptx", pptx_bytes(blank=True), "empty"),
        "epub-no-container": (
            "nocontainer.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", container=False),
            None,
        ),
        "epub-no-package": (
            "nopackage.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", container=False, opf=False),
            "corrupt",
        ),
        "epub-all-spine-missing": (
            "hollow.epub",
            epub_bytes(
                ASSESSMENT_CHAPTERS,
                "Book",
                missing=frozenset({"chapter1.xhtml", "chapter2.xhtml"}),
            ),
            "corrupt",
        ),
        "epub-one-spine-missing": (
            "partial.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", missing=frozenset({"chapter1.xhtml"})),
            None,
        ),
        "odt-no-content": ("nocontent.odt", odt_bytes(None, "Title"), "corrupt"),
        "odt-bad-xml": ("badxml.odt", odt_bytes(TRIP_ODT_BODY, bad_xml=True), "corrupt"),
        "odt-random-bytes": ("random.odt", rng.randbytes(3000), "corrupt"),
        # text that is not text
        "txt-elf": ("program.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "binary"),
        "md-png": ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
        "txt-zip": ("archive.txt", good_docx, "binary"),
        "txt-mostly-nul": ("nuls.txt", b"abc" + b"\x00" * 4000 + b"def", "binary"),
        "txt-invalid-utf8-soup": (
            "soup.txt",
            bytes(
                rng.choice([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC0, 0xC1, 0xF5, 0xFF, 0x98])
                for _ in range(4000)
            ),
            "undecodable",
        ),
        "txt-huge": ("huge.txt", b"All work and no play. " * 60_000, "huge"),
        # odd but fine
        "txt-few-nuls": (
            "nulls.txt",
            b"Seating plan\x00 for Year 4.\n\nPut the\x00 quiet table by the window.\x00\n",
            None,
        ),
        "txt-utf16-no-bom": ("nobom.txt", "Register is taken at 8:50.\n".encode("utf-16-le"), None),
        "txt-markup-and-escapes": (
            "escapes.txt",
            (
                b"[bold red]Warning[/] read this [link=http://x]now[/link]\n\n"
                b"Colours \x1b[31mred\x1b[0m and a \x1b]8;;http://evil.example\x07click here"
                b"\x1b]8;;\x07 link.\n\nBell\x07 and backspace\x08 and form\x0cfeed.\n"
            ),
            None,
        ),
        "txt-one-giant-word": ("giant.txt", b"x" * 300_000, None),
        "md-yaml-bomb": (
            "bomb.md",
            (
                b"---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                b"title: Still fine\n---\n# Heading\n\nBody text survives.\n"
            ),
            None,
        ),
        "md-yaml-deep-nesting": (
            "deepyaml.md",
            b"---\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n# Title\n\nBody.\n",
            None,
        ),
        "md-front-matter-only": ("fm.md", b"---\ntitle: Nothing else\n---\n\n", "empty"),
        "md-unclosed-front-matter": ("open.md", b"---\ntitle: x\n\nJust text here.\n", None),
        "html-scripts-only": (
            "scripts.html",
            b"<html><head><script>alert(1)</script></head><body><script>x()</script>"
            b"<style>p{}</style><nav>Menu</nav></body></html>",
            "empty",
        ),
        "html-deep-nesting": (
            "deep.html",
            b"<html><body>" + b"<div>" * 30_000 + b"Deep text" + b"</div>" * 30_000 + b"</body>",
            None,
        ),
        "html-charset-lie": (
            "lie.html",
            '<meta charset="utf-8"><p>Caf\u00e9 \u2013 \u201cquoted\u201d</p>'.encode("cp1252"),
            None,
        ),
        "csv-giant-field": ("wide.csv", b'a,b\n"' + b"y " * 100_000 + b'",z\n', None),
        "rtf-not-rtf": ("fake.rtf", b"This is just text pretending.", "corrupt"),
        "txt-whitespace-only": ("blank.txt", b"  \n\t\r\n   \n", "empty"),
        "txt-controls-only": ("controls.txt", b"\x01\x02\x03\x04\x05\x06" * 100, "binary"),
        "unsupported-suffix": ("notes.xyz", b"hello", "unsupported"),
        "unsupported-doc": (
            "legacy.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            "unsupported",
        ),
    }
    for suffix in sorted(SUPPORTED_SUFFIXES):
        files[f"zero-byte{suffix}"] = (f"zero{suffix}", b"", "empty")

    result: dict[str, tuple[Path, str | None]] = {}
    for key, (name, data, reason) in files.items():
        path = directory / name
        path.write_bytes(data)
        result[key] = (path, reason)

    folder = directory / "folder.md"
    folder.mkdir(exist_ok=True)
    result["directory"] = (folder, "unreadable")  # parse_file refuses it; an import walks it

    loop_a, loop_b = directory / "loop-a.txt", directory / "loop-b.txt"
    for link, target in ((loop_a, loop_b), (loop_b, loop_a)):
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target.name)
    result["symlink-loop"] = (loop_a, "symlink-loop")

    dangling = directory / "dangling.md"
    if dangling.is_symlink():
        dangling.unlink()
    dangling.symlink_to("no-such-file.md")
    result["dangling-symlink"] = (dangling, "vanished")
    result["nonexistent"] = (directory / "never-existed.pdf", "vanished")

    pipe = directory / "pipe.txt"
    if fifo and hasattr(os, "mkfifo"):
        if not pipe.exists():
            os.mkfifo(pipe)
        result["fifo"] = (pipe, "unreadable")

    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads through chmod 000
        locked = directory / "locked.txt"
        locked.write_text("You cannot read me.")
        locked.chmod(0)
        result["unreadable"] = (locked, "unreadable")
    return result


def remove_hostile_corpus(directory: Path) -> None:
    """Delete a hostile corpus, first undoing chmod 000 so nothing is left behind."""
    if not directory.exists():
        return
    for path in directory.iterdir():
        if not path.is_symlink() and path.is_file():
            path.chmod(0o644)
    shutil.rmtree(directory, ignore_errors=True)
