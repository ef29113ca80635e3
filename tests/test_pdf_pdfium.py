"""The pypdfium2 PDF parser (the one imports use) gives what the pypdf reference parser gives:
the same blocks, pages, heading paths and title on good PDFs, the same one-line reasons on
hostile ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from teachbot_tui.library.formats import ParseError, parse_file
from teachbot_tui.library.formats.pdf import parse_pdf as pypdf_parse
from teachbot_tui.library.formats.pdfium import parse_pdf
from teachbot_tui.testing.corpus import make_good_corpus
from teachbot_tui.testing.hostile import make_hostile_corpus

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def reference(path: Path):  # type: ignore[no-untyped-def]
    """The pypdf parser's reading of a PDF file."""
    return pypdf_parse(path.read_bytes())


def _blocks(doc: object) -> list[tuple[str, int | None, str | None]]:
    return [(b.text, b.page, b.heading) for b in doc.blocks]  # type: ignore[attr-defined]


def test_good_pdf_parses_like_pypdf(tmp_path: Path) -> None:
    path = make_good_corpus(tmp_path)["fluency_pdf"]
    want = reference(path)
    got = parse_pdf(path.read_bytes())
    assert _blocks(parse_file(path)) == _blocks(got)  # imports take the PDFium parser
    assert got.title == want.title == "Reading Fluency Handout"
    assert got.meta == want.meta
    assert _blocks(got) == _blocks(want)
    assert got.text == want.text


@pytest.mark.parametrize("name", ["pdf-truncated", "pdf-garbage", "pdf-not-a-pdf",
                                  "pdf-encrypted", "pdf-owner-password-only", "pdf-no-text",
                                  "pdf-deep-nesting"])
def test_hostile_pdfs_fail_for_the_same_reason(tmp_path: Path, name: str) -> None:
    path, reason = make_hostile_corpus(tmp_path)[name]
    if name == "pdf-deep-nesting":
        # 50,000 nested arrays in the page dictionary: pypdf gives up (corrupt), PDFium
        # skips the junk key and reads the pages, which are intact (this copy has no bookmarks)
        good = make_good_corpus(tmp_path / "good")["fluency_pdf"]
        got = parse_pdf(path.read_bytes())
        assert [(b.text, b.page) for b in got.blocks] == \
            [(b.text, b.page) for b in reference(good).blocks]
        from pypdf.errors import PdfReadError

        with pytest.raises((ParseError, PdfReadError, RecursionError)):
            reference(path)  # pypdf gives up on it
        return
    if reason is None:
        doc = parse_pdf(path.read_bytes())
        assert _blocks(doc) == _blocks(reference(path))
        return
    with pytest.raises(ParseError) as info:
        parse_pdf(path.read_bytes())
    assert info.value.reason == reason
    assert "\n" not in str(info.value)


def test_tables_and_two_columns_as_the_benchmark_makes_them() -> None:
    """bench_pdf.py's pages (prose, ruled tables, two columns): every line of each page is
    found whole, in order, and on the page it was written on."""
    sys.path.insert(0, str(SCRIPTS))
    import bench_pdf

    for kind, (data, pages) in bench_pdf.make_pdfs(pages=6, per_kind=2).items():
        doc = parse_pdf(data)
        assert doc.meta["pages"] == str(len(pages)), kind
        for number, (_items, _rules, truth) in enumerate(pages, start=1):
            words = " ".join(" ".join(b.text.split()) for b in doc.blocks if b.page == number)
            pos = 0
            for line in truth:
                found = words.find(" ".join(line.split()), pos)
                assert found >= 0, (kind, number, line)
                pos = found
