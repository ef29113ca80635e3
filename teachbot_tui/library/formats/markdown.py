"""Markdown: headings (ATX and setext), fences, tables, lists and YAML front matter."""

from __future__ import annotations

import re

from .core import Builder, ParsedDocument, clean_inline, normalize_newlines
from .plaintext import LIST_ITEM, read_text_file, split_lines_into_blocks

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


def parse_markdown(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    fields, body = _front_matter(normalize_newlines(text))
    body = _HTML_COMMENT.sub("", body)
    builder = Builder()
    para: list[str] = []

    def flush() -> None:
        if para:
            split_lines_into_blocks(para, builder)
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
        if para and _SETEXT.match(line) and not LIST_ITEM.match(para[-1]):
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
        para.append(stripped if not LIST_ITEM.match(line) else line)
    flush()

    meta = {"encoding": encoding}
    if fields.get("category"):
        meta["category"] = fields["category"]
    return builder.build("markdown", fields.get("title"), fields.get("topic"), meta)


PARSERS = {".md": parse_markdown, ".markdown": parse_markdown}
