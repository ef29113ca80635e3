"""Plain text files, and the decoding every text-based format shares.

:func:`read_text_file` finds the encoding (BOM, UTF-8, then a legacy code page) and refuses
bytes that are not text at all; Markdown, CSV and HTML read their bytes through it.
"""

from __future__ import annotations

import codecs
import re

from ...text import CONTROLS, normalize_newlines
from .core import BLANK_LINES, Builder, ParsedDocument, ParseError

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
BOMS: tuple[tuple[bytes, str], ...] = (
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


def binary_kind(data: bytes) -> str | None:
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
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(
                    "undecodable", f"the file starts with a {encoding} mark but is not {encoding}"
                ) from exc
            return _check_decoded(text), encoding + ("-sig" if encoding == "utf-8" else "")

    what = binary_kind(data)
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
        controls = len(CONTROLS.findall(sample)) - sample.count("\ufeff")
        if controls > 0.1 * len(sample):
            raise ParseError("binary", "the file is mostly control characters, not text")
    return text


LIST_ITEM = re.compile(r"^\s{0,6}(?:[-*+\u2022\u2023\u25e6\u2043]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S")


def split_lines_into_blocks(lines: list[str], builder: Builder) -> None:
    """A paragraph's lines: list items become their own blocks, other lines join into one."""
    current: list[str] = []
    for line in lines:
        if LIST_ITEM.match(line) and current:
            builder.paragraph(" ".join(current))
            current = []
        current.append(line)
    if current:
        builder.paragraph(" ".join(current))


def parse_text(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    builder = Builder()
    for para in BLANK_LINES.split(normalize_newlines(text)):
        split_lines_into_blocks(para.split("\n"), builder)
    return builder.build("text", meta={"encoding": encoding})


PARSERS = {".txt": parse_text, ".text": parse_text}
