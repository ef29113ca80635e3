"""Zip-based document formats: Word (.docx), PowerPoint (.pptx), OpenDocument text (.odt)
and EPUB. Each archive is opened through :func:`open_zip`, which applies the zip-bomb policy."""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from urllib.parse import unquote

from .core import (
    Builder,
    ParsedDocument,
    ParseError,
    clean_inline,
    local_name,
    open_zip,
    parse_xml,
    read_member,
)
from .webpage import decode_html, html_into


def parse_epub(data: bytes) -> ParsedDocument:
    archive = open_zip(data, "EPUB")
    names = set(archive.namelist())
    opf_path = None
    if "META-INF/container.xml" in names:
        container = parse_xml(read_member(archive, "META-INF/container.xml"), "container.xml")
        for el in container.iter():
            if local_name(el.tag) == "rootfile" and el.get("full-path"):
                opf_path = el.get("full-path")
                break
    if opf_path is None or opf_path not in names:
        candidates = sorted(n for n in names if n.lower().endswith(".opf"))
        if not candidates:
            raise ParseError("corrupt", "not a valid EPUB: no container.xml and no package (.opf)")
        opf_path = candidates[0]
    opf = parse_xml(read_member(archive, opf_path), opf_path)
    base = posixpath.dirname(opf_path)

    title = None
    manifest: dict[str, str] = {}
    spine: list[str] = []
    for el in opf.iter():
        tag = local_name(el.tag)
        if tag == "title" and title is None and (el.text or "").strip():
            title = el.text
        elif tag == "item" and el.get("id") and el.get("href"):
            manifest[el.get("id", "")] = el.get("href", "")
        elif tag == "itemref" and el.get("idref"):
            spine.append(el.get("idref", ""))

    builder = Builder()
    missing = 0
    for idref in spine:
        href = manifest.get(idref)
        member = (
            posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0]))) if href else ""
        )
        if member not in names:
            missing += 1
            continue
        markup, _ = decode_html(read_member(archive, member))
        builder.reset_headings()
        html_into(markup, builder)
    if not spine or missing == len(spine):
        raise ParseError("corrupt", "the EPUB's reading order points at no chapter that exists")
    meta = {"chapters": str(len(spine) - missing)}
    if missing:
        meta["missing_chapters"] = str(missing)
    return builder.build("epub", title, meta=meta, empty_detail="the book has no text")


_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _docx_heading_level(paragraph: object) -> int | None:
    """0 for Title, N for Heading N (or a style based on one), else None."""
    try:
        style = paragraph.style  # type: ignore[attr-defined]
    except Exception:
        return None
    for _ in range(6):
        if style is None:
            return None
        for name in (style.name or "", getattr(style, "style_id", "") or ""):
            if name.lower() == "title":
                return 0
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1))
        style = getattr(style, "base_style", None)
    return None


def _docx_row_text(row: object) -> str:
    cells: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:  # type: ignore[attr-defined]
        key = id(cell._tc)
        if key in seen:  # a merged cell repeats
            continue
        seen.add(key)
        text = clean_inline(cell.text)
        if text:
            cells.append(text)
    return " | ".join(cells)


def parse_docx(data: bytes) -> ParsedDocument:
    archive = open_zip(data, "Word (.docx)")
    if "word/document.xml" not in archive.namelist():
        raise ParseError("corrupt", "not a valid .docx: word/document.xml is missing")
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    builder = Builder()
    first_title = None
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            level = _docx_heading_level(item)
            if level is None:
                builder.paragraph(item.text)
            else:
                if level == 0 and first_title is None:
                    first_title = clean_inline(item.text) or None
                builder.heading(item.text, level)
        elif isinstance(item, Table):
            for row in item.rows:
                builder.paragraph(_docx_row_text(row))
    title = document.core_properties.title or first_title
    return builder.build("docx", title, empty_detail="the document has no text")


