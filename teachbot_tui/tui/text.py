"""Text is text: show document and model text literally, never as markup or escapes.

Two dangers, two defences:

* **Markup.** Textual and Rich interpret ``[bold]``, ``[link=...]`` and ``[@click=...]`` in
  strings handed to most widgets. The app never builds markup from data: it wraps data in
  :class:`textual.content.Content` (see :func:`literal` and :func:`literal_line`), which is
  plain text plus spans.
* **Terminal control sequences.** ANSI/OSC escapes (colours, hyperlinks, OSC 52 clipboard
  writes, title changes), carriage returns and backspaces that overwrite what is on screen,
  bidi overrides that reorder it and zero-width characters that hide text. :func:`safe_text`
  turns C0/C1 controls into visible Unicode "control pictures" (ESC becomes ``␛``), so an
  escape sequence shows up as harmless text, and drops invisible formatting characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.content import Content

# Invisible "format" characters (Unicode category Cf) that reorder or hide text: bidi
# embeddings/overrides/isolates and marks, zero-width spaces and joiners, word joiner,
# invisible operators, BOM, interlinear annotations, tag characters. ZWNJ (U+200C) and
# ZWJ (U+200D) stay: scripts and emoji need them, and they cannot reorder or hide text.
_CF_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)

REPLACEMENT = "\ufffd"


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x20):
        if code not in (0x09, 0x0A):  # tab and newline are text
            table[code] = chr(0x2400 + code)  # ␀ … ␟ (ESC -> ␛, BEL -> ␇, BS -> ␈)
    table[0x0D] = "\n"  # a bare carriage return must not overwrite the line
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):  # C1 controls, including CSI (0x9B) and OSC (0x9D)
        table[code] = REPLACEMENT
    table[0x85] = "\n"  # NEL
    table[0x2028] = "\n"  # line separator
    table[0x2029] = "\n"  # paragraph separator
    for start, end in _CF_RANGES:
        for code in range(start, end + 1):
            table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates cannot be encoded to the terminal
        table[code] = REPLACEMENT
    return table


_TABLE = _build_table()
_LINE_TABLE = {**_TABLE, 0x0A: " ", 0x09: " ", 0x0D: " ", 0x85: " ", 0x2028: " ", 0x2029: " "}


def safe_text(text: object) -> str:
    """Return ``text`` with every terminal control neutralised, ready to show literally.

    Newlines and tabs are kept; CRLF and bare CR become newlines; other C0/C1 controls
    become visible control pictures (``\\x1b[31m`` shows as ``␛[31m``); bidi and zero-width
    format characters are removed. Markup is *not* escaped here: wrap the result in
    :func:`literal` (a ``Content``), which never parses markup.
    """
    s = text if isinstance(text, str) else str(text)
    if "\r" in s:
        s = s.replace("\r\n", "\n")
    return s.translate(_TABLE)


def safe_line(text: object, limit: int | None = None) -> str:
    """:func:`safe_text` folded onto one line (titles, file names, list items)."""
    s = text if isinstance(text, str) else str(text)
    s = " ".join(s.translate(_LINE_TABLE).split())
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)].rstrip() + "…"
    return s


def storable(text: str) -> str:
    """``text`` with lone surrogates replaced, so it can be written as UTF-8 (SQLite, files).
    Unlike :func:`safe_text` it keeps everything else exactly: stored text stays the data."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def literal(text: object, style: str = "") -> Content:
    """A ``Content`` showing ``text`` exactly as written (no markup, no escapes)."""
    from textual.content import Content

    return Content.styled(safe_text(text), style) if style else Content(safe_text(text))


def literal_line(text: object, style: str = "", limit: int | None = None) -> Content:
    """Like :func:`literal`, on one line."""
    from textual.content import Content

    s = safe_line(text, limit)
    return Content.styled(s, style) if style else Content(s)


def shorten(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` terminal cells at a word boundary, ending with ``ellipsis``.

    Text that fits is returned unchanged. A first word longer than ``width`` is cut inside
    the word (there is no boundary to cut at). Widths are terminal cells (wide characters
    count two)."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    room = width - cell_len(ellipsis)
    if room <= 0:
        return ellipsis[:width]
    head = set_cell_size(text, room + 1)  # one more cell: is the cut on a space?
    if head[-1:].isspace():
        cut = head.rstrip()
    else:
        head = head[:-1] if cell_len(head) > room else head
        space = head.rfind(" ")
        cut = head[:space].rstrip() if space > 0 else head.rstrip()
    return cut.rstrip(" ,;:-–—·") + ellipsis


def fitting(candidates: tuple[str, ...] | list[str], width: int) -> str:
    """The first of ``candidates`` (longest first) that fits ``width`` cells; else the last,
    shortened."""
    from rich.cells import cell_len

    for text in candidates:
        if cell_len(text) <= width:
            return text
    return shorten(candidates[-1], width) if candidates else ""
