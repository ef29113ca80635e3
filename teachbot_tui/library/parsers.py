"""Turn a teacher's file into plain text split into structural blocks.

``parse_file`` reads one file and returns a :class:`ParsedDocument`: the full text (blocks joined
by a blank line) plus the blocks in reading order, each with its character offsets, page or slide
number and heading path. Every way a file can be bad ends in one :class:`ParseError` whose
``reason`` is a short machine word and whose message is one line a teacher can act on; no
library exception, recursion error or zip bomb escapes.

The formats are a table (``_FORMATS``): suffix to format name and parser. Each parser takes the
file's bytes and fills a :class:`_Builder`, which keeps the offsets and the heading path right.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import logging
import os
import posixpath
import re
import stat
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

MAX_FILE_BYTES = 200 * 1024 * 1024

# A zip (docx, pptx, epub, odt) may unpack to at most this many times max_bytes, and no single
# member may be a large, absurdly compressed blob: both are the shape of a zip bomb.
ZIP_EXPANSION_FACTOR = 4
ZIP_BOMB_MEMBER_BYTES = 16 * 1024 * 1024
ZIP_BOMB_RATIO = 100

# The unpack limit for zips follows the caller's max_bytes; a ContextVar carries it down to
# _open_zip without threading it through every parser.
_ZIP_LIMIT: ContextVar[int] = ContextVar(
    "_ZIP_LIMIT", default=ZIP_EXPANSION_FACTOR * MAX_FILE_BYTES
)

REASONS = frozenset(
    {
        "corrupt",
        "encrypted",
        "empty",
        "binary",
        "huge",
        "undecodable",
        "unreadable",
        "vanished",
        "symlink-loop",
        "unsupported",
    }
)


class ParseError(Exception):
    """A file that cannot be turned into text; ``str(exc)`` is ``"reason: detail"`` on one line."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown parse-error reason {reason!r}")
        self.reason = reason
        self.detail = _one_line(detail)
        super().__init__(f"{reason}: {self.detail}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str]]:
        return (ParseError, (self.reason, self.detail))


@dataclass
class Block:
    """A structural unit in reading order: heading, paragraph, list item, table row, slide text."""

    text: str
    start: int
    end: int
    page: int | None
    heading: str
    is_heading: bool = False


@dataclass
class ParsedDocument:
    text: str
    blocks: list[Block]
    title: str | None
    topic: str | None
    meta: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Text cleaning


# Terminal escape sequences (CSI, OSC, other ESC-introduced) are removed whole, so that
# "\x1b]8;;http://evil\x07" leaves no half-sequence behind; then stray control characters go.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 controls except \t and \n, DEL, C1 controls, BOM / zero-width no-break space, surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _strip_controls(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


def clean_inline(text: str) -> str:
    """One paragraph's text: escapes and control characters out, whitespace runs to one space."""
    text = _ANSI.sub("", text)
    text = _SPACE.sub(" ", text)  # \v, \f, \x1c-\x1f count as whitespace here, not as junk
    return _CONTROL.sub("", text).strip()


def _clean_preformatted(text: str) -> str:
    """Code or preformatted text: keep line breaks, drop blank lines and trailing spaces."""
    lines = (_strip_controls(line.replace("\t", "    ")).rstrip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line.strip())


def _one_line(text: str) -> str:
    text = clean_inline(str(text))
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------------
# Building a document


class _Builder:
    """Collects blocks, tracking offsets into the joined text and the heading path."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._pos = 0
        self._stack: list[tuple[int, str]] = []  # (level, heading text)
        self.first_heading: str | None = None
        self.first_h1: str | None = None

    @property
    def path(self) -> str:
        return " > ".join(text for _, text in self._stack)

    def reset_headings(self, headings: Iterable[tuple[int, str]] = ()) -> None:
        self._stack = list(headings)

    def heading(self, text: str, level: int, page: int | None = None) -> None:
        text = clean_inline(text)
        if not text:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        if self.first_heading is None:
            self.first_heading = text
        if level <= 1 and self.first_h1 is None:
            self.first_h1 = text
        self._add(text, page, is_heading=True)

    def paragraph(self, text: str, page: int | None = None) -> None:
        text = clean_inline(text)
        if text:
            self._add(text, page)

    def preformatted(self, text: str, page: int | None = None) -> None:
        text = _clean_preformatted(text)
        if text:
            self._add(text, page)

    def paragraphs(self, text: str, page: int | None = None) -> None:
        """Text where blank lines separate paragraphs."""
        for part in _BLANK_LINES.split(_normalize_newlines(text)):
            self.paragraph(part, page)

    def _add(self, text: str, page: int | None, is_heading: bool = False) -> None:
        start = self._pos + (2 if self.blocks else 0)
        end = start + len(text)
        self.blocks.append(Block(text, start, end, page, self.path, is_heading))
        self._pos = end

    def build(
        self,
        fmt: str,
        title: str | None = None,
        topic: str | None = None,
        meta: dict[str, str] | None = None,
        empty_detail: str = "the file has no text",
    ) -> ParsedDocument:
        if not self.blocks:
            raise ParseError("empty", empty_detail)
        title = clean_inline(title or "") or self.first_h1
        topic = clean_inline(topic or "") or title or self.first_heading
        return ParsedDocument(
            text="\n\n".join(b.text for b in self.blocks),
            blocks=self.blocks,
            title=title,
            topic=topic,
            meta={"format": fmt, **(meta or {})},
        )


# --------------------------------------------------------------------------------------------
# Reading text files


# (magic, what it is, needs other binary evidence) -- the ASCII-looking ones could start a note.
_MAGIC: tuple[tuple[bytes, str, bool], ...] = (
    (b"\x7fELF", "an executable (ELF)", False),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", False),
    (b"\xff\xd8\xff", "a JPEG image", False),
    (b"GIF87a", "a GIF image", True),
    (b"GIF89a", "a GIF image", True),
    (b"PK\x03\x04", "a zip archive (docx/pptx/epub/odt?)", False),
    (b"%PDF-", "a PDF", False),
    (b"\x1f\x8b", "gzip-compressed data", False),
    (b"BZh", "bzip2-compressed data", True),
    (b"\xfd7zXZ\x00", "xz-compressed data", False),
    (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive", False),
    (b"Rar!\x1a\x07", "a RAR archive", False),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.ppt/.xls)", False),
    (b"SQLite format 3\x00", "an SQLite database", False),
    (b"MZ", "a Windows executable", True),
    (b"RIFF", "a media file (RIFF)", True),
    (b"OggS", "an Ogg media file", True),
    (b"ID3", "an MP3 file", True),
    (b"\x00\x00\x01\x00", "an icon file", False),
    (b"wOFF", "a web font", True),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Bytes that never appear in text (ESC, used by coloured logs, and \f, \b are tolerated).
_BINARY_BYTES = bytes(b for b in range(32) if b not in (7, 8, 9, 10, 12, 13, 27))
_SAMPLE = 64 * 1024
_AMBIGUOUS_WESTERN = ("mac_", "latin_1", "iso8859_1", "iso8859_15", "cp850", "cp437")


def _looks_like_utf16(sample: bytes) -> str | None:
    """utf-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    n = len(sample) - len(sample) % 2
    if n < 16:
        return None
    even, odd = sample[0:n:2], sample[1:n:2]
    half = n // 2
    if odd.count(0) > 0.8 * half and even.count(0) < 0.05 * half:
        return "utf-16-le"
    if even.count(0) > 0.8 * half and odd.count(0) < 0.05 * half:
        return "utf-16-be"
    return None


def _binary_kind(data: bytes) -> str | None:
    """Describe ``data`` if it is clearly not text, else None."""
    head = data[:_SAMPLE]
    control = sum(head.count(b) for b in _BINARY_BYTES)
    binaryish = head.count(0) > 0 or control > 0.1 * len(head)
    for magic, what, needs_evidence in _MAGIC:
        if head.startswith(magic) and (binaryish or not needs_evidence):
            return what
    if head.count(0) > max(4, 0.01 * len(head)) or control > 0.1 * len(head):
        return "binary data"
    return None


def _mostly_utf8(data: bytes) -> bool:
    """Valid UTF-8 with a handful of stray bytes (a pasted legacy character) is still UTF-8."""
    data = data[: 16 * _SAMPLE]
    decoded = data.decode("utf-8", errors="replace")
    bad = decoded.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    multibyte = sum(1 for ch in decoded if ord(ch) > 0x7F and ch != "\ufffd")
    return bad > 0 and multibyte >= 4 * bad


def read_text_file(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes; return ``(text, encoding)``.

    BOMs (UTF-8, UTF-16 and UTF-32) win; then UTF-8; then a legacy code page found by
    charset-normalizer (cp1252 preferred among Western ones). Raises ParseError "binary" for
    bytes that are not text and "undecodable" when no encoding makes sense of them.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(
                    "undecodable", f"the file starts with a {encoding} mark but is not {encoding}"
                ) from exc
            return _check_decoded(text), encoding + ("-sig" if encoding == "utf-8" else "")

    what = _binary_kind(data)
    if what is not None:
        utf16 = _looks_like_utf16(data[:_SAMPLE])
        if utf16 is None:
            raise ParseError("binary", f"this is {what}, not text")
        try:
            return _check_decoded(data.decode(utf16)), utf16
        except UnicodeDecodeError as exc:
            raise ParseError("binary", f"this is {what}, not text") from exc

    try:
        return _check_decoded(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return _check_decoded(data.decode("utf-8", errors="replace")), "utf-8 (repaired)"
    return _legacy_decode(data)


def _legacy_decode(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    undecodable = ParseError(
        "undecodable",
        "not UTF-8 and no text encoding fits; re-save it as UTF-8 text",
    )
    try:
        matches = list(from_bytes(data))
    except Exception as exc:  # charset-normalizer on pathological input
        raise undecodable from exc
    best = matches[0] if matches else None
    if best is None or best.chaos > 0.3:
        raise undecodable
    # Random high bytes "decode" as CJK with no chaos; real text has either ASCII in it
    # (spaces, digits, newlines) or, given a few lines, words charset-normalizer recognises.
    sample = data[:_SAMPLE]
    ascii_share = sum(1 for byte in sample if byte < 0x80) / max(len(sample), 1)
    if best.coherence == 0 and ascii_share < 0.3 and len(sample) >= 200:
        raise undecodable
    # Western text is often scored a near tie between cp1252 and cp1250 or a Mac code page;
    # teachers' legacy files are overwhelmingly cp1252, so it wins ties and ambiguous picks.
    encoding = best.encoding
    cp1252_close = any(
        match.encoding == "cp1252" and match.chaos <= best.chaos + 0.1 for match in matches
    )
    if encoding != "cp1252" and (cp1252_close or encoding.startswith(_AMBIGUOUS_WESTERN)):
        try:
            return _check_decoded(data.decode("cp1252")), "cp1252"
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise undecodable from exc
    return _check_decoded(text), encoding


def _check_decoded(text: str) -> str:
    """Reject decoded text that is mostly control characters (binary that happened to decode)."""
    sample = text[:_SAMPLE]
    if sample:
        controls = len(_CONTROL.findall(sample)) - sample.count("\ufeff")
        if controls > 0.1 * len(sample):
            raise ParseError("binary", "the file is mostly control characters, not text")
    return text


# --------------------------------------------------------------------------------------------
# Plain text, Markdown, CSV, RTF

_LIST_ITEM = re.compile(r"^\s{0,6}(?:[-*+\u2022\u2023\u25e6\u2043]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S")


def _split_lines_into_blocks(lines: list[str], builder: _Builder) -> None:
    """A paragraph's lines: list items become their own blocks, other lines join into one."""
    current: list[str] = []
    for line in lines:
        if _LIST_ITEM.match(line) and current:
            builder.paragraph(" ".join(current))
            current = []
        current.append(line)
    if current:
        builder.paragraph(" ".join(current))


def _parse_text(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    builder = _Builder()
    for para in _BLANK_LINES.split(_normalize_newlines(text)):
        _split_lines_into_blocks(para.split("\n"), builder)
    return builder.build("text", meta={"encoding": encoding})


_FRONT_MATTER_MAX = 64 * 1024
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_THEMATIC = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter off a Markdown text; return (scalar fields, rest)."""
    if not text.startswith("---\n"):
        return {}, text
    match = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4 : 4 + _FRONT_MATTER_MAX], re.M)
    if match is None:
        return {}, text
    raw = text[4 : 4 + match.start()]
    rest = text[4 + match.end() :]
    import yaml

    try:
        loaded = yaml.safe_load(raw)
    except Exception:  # bad YAML (or a YAML bomb): treat the block as ordinary text
        return {}, text
    if not isinstance(loaded, dict):
        return ({}, rest) if loaded is None else ({}, text)
    fields = {
        str(key): clean_inline(str(value))
        for key, value in loaded.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    return fields, rest


def _parse_markdown(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    fields, body = _front_matter(_normalize_newlines(text))
    body = _HTML_COMMENT.sub("", body)
    builder = _Builder()
    para: list[str] = []

    def flush() -> None:
        if para:
            _split_lines_into_blocks(para, builder)
            para.clear()

    lines = body.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            code: list[str] = []
            while i < len(lines) and not lines[i].lstrip().startswith(marker):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence
            builder.preformatted("\n".join(code))
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            builder.heading(atx.group(2) or "", len(atx.group(1)))
            continue
        if para and _SETEXT.match(line) and not _LIST_ITEM.match(para[-1]):
            level = 1 if line.strip().startswith("=") else 2
            heading = " ".join(para)
            para.clear()
            builder.heading(heading, level)
            continue
        stripped = line.strip()
        if not stripped or _THEMATIC.match(line):
            flush()
            continue
        if stripped.startswith("|"):
            flush()
            if not _TABLE_RULE.match(stripped):
                cells = [c.strip() for c in stripped.strip("|").split("|")]
                builder.paragraph(" | ".join(c for c in cells if c))
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ")
        para.append(stripped if not _LIST_ITEM.match(line) else line)
    flush()

    meta = {"encoding": encoding}
    if fields.get("category"):
        meta["category"] = fields["category"]
    return builder.build("markdown", fields.get("title"), fields.get("topic"), meta)


def _parse_csv(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    text = _normalize_newlines(text)
    builder = _Builder()
    try:
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                text[:8192], delimiters=",;\t|"
            )
        except csv.Error:
            dialect = csv.excel
        for row in csv.reader(io.StringIO(text), dialect):
            cells = [clean_inline(cell) for cell in row]
            builder.paragraph(" | ".join(cell for cell in cells if cell))
    except csv.Error:  # a field over csv's size limit, a stray quote: read it as plain text
        return _parse_text(data)
    return builder.build("csv", meta={"encoding": encoding})


def _parse_rtf(data: bytes) -> ParsedDocument:
    if not data.lstrip().startswith(b"{\\rtf"):
        raise ParseError("corrupt", "not an RTF file (no {\\rtf header)")
    try:
        from striprtf.striprtf import rtf_to_text
    except ImportError as exc:
        raise ParseError("unsupported", "RTF support needs the striprtf package") from exc
    match = re.search(rb"\\ansicpg(\d+)", data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "cp1252"
    text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    builder = _Builder()
    builder.paragraphs(text.replace("\n", "\n\n"))
    return builder.build("rtf", meta={"encoding": encoding})


# --------------------------------------------------------------------------------------------
# HTML and EPUB

_HTML_SKIP = frozenset(
    {
        "script",
        "style",
        "nav",
        "noscript",
        "template",
        "head",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "canvas",
        "select",
        "button",
        "textarea",
    }
)
_HTML_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def _decode_html(data: bytes) -> tuple[str, str]:
    if not any(data.startswith(bom) for bom, _ in _BOMS):
        match = _META_CHARSET.search(data[:4096])
        if match:
            declared = match.group(1).decode("ascii", "replace").lower()
            try:
                codec = codecs.lookup(declared).name
            except LookupError:
                codec = None
            if codec is not None and _binary_kind(data) is None:
                try:
                    return data.decode(codec), codec
                except UnicodeDecodeError:
                    pass  # the declaration lies: detect instead
    return read_text_file(data)


def _soup(markup: str) -> object:
    from bs4 import BeautifulSoup

    markup = _XML_DECL.sub("", markup, count=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return BeautifulSoup(markup, "lxml")
        except Exception:  # lxml missing or refusing the markup
            return BeautifulSoup(markup, "html.parser")


def _html_into(markup: str, builder: _Builder) -> str | None:
    """Walk an HTML document (iteratively: nesting depth is the attacker's) into ``builder``.

    Returns the ``<title>`` text, if any.
    """
    from bs4 import NavigableString, Tag
    from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

    skipped_strings = (Comment, Declaration, Doctype, ProcessingInstruction, CData)
    soup = _soup(markup)
    title_tag = soup.find("title")  # type: ignore[attr-defined]
    title = clean_inline(title_tag.get_text()) if isinstance(title_tag, Tag) else None

    buffer: list[str] = []
    state = {"pre": 0, "cell": 0}

    def flush(heading_level: int = 0) -> None:
        text = "".join(buffer)
        buffer.clear()
        if heading_level:
            builder.heading(text, heading_level)
        elif state["pre"]:
            builder.preformatted(text)
        else:
            for part in re.split(r"\n\s*\n", text):
                builder.paragraph(part)

    exit_marker = object()
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if node is exit_marker:
            tag = stack.pop()
            assert isinstance(tag, Tag)
            name = tag.name
            if name in _HTML_HEADINGS:
                flush(_HTML_HEADINGS[name])
            elif name in ("td", "th"):
                state["cell"] -= 1
            elif name in _HTML_BLOCK and (state["cell"] == 0 or name == "tr"):
                flush()
            if name == "pre":
                state["pre"] -= 1
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, skipped_strings):
                continue
            text = str(node)
            buffer.append(text if state["pre"] else _SPACE.sub(" ", text))
            continue
        if not isinstance(node, Tag):
            continue
        name = (node.name or "").lower()
        if name in _HTML_SKIP:
            continue
        if name == "br":
            buffer.append("\n")
            continue
        if name in _HTML_HEADINGS or (name in _HTML_BLOCK and state["cell"] == 0) or name == "tr":
            flush()
        elif name in ("td", "th"):
            if "".join(buffer).strip():
                buffer.append(" | ")
            state["cell"] += 1
        elif name in _HTML_BLOCK:
            buffer.append(" ")
        if name == "pre":
            state["pre"] += 1
        stack.append(node)
        stack.append(exit_marker)
        stack.extend(reversed(node.contents))
    flush()
    return title


def _parse_html(data: bytes) -> ParsedDocument:
    markup, encoding = _decode_html(data)
    builder = _Builder()
    title = _html_into(markup, builder)
    return builder.build(
        "html", title, meta={"encoding": encoding}, empty_detail="the page has no visible text"
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ParseError("corrupt", f"{what} is not valid XML ({exc})") from exc


def _parse_epub(data: bytes) -> ParsedDocument:
    archive = _open_zip(data, "EPUB")
    names = set(archive.namelist())
    opf_path = None
    if "META-INF/container.xml" in names:
        container = _xml(_read_member(archive, "META-INF/container.xml"), "container.xml")
        for el in container.iter():
            if _local(el.tag) == "rootfile" and el.get("full-path"):
                opf_path = el.get("full-path")
                break
    if opf_path is None or opf_path not in names:
        candidates = sorted(n for n in names if n.lower().endswith(".opf"))
        if not candidates:
            raise ParseError("corrupt", "not a valid EPUB: no container.xml and no package (.opf)")
        opf_path = candidates[0]
    opf = _xml(_read_member(archive, opf_path), opf_path)
    base = posixpath.dirname(opf_path)

    title = None
    manifest: dict[str, str] = {}
    spine: list[str] = []
    for el in opf.iter():
        tag = _local(el.tag)
        if tag == "title" and title is None and (el.text or "").strip():
            title = el.text
        elif tag == "item" and el.get("id") and el.get("href"):
            manifest[el.get("id", "")] = el.get("href", "")
        elif tag == "itemref" and el.get("idref"):
            spine.append(el.get("idref", ""))

    builder = _Builder()
    missing = 0
    for idref in spine:
        href = manifest.get(idref)
        member = (
            posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0]))) if href else ""
        )
        if member not in names:
            missing += 1
            continue
        markup, _ = _decode_html(_read_member(archive, member))
        builder.reset_headings()
        _html_into(markup, builder)
    if not spine or missing == len(spine):
        raise ParseError("corrupt", "the EPUB's reading order points at no chapter that exists")
    meta = {"chapters": str(len(spine) - missing)}
    if missing:
        meta["missing_chapters"] = str(missing)
    return builder.build("epub", title, meta=meta, empty_detail="the book has no text")


# --------------------------------------------------------------------------------------------
# Zip-based office formats


def _open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError("corrupt", f"not a valid {what} file (damaged zip: {exc})") from exc
    limit = _ZIP_LIMIT.get()
    total = sum(info.file_size for info in infos)
    if total > limit:
        raise ParseError(
            "huge",
            f"the {what} unpacks to {total // 2**20} MB, over the {limit // 2**20} MB limit",
        )
    for info in infos:
        if info.file_size > ZIP_BOMB_MEMBER_BYTES and info.file_size > ZIP_BOMB_RATIO * max(
            info.compress_size, 1
        ):
            raise ParseError(
                "huge",
                f"{info.filename} would unpack from {info.compress_size // 1024} KB to "
                f"{info.file_size // 2**20} MB; refusing a likely zip bomb",
            )
    return archive


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError as exc:
        raise ParseError("corrupt", f"the archive has no {name}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ParseError("corrupt", f"damaged archive member {name} ({exc})") from exc


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


def _parse_docx(data: bytes) -> ParsedDocument:
    archive = _open_zip(data, "Word (.docx)")
    if "word/document.xml" not in archive.namelist():
        raise ParseError("corrupt", "not a valid .docx: word/document.xml is missing")
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    builder = _Builder()
    first_title = None
    content: Iterable[object]
    if hasattr(document, "iter_inner_content"):
        content = document.iter_inner_content()
    else:  # python-docx < 1.0
        content = document.paragraphs
    for item in content:
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


def _parse_pptx(data: bytes) -> ParsedDocument:
    _open_zip(data, "PowerPoint (.pptx)")
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    builder = _Builder()
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
        tag = _local(node.tag)
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


def _parse_odt(data: bytes) -> ParsedDocument:
    archive = _open_zip(data, "OpenDocument (.odt)")
    if "content.xml" not in archive.namelist():
        raise ParseError("corrupt", "not a valid .odt: content.xml is missing")
    root = _xml(_read_member(archive, "content.xml"), "content.xml")
    title = None
    if "meta.xml" in archive.namelist():
        try:
            meta_root = ET.fromstring(_read_member(archive, "meta.xml"))
            for el in meta_root.iter():
                if _local(el.tag) == "title" and (el.text or "").strip():
                    title = el.text
                    break
        except ET.ParseError:
            pass

    builder = _Builder()
    body = root.find(f".//{{{_ODF_OFFICE}}}text")
    stack: list[ET.Element] = list(reversed(list(body))) if body is not None else []
    while stack:
        el = stack.pop()
        tag = _local(el.tag)
        if tag == "h":
            level = el.get(f"{{{_ODF_TEXT}}}outline-level", "1")
            builder.heading(_odf_inline(el), int(level) if level.isdigit() else 1)
        elif tag == "p":
            builder.paragraph(_odf_inline(el))
        elif tag == "table-row" and el.tag.startswith(f"{{{_ODF_TABLE}}}"):
            cells = []
            for cell in el:
                if _local(cell.tag) == "table-cell":
                    cells.append(clean_inline(" ".join(_odf_inline(p) for p in cell)))
            builder.paragraph(" | ".join(c for c in cells if c))
        elif tag not in ("sequence-decls", "tracked-changes", "forms", "annotation", "note"):
            stack.extend(reversed(list(el)))
    return builder.build("odt", title, empty_detail="the document has no text")


# --------------------------------------------------------------------------------------------
# PDF

_PDF_BULLET = re.compile(r"^(?:[\u2022\u25cf\u25aa\u2013\u2014*-]|\d{1,3}[.)])\s")
_PDF_TITLE_NOISE = re.compile(r"^(?:Microsoft (?:Word|PowerPoint) - |untitled$)", re.I)


def _pdf_paragraphs(page_text: str) -> list[str]:
    """Regroup pypdf's lines into paragraphs: a short line ending a sentence ends a paragraph."""
    lines = [line.strip() for line in _normalize_newlines(page_text).split("\n")]
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


def _parse_pdf(data: bytes) -> ParsedDocument:
    if b"%PDF-" not in data[:1024]:
        raise ParseError("corrupt", "not a PDF file (no %PDF header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

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
    pages = len(reader.pages)
    if pages == 0:
        raise ParseError("corrupt", "the PDF has no pages")

    outline = sorted(_pdf_outline(reader, pages), key=lambda entry: entry[0])
    builder = _Builder()
    failed = 0
    next_entry = 0
    for index, page in enumerate(reader.pages):
        headings = []
        while next_entry < len(outline) and outline[next_entry][0] <= index:
            headings.append(outline[next_entry])
            next_entry += 1
        if headings:
            stack = [(level, text) for level, text in builder._stack]
            for _, depth, text in headings:
                while stack and stack[-1][0] >= depth:
                    stack.pop()
                stack.append((depth, text))
            builder.reset_headings(stack)
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


# --------------------------------------------------------------------------------------------
# The format table and the entry point

_FORMATS: dict[str, Callable[[bytes], ParsedDocument]] = {
    ".txt": _parse_text,
    ".text": _parse_text,
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".pdf": _parse_pdf,
    ".docx": _parse_docx,
    ".pptx": _parse_pptx,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".xhtml": _parse_html,
    ".epub": _parse_epub,
    ".odt": _parse_odt,
    ".csv": _parse_csv,
    ".rtf": _parse_rtf,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError as exc:
        raise ParseError("vanished", f"{path.name} no longer exists (moved or deleted?)") from exc
    except PermissionError as exc:
        raise ParseError("unreadable", f"no permission to read {path.name}") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ParseError(
                "symlink-loop", f"{path.name} is a link that points back to itself"
            ) from exc
        if exc.errno == errno.ENAMETOOLONG:
            raise ParseError("unreadable", "the path is too long") from exc
        raise ParseError("unreadable", f"cannot read {path.name} ({exc.strerror})") from exc


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise ParseError("vanished", f"{path.name} disappeared while being read") from exc
    except PermissionError as exc:
        raise ParseError(
            "unreadable", f"no permission to read {path.name}; check its permissions"
        ) from exc
    except IsADirectoryError as exc:
        raise ParseError("unreadable", f"{path.name} is a folder, not a file") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ParseError(
                "symlink-loop", f"{path.name} is a link that points back to itself"
            ) from exc
        raise ParseError("unreadable", f"cannot read {path.name} ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise ParseError(
            "huge", f"{path.name} grew past the {_mb(max_bytes)} limit while being read"
        )
    return data


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"


def parse_bytes(data: bytes, suffix: str, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse a file's contents given its suffix (".pdf", ".md", ...); errors as for parse_file."""
    parser = _FORMATS.get(suffix.lower())
    if parser is None:
        raise ParseError(
            "unsupported", f"{suffix or 'files without a suffix'} files are not supported"
        )
    if len(data) > max_bytes:
        raise ParseError("huge", f"{_mb(len(data))} is over the {_mb(max_bytes)} limit")
    if not data.strip():
        raise ParseError(
            "empty", "the file is empty" if not data else "the file is only whitespace"
        )
    token = _ZIP_LIMIT.set(ZIP_EXPANSION_FACTOR * max_bytes)
    try:
        document = parser(data)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError("corrupt", "the file is nested too deeply to read") from exc
    except MemoryError as exc:
        raise ParseError("huge", "the file needs more memory than is available") from exc
    except (zipfile.BadZipFile, KeyError, EOFError) as exc:
        raise ParseError("corrupt", f"damaged file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # any library's idea of a bad file
        raise ParseError(
            "corrupt", f"could not read the file ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        _ZIP_LIMIT.reset(token)
    if not document.text.strip():
        raise ParseError("empty", "the file has no text")
    return document


def parse_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Read and parse one file.

    Never raises anything but :class:`ParseError` for a bad file: the reason says which kind of
    bad ("corrupt", "encrypted", "empty", "binary", "huge", "undecodable", "unreadable",
    "vanished", "symlink-loop", "unsupported") and the message what to do.
    """
    path = Path(path)
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise ParseError("unreadable", f"{path.name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ParseError("unreadable", f"{path.name} is not a regular file (a pipe or device?)")
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ParseError(
            "unsupported", f"{suffix or 'files without a suffix'} files are not supported"
        )
    if info.st_size > max_bytes:
        raise ParseError(
            "huge", f"{_mb(info.st_size)} is over the {_mb(max_bytes)} limit; split the file"
        )
    return parse_bytes(_read(path, max_bytes), suffix, max_bytes)