def _pptx_shapes(shapes: Iterable[object]) -> Iterator[object]:
    """Shapes in reading order (top to bottom, left to right), groups flattened."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    def key(shape: object) -> tuple[int, int]:
        return (getattr(shape, "top", None) or 0, getattr(shape, "left", None) or 0)

    pending = sorted(shapes, key=key, reverse=True)
    while pending:
        shape = pending.pop()
        if getattr(shape, "shape_type", None) == MSO_SHAPE_TYPE.GROUP:
            pending.extend(sorted(shape.shapes, key=key, reverse=True))  # type: ignore[attr-defined]
            continue
        yield shape


def parse_pptx(data: bytes) -> ParsedDocument:
    open_zip(data, "PowerPoint (.pptx)")
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    builder = Builder()
    first_title = None
    count = 0
    for number, slide in enumerate(presentation.slides, start=1):
        count = number
        title_shape = slide.shapes.title
        title = clean_inline(title_shape.text_frame.text) if title_shape is not None else ""
        if title:
            builder.heading(title, 1, page=number)
            first_title = first_title or title
        else:
            builder.reset_headings()
        for shape in _pptx_shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    builder.paragraph("".join(run.text for run in paragraph.runs), page=number)
            elif getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    cells = (clean_inline(cell.text) for cell in row.cells)
                    builder.paragraph(" | ".join(c for c in cells if c), page=number)
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            notes = [clean_inline(p.text) for p in frame.paragraphs] if frame is not None else []
            notes = [n for n in notes if n]
            if notes:
                builder.paragraph("Notes: " + notes[0], page=number)
                for note in notes[1:]:
                    builder.paragraph(note, page=number)
    title = presentation.core_properties.title or first_title
    return builder.build(
        "pptx", title, meta={"slides": str(count)}, empty_detail="the slides have no text"
    )


_ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODF_SKIP_INLINE = frozenset({"note", "annotation", "tracked-changes", "bookmark-ref"})


def _odf_inline(el: ET.Element) -> str:
    """The text of a text:p or text:h, with text:s / text:tab / line breaks as spaces."""
    parts: list[str] = []
    stack: list[ET.Element | str] = [el]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        tag = local_name(node.tag)
        if node is not el:
            if tag == "s":
                spaces = node.get(f"{{{_ODF_TEXT}}}c", "1")
                parts.append(" " * (min(int(spaces), 100) if spaces.isdigit() else 1))
            elif tag in ("tab", "line-break"):
                parts.append(" ")
        if node is el or tag not in _ODF_SKIP_INLINE:
            if node.text:
                parts.append(node.text)
            for child in reversed(list(node)):
                if child.tail:
                    stack.append(child.tail)
                stack.append(child)
        # a skipped element's tail is pushed by its parent, so it is kept
    return "".join(parts)


def parse_odt(data: bytes) -> ParsedDocument:
    archive = open_zip(data, "OpenDocument (.odt)")
    if "content.xml" not in archive.namelist():
        raise ParseError("corrupt", "not a valid .odt: content.xml is missing")
    root = parse_xml(read_member(archive, "content.xml"), "content.xml")
    title = None
    if "meta.xml" in archive.namelist():
        try:
            meta_root = ET.fromstring(read_member(archive, "meta.xml"))
            for el in meta_root.iter():
                if local_name(el.tag) == "title" and (el.text or "").strip():
                    title = el.text
                    break
        except ET.ParseError:
            pass

    builder = Builder()
    body = root.find(f".//{{{_ODF_OFFICE}}}text")
    stack: list[ET.Element] = list(reversed(list(body))) if body is not None else []
    while stack:
        el = stack.pop()
        tag = local_name(el.tag)
        if tag == "h":
            level = el.get(f"{{{_ODF_TEXT}}}outline-level", "1")
            builder.heading(_odf_inline(el), int(level) if level.isdigit() else 1)
        elif tag == "p":
            builder.paragraph(_odf_inline(el))
        elif tag == "table-row" and el.tag.startswith(f"{{{_ODF_TABLE}}}"):
            cells = []
            for cell in el:
                if local_name(cell.tag) == "table-cell":
                    cells.append(clean_inline(" ".join(_odf_inline(p) for p in cell)))
            builder.paragraph(" | ".join(c for c in cells if c))
        elif tag not in ("sequence-decls", "tracked-changes", "forms", "annotation", "note"):
            stack.extend(reversed(list(el)))
    return builder.build("odt", title, empty_detail="the document has no text")


PARSERS = {".docx": parse_docx, ".pptx": parse_pptx, ".odt": parse_odt, ".epub": parse_epub}
