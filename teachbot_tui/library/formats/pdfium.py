"""PDF parsing with pypdfium2 (PDFium, Apache-2.0/BSD), the parser imports use: the same result
as the pypdf parser in :mod:`.pdf` (pages, bookmarks as heading paths, the title, paragraphs
regrouped from lines), 3-8x faster on the PDFs of scripts/bench_pdf.py with the same extracted
text (docs/benchmarks.md). The pypdf parser stays as the reference it is tested against.

:func:`parse_pdf` takes the file's bytes and returns a ``ParsedDocument`` or raises
``ParseError`` (``corrupt``, ``encrypted``, ``empty``, ``huge``), as :func:`.pdf.parse_pdf` does.
PDFium is not thread-safe: every call into it holds one lock.
"""

from __future__ import annotations

import re
import threading

from .core import Builder as _Builder
from .core import ParsedDocument, ParseError, clean_inline
from .pdf import (
    _PDF_TITLE_NOISE,
    MAX_PDF_PAGES,
    _pdf_paragraphs,
    _too_many_pages,
    open_headings,
)

_LOCK = threading.Lock()
MAX_OUTLINE = 5000
# PDFium marks a soft hyphen it broke a line at as U+0002 (or U+FFFE); other C0 controls
# and the noncharacter are dropped
_SOFT_HYPHEN = re.compile("[\x02\ufffe]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufeff\uffff]")


def _page_text(pdf: object, index: int) -> str:
    page = pdf[index]  # type: ignore[index]
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()
    text = _SOFT_HYPHEN.sub("-", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROLS.sub("", text)


def _outline(pdf: object, pages: int) -> list[tuple[int, int, str]]:
    """(page index, depth, title) of the bookmarks in document order; [] when unreadable."""
    found: list[tuple[int, int, str]] = []
    try:
        for item in pdf.get_toc(max_depth=15):  # type: ignore[attr-defined]
            title = clean_inline(str(item.get_title() or ""))
            dest = item.get_dest()
            page = dest.get_index() if dest is not None else None
            if title and page is not None and 0 <= page < pages:
                found.append((page, item.level, title))
            if len(found) >= MAX_OUTLINE:
                break
    except Exception:
        return []
    return found


def parse_pdf(data: bytes) -> ParsedDocument:
    if b"%PDF-" not in data[:1024]:
        raise ParseError("corrupt", "not a PDF file (no %PDF header)")
    import pypdfium2 as pdfium

    with _LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ParseError(
                    "encrypted", "the PDF is password-protected; save an unprotected copy"
                ) from None
            raise ParseError("corrupt", f"PDFium cannot open it ({exc})") from None
        try:
            pages = len(pdf)
            if pages == 0:
                raise ParseError("corrupt", "the PDF has no pages")
            if pages > MAX_PDF_PAGES:
                raise _too_many_pages(pages)
            outline = sorted(_outline(pdf, pages), key=lambda entry: entry[0])
            builder = _Builder()
            failed = 0
            next_entry = 0
            for index in range(pages):
                next_entry = open_headings(builder, outline, next_entry, index)
                try:
                    text = _page_text(pdf, index)
                except pdfium.PdfiumError:
                    failed += 1
                    continue
                for paragraph in _pdf_paragraphs(text):
                    builder.paragraph(paragraph, page=index + 1)
            title = None
            try:
                raw_title = pdf.get_metadata_dict().get("Title")
                if raw_title and not _PDF_TITLE_NOISE.match(str(raw_title)):
                    title = str(raw_title)
            except Exception:
                title = None
        finally:
            pdf.close()
    if title is None and outline:
        title = outline[0][2]
    meta = {"pages": str(pages)}
    if failed:
        meta["unreadable_pages"] = str(failed)
    return builder.build(
        "pdf", title, meta=meta, empty_detail="no extractable text (scanned images?)"
    )


PARSERS = {".pdf": parse_pdf}
