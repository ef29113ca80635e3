"""HTML pages: visible text in reading order, headings as headings, table rows as blocks.

:func:`html_into` is shared with EPUB, whose chapters are XHTML.
"""

from __future__ import annotations

import codecs
import re
import warnings

from .core import SPACE, Builder, ParsedDocument, clean_inline
from .plaintext import BOMS, binary_kind, read_text_file

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


def decode_html(data: bytes) -> tuple[str, str]:
    if not any(data.startswith(bom) for bom, _ in BOMS):
        match = _META_CHARSET.search(data[:4096])
        if match:
            declared = match.group(1).decode("ascii", "replace").lower()
            try:
                codec = codecs.lookup(declared).name
            except LookupError:
                codec = None
            if codec is not None and binary_kind(data) is None:
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


def html_into(markup: str, builder: Builder) -> str | None:
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
            buffer.append(text if state["pre"] else SPACE.sub(" ", text))
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


def parse_html(data: bytes) -> ParsedDocument:
    markup, encoding = decode_html(data)
    builder = Builder()
    title = html_into(markup, builder)
    return builder.build(
        "html", title, meta={"encoding": encoding}, empty_detail="the page has no visible text"
    )


PARSERS = {".html": parse_html, ".htm": parse_html, ".xhtml": parse_html}
