"""Text is text: document, model and exception text shown and stored literally.

One definition of what a terminal control is (escape sequences, C0/C1 controls, bidi
overrides, BOMs, lone surrogates), and the policies built on it:

* :func:`clean_inline` and :func:`clean_block`: document text at import. Escapes and controls
  are removed; inline text has its whitespace folded to single spaces.
* :func:`strip_controls`: command-line output on a terminal. Escapes and controls are removed;
  newlines and tabs stay.
* :func:`safe_text` and :func:`safe_line`: the app. Controls become visible "control pictures"
  (ESC shows as ``␛``), so an escape sequence shows up as harmless text; invisible format
  characters that reorder or hide text are dropped. The app wraps the result in a Textual
  ``Content`` (``tui/text.py``), which never parses markup.
* :func:`storable`: text written as UTF-8 (SQLite, files), otherwise kept exactly.
* :func:`one_line`: an exception or message as one line for an error report.

A document or a model can never move the cursor, retitle the window, write the clipboard or
fake a hyperlink through any of these.
"""

from __future__ import annotations

import re

# Escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes, 8-bit CSI) are
# removed whole, so that "\x1b]8;;http://evil\x07" leaves no half-sequence behind.
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 controls except \t and \n, DEL, C1 controls, bidi embeddings/overrides/isolates, BOM
# (zero-width no-break space) and lone surrogates.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_controls(text: str) -> str:
    """Remove escape sequences and control characters; keep \\n and \\t; \\r becomes \\n."""
    return CONTROLS.sub("", ESCAPES.sub("", normalize_newlines(text)))


def clean_inline(text: str) -> str:
    """One paragraph's text: escapes and control characters out, whitespace runs to one space."""
    text = ESCAPES.sub("", text)
    text = _SPACE.sub(" ", text)  # \v, \f, \x1c-\x1f count as whitespace here, not as junk
    return CONTROLS.sub("", text).strip()


def clean_block(text: str) -> str:
    """Code or preformatted text: line breaks kept, tabs to four spaces, blank lines and
    trailing spaces dropped."""
    lines = (
        CONTROLS.sub("", ESCAPES.sub("", line.replace("\t", "    "))).rstrip()
        for line in text.split("\n")
    )
    return "\n".join(line for line in lines if line.strip())


def one_line(message: object, limit: int | None = 300) -> str:
    """An exception (its first line, or its type when it says nothing) or a message, cleaned
    and folded onto one line, cut to ``limit`` characters."""
    if isinstance(message, OSError) and message.strerror:
        text = f"{message.filename}: {message.strerror}" if message.filename else message.strerror
    elif isinstance(message, BaseException):
        text = str(message).strip()
        text = text.splitlines()[0] if text else type(message).__name__
    else:
        text = str(message)
    text = clean_inline(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def storable(text: str) -> str:
    """``text`` with lone surrogates replaced, so it can be written as UTF-8 (SQLite, files).
    Unlike :func:`safe_text` it keeps everything else exactly: stored text stays the data."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text



def slug(title: str, limit: int = 64) -> str:
    """``title`` as lowercase ASCII letters and digits joined by single hyphens, at most
    ``limit`` characters (for ids and file names); empty when it has none."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:limit].rstrip("-")

# -- sentences ------------------------------------------------------------------------------

# A sentence ends at . ! ? or an ellipsis (plus closing quotes/brackets) before whitespace, or
# at a line break.
SENTENCE_END = re.compile(r"[.!?\u2026\u3002]+[\"'\u201d\u2019)\]]*\s+|\n+")


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end] as trimmed (start, end) spans.

    A full stop followed by a lower-case word ("e.g. the") does not end a sentence.
    """
    spans: list[tuple[int, int]] = []
    pos = start
    for match in SENTENCE_END.finditer(text, start, end):
        after = match.end()
        if after < end and text[after].islower() and "\n" not in match.group():
            continue
        span = trim_span(text, pos, after)
        if span[0] < span[1]:
            spans.append(span)
        pos = after
    span = trim_span(text, pos, end)
    if span[0] < span[1]:
        spans.append(span)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, trimmed (see :func:`sentence_spans`)."""
    return [text[start:end] for start, end in sentence_spans(text, 0, len(text))]


# -- the app's policy: controls made visible ----------------------------------------------

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
    format characters are removed. Markup is *not* escaped here: show the result through a
    widget that never parses markup (``tui.text.literal``).
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
