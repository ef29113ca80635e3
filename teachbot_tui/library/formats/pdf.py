"""PDF through pypdf: text per page regrouped into paragraphs, bookmarks as headings. Imports
use :mod:`.pdfium` (faster, same text); this parser is the reference it is tested against."""

from __future__ import annotations

import io
import logging
import re

from .core import Builder, ParsedDocument, ParseError, clean_inline, normalize_newlines

MAX_PDF_PAGES = 10_000  # a longer PDF is refused before its page tree is walked

_PDF_BULLET = re.compile(r"^(?:[\u2022\u25cf\u25aa\u2013\u2014*-]|\d{1,3}[.)])\s")
_PDF_TITLE_NOISE = re.compile(r"^(?:Microsoft (?:Word|PowerPoint) - |untitled$)", re.I)


def _pdf_paragraphs(page_text: str) -> list[str]:
    """Regroup pypdf's lines into paragraphs: a short line ending a sentence ends a paragraph."""
    lines = [line.strip() for line in normalize_newlines(page_text).split("\n")]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    full = lengths[int(0.9 * (len(lengths) - 1))]
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current:
            ends_sentence = current[-1] in ".!?:;\u201d\"')"
            short = len(current.rsplit("\n", 1)[-1]) < 0.8 * full
            lone_title = (
                "\n" not in current
                and len(current) < 0.6 * full
                and current[-1] not in ".,;:!?-"
                and (current[0].isupper() or current[0].isdigit())
            )
            if (ends_sentence and short) or lone_title or _PDF_BULLET.match(line):
                paragraphs.append(current)
                current = line
            elif current.endswith("-") and current[-2:-1].isalpha() and line[:1].islower():
                current = current[:-1] + line  # re-join a hyphenated word
            else:
                current += "\n" + line
        else:
            current = line
    if current:
        paragraphs.append(current)
    return paragraphs


def _pdf_outline(reader: object, pages: int) -> list[tuple[int, int, str]]:
    """(page index, depth, title) for the bookmarks, in document order; [] when unreadable."""
    found: list[tuple[int, int, str]] = []
    try:
        stack: list[tuple[object, int]] = [(reader.outline, 0)]  # type: ignore[attr-defined]
        while stack and len(found) < 5000:
            node, depth = stack.pop()
            if isinstance(node, list):
                # a list is one level: a nested list holds the children of the entry before it
                for item in reversed(node):
                    stack.append((item, depth + 1 if isinstance(item, list) else depth))
                continue
            title = clean_inline(str(getattr(node, "title", "") or ""))
            page = reader.get_destination_page_number(node)  # type: ignore[attr-defined]
            if title and page is not None and 0 <= page < pages:
                found.append((page, depth, title))
    except Exception:
        return []
    return found


def parse_pdf(data: bytes) -> ParsedDocument:
    if b"%PDF-" not in data[:1024]:
        raise ParseError("corrupt", "not a PDF file (no %PDF header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except DependencyError as exc:
        raise ParseError("encrypted", f"the PDF uses encryption pypdf cannot open ({exc})") from exc
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise ParseError(
                "encrypted", "the PDF is AES-encrypted and the cryptography package is missing"
            ) from exc
        except Exception as exc:
            raise ParseError(
                "encrypted", f"the PDF's encryption could not be opened ({exc})"
            ) from exc
        if not opened:
            raise ParseError("encrypted", "the PDF is password-protected; save an unprotected copy")
    declared = _declared_pages(reader)  # read before pypdf walks the whole page tree
    if declared is not None and declared > MAX_PDF_PAGES:
        raise _too_many_pages(declared)
    try:
        pages = len(reader.pages)
    except LimitReachedError as exc:  # a page tree far larger than it says
        raise _too_many_pages(None) from exc
    if pages == 0:
        raise ParseError("corrupt", "the PDF has no pages")
    if pages > MAX_PDF_PAGES:
        raise _too_many_pages(pages)

    outline = sorted(_pdf_outline(reader, pages), key=lambda entry: entry[0])
    builder = Builder()
    failed = 0
    next_entry = 0
    for index, page in enumerate(reader.pages):
        next_entry = open_headings(builder, outline, next_entry, index)
        try:
            text = page.extract_text() or ""
        except RecursionError:
            raise
        except Exception:
            failed += 1
            continue
        for paragraph in _pdf_paragraphs(text):
            builder.paragraph(paragraph, page=index + 1)

    title = None
    try:
        raw_title = reader.metadata.title if reader.metadata else None
        if raw_title and not _PDF_TITLE_NOISE.match(str(raw_title)):
            title = str(raw_title)
    except Exception:
        title = None
    if title is None and outline:
        title = outline[0][2]
    meta = {"pages": str(pages)}
    if failed:
        meta["unreadable_pages"] = str(failed)
    return builder.build(
        "pdf", title, meta=meta, empty_detail="no extractable text (scanned images?)"
    )


def open_headings(builder: Builder, outline: list[tuple[int, int, str]], next_entry: int,
                  page: int) -> int:
    """Open the bookmarks that start on ``page`` (0-based) as the builder's heading path;
    returns the index of the first bookmark not yet used."""
    headings = []
    while next_entry < len(outline) and outline[next_entry][0] <= page:
        headings.append(outline[next_entry])
        next_entry += 1
    if headings:
        stack = list(builder.headings)
        for _, depth, text in headings:
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, text))
        builder.reset_headings(stack)
    return next_entry


def _declared_pages(reader: object) -> int | None:
    """The page count the PDF's page tree declares, or None if it cannot be read."""
    try:
        root = reader.trailer["/Root"].get_object()  # type: ignore[attr-defined]
        return int(root["/Pages"].get_object()["/Count"])
    except Exception:
        return None


def _too_many_pages(pages: int | None) -> ParseError:
    count = f"{pages} pages" if pages is not None else "a page tree too large to read"
    return ParseError("huge", f"the PDF has {count}, over the {MAX_PDF_PAGES}-page limit; "
                      "split it into parts")

