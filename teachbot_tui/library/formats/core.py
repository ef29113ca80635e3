"""What every format shares: the parsed document, its errors, the block builder and the size
and zip policies.

A parser takes a file's bytes and fills a :class:`Builder`, which keeps the character offsets
and the heading path right, then calls :meth:`Builder.build`. Every way a file can be bad ends
in one :class:`ParseError` whose ``reason`` is a short machine word and whose message is one
line a teacher can act on.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from ...text import clean_block, clean_inline, normalize_newlines, one_line

MAX_FILE_BYTES = 200 * 1024 * 1024

# A zip (docx, pptx, epub, odt) may unpack to at most this many times max_bytes, and no single
# member may be a large, absurdly compressed blob: both are the shape of a zip bomb.
ZIP_EXPANSION_FACTOR = 4
ZIP_BOMB_MEMBER_BYTES = 16 * 1024 * 1024
ZIP_BOMB_RATIO = 100

# The unpack limit for zips follows the caller's max_bytes; a ContextVar carries it down to
# open_zip without threading it through every parser.
ZIP_LIMIT: ContextVar[int] = ContextVar("ZIP_LIMIT", default=ZIP_EXPANSION_FACTOR * MAX_FILE_BYTES)

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
        "symlink-outside",
        "changed",
        "unsupported",
    }
)


class ParseError(Exception):
    """A file that cannot be turned into text; ``str(exc)`` is ``"reason: detail"`` on one line."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown parse-error reason {reason!r}")
        self.reason = reason
        self.detail = one_line(detail)
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


# Document text is cleaned by the shared literal-text policy (teachbot_tui.text).
SPACE = re.compile(r"\s+")
BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


# --------------------------------------------------------------------------------------------
# Building a document


class Builder:
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

    @property
    def headings(self) -> list[tuple[int, str]]:
        """The open headings, outermost first, as (level, text)."""
        return list(self._stack)

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
        text = clean_block(text)
        if text:
            self._add(text, page)

    def paragraphs(self, text: str, page: int | None = None) -> None:
        """Text where blank lines separate paragraphs."""
        for part in BLANK_LINES.split(normalize_newlines(text)):
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
# Zip archives (docx, pptx, odt, epub) and their XML


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError("corrupt", f"not a valid {what} file (damaged zip: {exc})") from exc
    limit = ZIP_LIMIT.get()
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


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError as exc:
        raise ParseError("corrupt", f"the archive has no {name}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ParseError("corrupt", f"damaged archive member {name} ({exc})") from exc


def local_name(tag: str) -> str:
    """An XML tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def parse_xml(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ParseError("corrupt", f"{what} is not valid XML ({exc})") from exc
